package bundle

import (
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/ratelimit"
)

// pacingManifest is validManifest with egress to api.pigeon.test and one
// pacing rule for it; each test case breaks one thing about that rule.
func pacingManifest() *Manifest {
	m := validManifest()
	m.Permissions.External.Fetch.Backend = append(m.Permissions.External.Fetch.Backend, Backend{Address: "api.pigeon.test"})
	m.Permissions.External.Fetch.Pacing = []PacingRule{{
		Host:   "api.pigeon.test",
		Method: "POST",
		Path:   "/v1/{account}/send",
		When:   map[string]PacingMatch{"param.to": {NotPrefix: []string{"#"}}},
		Key:    []string{"path.account", "param.to"},
		Rate:   &Rate{Requests: 2, Per: "1s"},
		TooManyRequests: TooManyRequests{
			RetryAfterField: "wait", RetryAfter: "1s", Body: `{"error":"slow down","wait":{seconds}}`,
		},
	}}
	return m
}

func TestValidate_EnforcesEveryPacingRule(t *testing.T) {
	if err := pacingManifest().Validate(); err != nil {
		t.Fatalf("base manifest: %v", err)
	}
	const f = "permissions.external.fetch.pacing[0]"
	tests := []struct {
		name string
		edit func(r *PacingRule, m *Manifest)
		want string
	}{
		{"host required", func(r *PacingRule, _ *Manifest) { r.Host = "" }, f + ".host is required"},
		{"host an egress host", func(r *PacingRule, _ *Manifest) { r.Host = "api.other.test" },
			f + `.host "api.other.test" is not an egress host of permissions.external.fetch.backend`},
		{"host a host name", func(r *PacingRule, _ *Manifest) { r.Host = "https://api.pigeon.test" }, f + `.host "https://api.pigeon.test" must be a host name without a scheme`},
		{"host not matched by a wildcard it does not repeat", func(r *PacingRule, _ *Manifest) { r.Host = "*.pigeon.test" },
			f + `.host "*.pigeon.test" is not an egress host`},
		{"method known", func(r *PacingRule, _ *Manifest) { r.Method = "SEND" }, f + `.method "SEND" is not one of GET, HEAD, POST`},
		{"path starts with /", func(r *PacingRule, _ *Manifest) { r.Path = "v1/{account}" }, f + `.path "v1/{account}" must start with /`},
		{"path without empty segments", func(r *PacingRule, _ *Manifest) { r.Path = "/v1//{account}" }, "has an empty segment"},
		{"path braces closed", func(r *PacingRule, _ *Manifest) { r.Path = "/v1/{account/send" }, `segment "{account" must hold one {name} at most`},
		{"path one capture a segment", func(r *PacingRule, _ *Manifest) { r.Path = "/v1/{a}{b}/send" }, "must hold one {name} at most"},
		{"path capture named", func(r *PacingRule, _ *Manifest) { r.Path = "/v1/{}/send" }, "capture {} must be a name"},
		{"path captures distinct", func(r *PacingRule, _ *Manifest) { r.Path = "/{account}/{account}" }, "captures {account} twice"},
		{"path without query", func(r *PacingRule, _ *Manifest) { r.Path = "/v1/{account}/send?x=1" }, "without a query"},
		{"key names a capture", func(r *PacingRule, _ *Manifest) { r.Key = []string{"path.user"} }, f + `.key[0] "path.user" names no capture of the rule's path`},
		{"key of a known source", func(r *PacingRule, _ *Manifest) { r.Key = []string{"body.to"} }, f + `.key[0] "body.to" is not path.<capture>, param.<name> or header.<Name>`},
		{"key param named", func(r *PacingRule, _ *Manifest) { r.Key = []string{"param.a b"} }, "is not a parameter name"},
		{"key header named", func(r *PacingRule, _ *Manifest) { r.Key = []string{"header.X_Token"} }, "is not a header name"},
		{"key values distinct", func(r *PacingRule, _ *Manifest) { r.Key = []string{"param.to", "param.to"} }, f + `.key[1] "param.to" is listed twice`},
		{"when names a value", func(r *PacingRule, _ *Manifest) { r.When = map[string]PacingMatch{"to": {In: []string{"x"}}} }, f + `.when.to "to" is not path.<capture>`},
		{"when sets a condition", func(r *PacingRule, _ *Manifest) { r.When = map[string]PacingMatch{"param.to": {}} }, f + ".when.param.to sets none of in, notIn, prefix, notPrefix"},
		{"when entries not empty", func(r *PacingRule, _ *Manifest) { r.When = map[string]PacingMatch{"param.to": {Prefix: []string{""}}} }, f + `.when.param.to.prefix "" must be 1 to 256 bytes`},
		{"rate requests at least 1", func(r *PacingRule, _ *Manifest) { r.Rate.Requests = 0 }, f + ".rate.requests 0 is out of range 1..1000000"},
		{"rate per required", func(r *PacingRule, _ *Manifest) { r.Rate.Per = "" }, f + ".rate.per is required"},
		{"rate per a duration", func(r *PacingRule, _ *Manifest) { r.Rate.Per = "second" }, f + `.rate.per "second" is not a duration`},
		{"rate per not negative", func(r *PacingRule, _ *Manifest) { r.Rate.Per = "-1s" }, f + `.rate.per "-1s" is out of range 1ms..24h0m0s`},
		{"rate per at most a day", func(r *PacingRule, _ *Manifest) { r.Rate.Per = "25h" }, "out of range 1ms..24h0m0s"},
		{"burst within the interval's requests", func(r *PacingRule, _ *Manifest) { r.Rate.Burst = 3 }, f + ".rate.burst 3 is out of range 1..2"},
		{"burst not negative", func(r *PacingRule, _ *Manifest) { r.Rate.Burst = -1 }, f + ".rate.burst -1"},
		{"retryAfterField a member path", func(r *PacingRule, _ *Manifest) { r.TooManyRequests.RetryAfterField = "$.wait" }, f + `.tooManyRequests.retryAfterField "$.wait" is not a dotted path`},
		{"retryAfter a duration", func(r *PacingRule, _ *Manifest) { r.TooManyRequests.RetryAfter = "1" }, f + `.tooManyRequests.retryAfter "1" is not a duration`},
		{"retryAfter at most 15 minutes", func(r *PacingRule, _ *Manifest) { r.TooManyRequests.RetryAfter = "1h" }, "out of range 1ms..15m0s"},
		{"body JSON", func(r *PacingRule, _ *Manifest) { r.TooManyRequests.Body = `{"wait":{seconds}` }, f + `.tooManyRequests.body "{\"wait\":{seconds}" is not JSON`},
		{"body not too long", func(r *PacingRule, _ *Manifest) { r.TooManyRequests.Body = `"` + strings.Repeat("x", 5000) + `"` }, "is longer than 4096 bytes"},
		{"at most 100 rules", func(r *PacingRule, m *Manifest) {
			for range ratelimit.MaxRules {
				m.Permissions.External.Fetch.Pacing = append(m.Permissions.External.Fetch.Pacing, *r)
			}
		}, "permissions.external.fetch.pacing has 101 rules, at most 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pacingManifest()
			r := &m.Permissions.External.Fetch.Pacing[0]
			rate := *r.Rate
			r.Rate = &rate
			tt.edit(r, m)
			err := m.Validate()
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v\nwant ErrInvalidManifest containing %q", err, tt.want)
			}
			if _, perr := m.Pacing(); perr == nil {
				t.Error("Pacing compiled rules that do not validate")
			}
		})
	}
}

