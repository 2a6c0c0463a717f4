package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/devca"
	"github.com/chatbridge/chatbridge/emulator/reroute"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/host/tenant"
)

// pigeonPacing is what a channel the host has never heard of, "Pigeon" at
// api.pigeon.test, adds to the probe's manifest: its egress host and one
// pacing rule, one message a minute per account and recipient, refused in
// Pigeon's own words.
const pigeonPacing = `        - address: api.pigeon.test
      pacing:
        - host: api.pigeon.test
          method: POST
          path: /v1/{account}/send
          key: [path.account, param.to]
          rate: { requests: 1, per: 1m }
          tooManyRequests:
            retryAfterField: wait
            body: '{"error":"slow down","wait":{seconds}}'
`

// pigeonHost is a host running the probe with manifest, whose fetches to
// api.pigeon.test reach a recording TLS server on loopback.
type pigeonHost struct {
	host *host.Host
	mu   sync.Mutex
	seen []string // "METHOD path body" of each request the server got
}

func newPigeonHost(t *testing.T, manifest []byte) (*pigeonHost, tenant.Installation) {
	t.Helper()
	p := &pigeonHost{}
	ca, err := devca.New()
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path+" "+string(body))
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"sent":true}`)
	}), "api.pigeon.test")
	site := serveTLS(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !answerSiteCheck(w, r) {
			http.NotFound(w, r)
		}
	}), "example.atlassian.net", "other.atlassian.net")
	h, err := host.New(context.Background(), host.Config{
		Store:  memstore.New(),
		Trust:  bundletest.Trust(t),
		Engine: engine.Config{CacheDir: cacheDir},
		HTTP:   reroute.Client(map[string]string{"api.pigeon.test": addr, "example.atlassian.net": site, "other.atlassian.net": site}, ca.Pool()),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	if err := h.Load(context.Background(), bundletest.Probe(t, manifest)); err != nil {
		t.Fatal(err)
	}
	p.host = h
	in, _, err := h.Install(context.Background(), siteFor("https://example.atlassian.net"))
	if err != nil {
		t.Fatal(err)
	}
	return p, in
}

func (p *pigeonHost) requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

// send has the probe fetch one Pigeon request and returns what the module got.
func (p *pigeonHost) send(t *testing.T, in tenant.Installation, method, account, to string) result {
	t.Helper()
	f := &fixture{host: p.host}
	op := map[string]any{"op": "fetch", "method": method, "url": "https://api.pigeon.test/v1/" + account + "/send",
		"headers": map[string]string{"Content-Type": "application/json"}, "value": `{"to":"` + to + `","text":"hi"}`}
	r, err := f.probeCtx(context.Background(), in, op)
	if err != nil || !r.OK {
		t.Fatalf("fetch %s %s/%s: %+v %v", method, account, to, r, err)
	}
	return r
}

func probeManifest(t *testing.T) []byte {
	t.Helper()
	m, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "examples", "probe", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestABundleDeclaresItsOwnPacing is issue #19's acceptance for pacing: a
// channel the host has never heard of declares its pace in its manifest,
// and the host holds its requests to that pace, counted by the key the
// rule names (account and recipient), with no change to the host. The
// same requests under a manifest without the rule all go out.
func TestABundleDeclaresItsOwnPacing(t *testing.T) {
	anchor := []byte("        - address: api.telegram.org\n")
	base := probeManifest(t)
	if !bytes.Contains(base, anchor) {
		t.Fatal("the probe's manifest no longer lists api.telegram.org as egress")
	}
	paced := bytes.Replace(base, anchor, append(anchor, pigeonPacing...), 1)

	t.Run("the declared rule paces per account and recipient", func(t *testing.T) {
		p, inst := newPigeonHost(t, paced)
		if r := p.send(t, inst, "POST", "acme", "alice"); r.Status != 200 {
			t.Fatalf("first message: %+v", r)
		}
		// Within the minute: held back, never sent, refused as Pigeon would.
		r := p.send(t, inst, "POST", "acme", "alice")
		var refusal struct {
			Error string `json:"error"`
			Wait  int    `json:"wait"`
		}
		if err := json.Unmarshal([]byte(r.Value), &refusal); err != nil || r.Status != 429 ||
			refusal.Error != "slow down" || refusal.Wait < 30 || refusal.Wait > 60 {
			t.Fatalf("second message to alice within a minute: %+v (%v), want Pigeon's own 429 with a wait of about 60", r, err)
		}
		if ra, _ := strconv.Atoi(r.Header["Retry-After"]); ra != refusal.Wait {
			t.Errorf("Retry-After %q, want %d", r.Header["Retry-After"], refusal.Wait)
		}
		if n := p.requests(); n != 1 {
			t.Fatalf("the server saw %d requests, want only the first", n)
		}
		// Other keys of the rule go out: another recipient, another account.
		for _, k := range [][2]string{{"acme", "bob"}, {"zenith", "alice"}} {
			if r := p.send(t, inst, "POST", k[0], k[1]); r.Status != 200 {
				t.Errorf("%s/%s after acme/alice was held back: %+v", k[0], k[1], r)
			}
		}
		// A GET is not what the rule declares: unpaced.
		for range 2 {
			if r := p.send(t, inst, "GET", "acme", "alice"); r.Status != 200 {
				t.Errorf("a GET, which no rule paces: %+v", r)
			}
		}
		// Another installation on the same account and recipient has its own keys.
		other, _, err := p.host.Install(context.Background(), siteFor("https://other.atlassian.net"))
		if err != nil {
			t.Fatal(err)
		}
		if r := p.send(t, other, "POST", "acme", "alice"); r.Status != 200 {
			t.Errorf("another installation, same account and recipient: %+v", r)
		}
		if n := p.requests(); n != 6 {
			t.Errorf("the server saw %d requests, want 6 (all but the held-back one)", n)
		}
	})

	t.Run("without the rule nothing is paced", func(t *testing.T) {
		unpaced := bytes.Replace(base, anchor, append(anchor, "        - address: api.pigeon.test\n"...), 1)
		p, inst := newPigeonHost(t, unpaced)
		for i := range 3 {
			if r := p.send(t, inst, "POST", "acme", "alice"); r.Status != 200 {
				t.Fatalf("message %d: %+v", i, r)
			}
		}
		if n := p.requests(); n != 3 {
			t.Errorf("the server saw %d requests, want 3", n)
		}
	})

}
