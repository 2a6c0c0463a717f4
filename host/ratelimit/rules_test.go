package ratelimit_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/ratelimit"
)

// pigeon is a made-up service's rule table, written as a bundle would
// declare it: nothing in this package knows the host.
func pigeon(t testing.TB) *ratelimit.Table {
	t.Helper()
	table, err := ratelimit.NewTable([]ratelimit.Spec{
		{ // one account: 10/s, answers spelled the service's way
			Host: "api.pigeon.test", Path: "/v{version}/accounts/acct-{account}.json",
			Key: []string{"path.account"}, Pace: ratelimit.Pace{Every: 100 * time.Millisecond, Burst: 2},
			TooManyRequests: ratelimit.Answers{RetryAfterField: "error.wait_seconds", RetryAfter: 2 * time.Second, Body: `{"error":{"wait_seconds":{seconds}}}`},
		},
		{ // one recipient of a POST, unless it is a broadcast list
			Host: "api.pigeon.test", Method: "POST", Path: "/v{version}/accounts/acct-{account}.json",
			When: map[string]ratelimit.Match{"param.to": {NotPrefix: []string{"list:"}}},
			Key:  []string{"path.account", "param.to"}, Pace: ratelimit.Pace{Every: time.Second},
		},
		{ // a broadcast list
			Host: "api.pigeon.test", Method: "POST", Path: "/v{version}/accounts/acct-{account}.json",
			When: map[string]ratelimit.Match{"param.to": {Prefix: []string{"LIST:"}}, "header.X-Priority": {In: []string{"low", "normal"}}},
			Key:  []string{"path.account", "param.to"}, Pace: ratelimit.Pace{Every: time.Minute},
		},
		{ // any regional host, per API key header
			Host: "*.pigeon.test", Key: []string{"header.X-Api-Key"}, Pace: ratelimit.Pace{Every: time.Second},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return table
}

func paces(d ratelimit.Destination) []ratelimit.Pace {
	var out []ratelimit.Pace
	for _, k := range d.Keys() {
		out = append(out, k.Pace())
	}
	return out
}

func TestTableAppliesEveryRuleThatMatches(t *testing.T) {
	table := pigeon(t)
	account := ratelimit.Pace{Every: 100 * time.Millisecond, Burst: 2}
	recipient, list, regional := ratelimit.Pace{Every: time.Second}, ratelimit.Pace{Every: time.Minute}, ratelimit.Pace{Every: time.Second}
	json := http.Header{"Content-Type": {"application/json"}}
	send := func(method, rawURL string, h http.Header, body string) ratelimit.Destination {
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		return table.For("inst", method, u, h, []byte(body))
	}
	const acct = "https://api.pigeon.test/v2/accounts/acct-42.json"
	for _, tc := range []struct {
		name string
		d    ratelimit.Destination
		want []ratelimit.Pace
	}{
		{"a GET counts against the account", send("GET", acct, nil, ""), []ratelimit.Pace{account}},
		{"a POST to a recipient also against the recipient", send("POST", acct, json, `{"to":"alice"}`), []ratelimit.Pace{account, recipient}},
		{"the method compares without case", send("post", acct, json, `{"to":"alice"}`), []ratelimit.Pace{account, recipient}},
		{"a POST without a recipient against the account only", send("POST", acct, json, `{"text":"x"}`), []ratelimit.Pace{account}},
		{"an empty recipient is no recipient", send("POST", acct, json, `{"to":""}`), []ratelimit.Pace{account}},
		{"a list, by prefix without case and a header in a set", send("POST", acct, http.Header{"X-Priority": {"Normal"}, "Content-Type": {"application/json"}}, `{"to":"list:staff"}`), []ratelimit.Pace{account, list}},
		{"a list whose header is absent matches no list rule", send("POST", acct, json, `{"to":"list:staff"}`), []ratelimit.Pace{account}},
		{"a path that misses the literal suffix: host default", send("GET", "https://api.pigeon.test/v2/accounts/acct-42.xml", nil, ""), []ratelimit.Pace{{}}},
		{"a capture is never empty: host default", send("GET", "https://api.pigeon.test/v2/accounts/acct-.json", nil, ""), []ratelimit.Pace{{}}},
		{"a longer path: host default", send("GET", acct+"/more", nil, ""), []ratelimit.Pace{{}}},
		{"a regional host by its API key", send("GET", "https://eu.pigeon.test/x", http.Header{"X-Api-Key": {"k"}}, ""), []ratelimit.Pace{regional}},
		{"a wildcard stands for one label", send("GET", "https://a.eu.pigeon.test/x", http.Header{"X-Api-Key": {"k"}}, ""), []ratelimit.Pace{{}}},
		{"a wildcard never matches its parent", send("GET", "https://pigeon.test/x", http.Header{"X-Api-Key": {"k"}}, ""), []ratelimit.Pace{{}}},
		{"another host: host default", send("POST", "https://api.other.test/v2/accounts/acct-42.json", json, `{"to":"alice"}`), []ratelimit.Pace{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := paces(tc.d); !equalPaces(got, tc.want) {
				t.Errorf("paces %v, want %v", got, tc.want)
			}
		})
	}
	a, b := send("POST", acct, json, `{"to":"alice"}`), send("POST", acct, json, `{"to":"bob"}`)
	if a.Keys()[0].ID() != b.Keys()[0].ID() || a.Keys()[1].ID() == b.Keys()[1].ID() {
		t.Error("two recipients of one account: want one account key and two recipient keys")
	}
	if c := send("POST", "https://api.pigeon.test/v2/accounts/acct-43.json", json, `{"to":"alice"}`); c.Keys()[1].ID() == a.Keys()[1].ID() {
		t.Error("one recipient of two accounts shares a key")
	}
	var nilTable *ratelimit.Table
	if d := nilTable.For("inst", "GET", mustURL(acct), nil, nil); !equalPaces(paces(d), []ratelimit.Pace{{}}) {
		t.Errorf("a nil table: %v", paces(d))
	}
}

func equalPaces(a, b []ratelimit.Pace) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTheFirstMatchingRuleOwnsBlocksAndAnswers: a 429 blocks the first
// matching rule's key (the account, so every recipient waits), read from
// the member that rule declares, and the refusal is spelled its way.
func TestTheFirstMatchingRuleOwnsBlocksAndAnswers(t *testing.T) {
	table := pigeon(t)
	json := http.Header{"Content-Type": {"application/json"}}
	u := mustURL("https://api.pigeon.test/v2/accounts/acct-42.json")
	alice := table.For("inst", "POST", u, json, []byte(`{"to":"alice"}`))
	bob := table.For("inst", "POST", u, json, []byte(`{"to":"bob"}`))
	for _, tc := range []struct {
		name string
		body string
		want time.Duration
	}{
		{"the declared member", `{"error":{"wait_seconds":7}}`, 7 * time.Second},
		{"a fraction of a second", `{"error":{"wait_seconds":0.5}}`, 500 * time.Millisecond},
		{"none: the declared default", `{"error":{}}`, 2 * time.Second},
		{"a member of the wrong type: the default", `{"error":{"wait_seconds":"7"}}`, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c := newTestLimiter(ratelimit.Config{MaxWait: time.Hour})
			l.Observe(alice, 429, nil, []byte(tc.body))
			if wait, _ := l.Reserve(c.now(), bob); wait != tc.want {
				t.Errorf("bob, another recipient of the account: wait %v, want %v", wait, tc.want)
			}
		})
	}
	status, h, body := alice.TooManyRequests(5)
	if status != 429 || h.Get("Retry-After") != "5" || string(body) != `{"error":{"wait_seconds":5}}` {
		t.Errorf("refusal %d %v %s", status, h, body)
	}
}

func TestNewTableRefusesBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec ratelimit.Spec
		want string
	}{
		{"no host", ratelimit.Spec{}, `rule 0: host "" is not a host name`},
		{"a path ref without a path", ratelimit.Spec{Host: "a.test", Key: []string{"path.x"}}, `key[0] "path.x" names no capture`},
		{"a negative pace", ratelimit.Spec{Host: "a.test", Pace: ratelimit.Pace{Every: -1}}, "rate -1ns with bursts of 0 is not a rate"},
		{"a negative default wait", ratelimit.Spec{Host: "a.test", TooManyRequests: ratelimit.Answers{RetryAfter: -time.Second}}, "tooManyRequests.retryAfter -1s is negative"},
		{"too many key values", ratelimit.Spec{Host: "a.test", Key: strings.Split("param.a param.b param.c param.d param.e param.f param.g param.h param.i", " ")}, "key has 9 values, at most 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ratelimit.NewTable([]ratelimit.Spec{tc.spec})
			var se *ratelimit.SpecError
			if !errors.Is(err, ratelimit.ErrInvalidRule) || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewTable = %v, want a SpecError containing %q", err, tc.want)
			}
		})
	}
	if _, err := ratelimit.NewTable(make([]ratelimit.Spec, ratelimit.MaxRules+1)); err == nil || !strings.Contains(err.Error(), "at most 100 rules") {
		t.Errorf("101 rules: %v", err)
	}
}