func TestParseManifest_NamesUnknownPacingFields(t *testing.T) {
	head := "app: {id: \"ari:cloud:ecosystem::app/x\"}\npermissions:\n  external:\n    fetch:\n      backend: [{address: api.pigeon.test}]\n      pacing:\n"
	for _, tt := range []struct{ name, rule, want string }{
		{"rule", "        - {host: api.pigeon.test, every: 1s}\n", `line 7: unknown field "every" in permissions.external.fetch.pacing[]`},
		{"rate", "        - {host: api.pigeon.test, rate: {requests: 1, per: 1s, window: 2}}\n", `unknown field "window" in permissions.external.fetch.pacing[].rate`},
		{"when", "        - {host: api.pigeon.test, when: {param.to: {startsWith: [a]}}}\n", `unknown field "startsWith" in permissions.external.fetch.pacing[].when`},
		{"tooManyRequests", "        - {host: api.pigeon.test, tooManyRequests: {status: 429}}\n", `unknown field "status" in permissions.external.fetch.pacing[].tooManyRequests`},
		{"requests a number", "        - {host: api.pigeon.test, rate: {requests: many, per: 1s}}\n", "cannot unmarshal !!str `many` into int"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(head + tt.rule))
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant containing %q", err, tt.want)
			}
		})
	}
}

// TestPacing_CompilesTheDeclaredRules: what a manifest declares is what the
// host paces by: the rate becomes the spacing and burst of the rule's key,
// counted per the declared values, and the declared answers are spoken.
func TestPacing_CompilesTheDeclaredRules(t *testing.T) {
	data := []byte(`app: {id: "ari:cloud:ecosystem::app/x"}
permissions:
  external:
    fetch:
      backend: [{address: api.pigeon.test}, {address: "*.pigeon.test"}]
      pacing:
        - host: api.pigeon.test
          method: post
          path: /v1/{account}/send
          key: [path.account, param.to]
          rate: {requests: 4, per: 1s, burst: 2}
          tooManyRequests: {body: '{"wait":{seconds}}'}
        - host: "*.pigeon.test"
          key: [header.X-Account]
          rate: {requests: 1, per: 1m}
`)
	m, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	table, err := m.Pacing()
	if err != nil || table.Len() != 2 {
		t.Fatalf("Pacing = %d rules, %v", table.Len(), err)
	}
	u, _ := url.Parse("https://api.pigeon.test/v1/acme/send")
	d := table.For("inst", "POST", u, http.Header{"Content-Type": {"application/json"}}, []byte(`{"to":"alice"}`))
	status, _, body := d.TooManyRequests(3)
	if status != 429 || string(body) != `{"wait":3}` {
		t.Errorf("the declared refusal: %d %s", status, body)
	}
	// Two at once (the burst), the third would wait 500 ms, and the
	// stats say so without the test sleeping: MaxWait 0 refuses it.
	strict := ratelimit.New(ratelimit.Config{MaxWait: time.Nanosecond})
	for i, want := range []bool{true, true, false} {
		err := strict.Wait(t.Context(), d)
		var we *ratelimit.WaitError
		if got := err == nil; got != want || (!want && !errors.As(err, &we)) {
			t.Fatalf("request %d: %v, want sent %v", i, err, want)
		}
	}
	other := table.For("inst", "POST", u, http.Header{"Content-Type": {"application/json"}}, []byte(`{"to":"bob"}`))
	if err := strict.Wait(t.Context(), other); err != nil {
		t.Errorf("another recipient waited on alice's pace: %v", err)
	}
	wild, _ := url.Parse("https://eu.pigeon.test/any")
	w := table.For("inst", "GET", wild, http.Header{"X-Account": {"a"}}, nil)
	if err := strict.Wait(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	if err := strict.Wait(t.Context(), w); err == nil {
		t.Error("the wildcard rule's second request within a minute was not held back")
	}
}

// manifestDocBlock returns the ```text block of docs/manifest.md that
// begins with first.
func manifestDocBlock(t *testing.T, first string) string {
	t.Helper()
	doc := string(readFile(t, filepath.Join("..", "..", "docs", "manifest.md")))
	for _, part := range strings.Split(doc, "```text\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		if strings.HasPrefix(block, first) {
			return block
		}
	}
	t.Fatalf("docs/manifest.md shows no example beginning %q", first)
	return ""
}

// TestPacing_DocExampleParses: the rule the manifest reference shows, with
// every field, is one the manifest accepts.
func TestPacing_DocExampleParses(t *testing.T) {
	var example strings.Builder
	for _, line := range strings.Split(manifestDocBlock(t, "pacing:\n"), "\n") {
		example.WriteString("      " + line + "\n")
	}
	data := "app: {id: \"ari:cloud:ecosystem::app/x\"}\npermissions:\n  external:\n    fetch:\n      backend: [{address: api.telegram.org}]\n" + example.String()
	m, err := ParseManifest([]byte(data))
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if table, err := m.Pacing(); err != nil || table.Len() != 1 {
		t.Fatalf("Pacing = %v, %v", table, err)
	}
}

// The complete example of the manifest reference is a valid manifest.
func TestManifestReferenceExampleParses(t *testing.T) {
	if _, err := ParseManifest([]byte(manifestDocBlock(t, "app:\n"))); err != nil {
		t.Fatal(err)
	}
}