// FuzzFor: any request against a table of rules finds at least one key and
// at most one per rule, and never panics.
func FuzzFor(f *testing.F) {
	ct, mp := multipartBody(f, "5")
	f.Add("api.telegram.org", "POST", "/bot"+token+"/sendMessage", "", "application/json", []byte(`{"chat_id":1}`))
	f.Add("api.telegram.org", "POST", "/bot"+token+"/sendDocument", "", ct, mp)
	f.Add("api.telegram.org", "GET", "/bot/x", "chat_id=-1", "multipart/form-data; boundary=x", []byte("--x\r\n"))
	f.Add("api.pigeon.test", "POST", "/v2/accounts/acct-1.json", "to=list:a", "application/x-www-form-urlencoded", []byte("to=b&to=c"))
	f.Add("eu.pigeon.test", "GET", "/", "", "", []byte(`[1,2]`))
	tables := []*ratelimit.Table{plugin(f), pigeon(f)}
	f.Fuzz(func(t *testing.T, host, method, path, query, contentType string, body []byte) {
		u := &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: query}
		h := http.Header{"Content-Type": {contentType}, "X-Api-Key": {query}, "X-Priority": {"low"}}
		for _, table := range tables {
			d := table.For("inst", method, u, h, body)
			if n := len(d.Keys()); n == 0 || n > table.Len() && n != 1 {
				t.Fatalf("%d keys from %d rules", n, table.Len())
			}
			_, _, refusal := d.TooManyRequests(3)
			if len(refusal) == 0 {
				t.Fatal("an empty refusal")
			}
		}
	})
}
