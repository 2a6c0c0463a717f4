package viber

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// botAPI is the endpoint, event and message type lists of Viber's REST Bot
// API, as the official SDK has them (testdata/specs/viber).
type botAPI struct {
	Source struct {
		Repository string `json:"repository"`
		Commit     string `json:"commit"`
	} `json:"source"`
	Endpoints    []string `json:"endpoints"`
	Events       []string `json:"events"`
	MessageTypes []string `json:"messageTypes"`
}

func loadSpec(t *testing.T) *botAPI {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "specs", "viber", "bot-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sp botAPI
	if err := json.Unmarshal(b, &sp); err != nil {
		t.Fatal(err)
	}
	if sp.Source.Repository == "" || len(sp.Source.Commit) != 40 || len(sp.Endpoints) == 0 || len(sp.Events) == 0 || len(sp.MessageTypes) == 0 {
		t.Fatalf("specification incomplete: %+v", sp)
	}
	return &sp
}

// Every endpoint the simulator serves, every message type send_message
// accepts, and every event and message type its callbacks carry is in the
// specification.
func TestRoutes_AreAllInTheSpecification(t *testing.T) {
	sp := loadSpec(t)
	for _, r := range Routes {
		if !slices.Contains(sp.Endpoints, r) {
			t.Errorf("POST /pa/%s is not in the specification", r)
		}
	}
	for _, typ := range SendTypes {
		if !slices.Contains(sp.MessageTypes, typ) {
			t.Errorf("send_message accepts type %s, which the specification lacks", typ)
		}
	}

	// The callbacks: set_webhook's check, then each customer event and
	// each kind of customer message the control API makes.
	f := newFixture(t)
	if r := f.call("set_webhook", DefaultToken, map[string]any{"url": f.hs.URL + "/hook"}); status(r) != 0 {
		t.Fatalf("set_webhook: %v", r)
	}
	var wh Webhook
	f.control("GET", "/_sim/viber/webhook", nil, &wh)
	for _, e := range wh.EventTypes {
		if !slices.Contains(sp.Events, e) {
			t.Errorf("default event type %s is not in the specification", e)
		}
	}
	sends := []map[string]any{
		{"event": "conversation_started"},
		{"event": "subscribed"},
		{"text": "hi"},
		{"picture": true},
		{"file": map[string]any{"file_name": "a.pdf", "size": 3}},
		{"sticker": true},
		{"sticker_id_only": true},
		{"location": map[string]any{"lat": 1, "lon": 2}},
		{"event": "unsubscribed"},
	}
	for _, m := range sends {
		m["user_id"] = "anna="
		var res SendResult
		if code := f.control("POST", "/_sim/viber/send", m, &res); code != 200 || res.Status != 200 {
			t.Fatalf("send %v: %d %+v", m, code, res)
		}
	}
	f.hook.mu.Lock()
	defer f.hook.mu.Unlock()
	if len(f.hook.bodies) != 1+len(sends) {
		t.Fatalf("%d callbacks, want %d", len(f.hook.bodies), 1+len(sends))
	}
	for _, b := range f.hook.bodies {
		if e, _ := b["event"].(string); !slices.Contains(sp.Events, e) {
			t.Errorf("callback event %q is not in the specification", e)
		}
		if msg, ok := b["message"].(map[string]any); ok {
			if typ, _ := msg["type"].(string); !slices.Contains(sp.MessageTypes, typ) {
				t.Errorf("callback message type %q is not in the specification", typ)
			}
		}
	}
}

// Any call the simulator does not serve (an endpoint Viber's SDK lacks, an
// endpoint the simulator does not implement, a method other than POST) is
// answered as before issue 16 and counted under "refused" in
// GET /_sim/viber/stats, so the end-to-end tests can hold the bridge's
// calls to the specification; served calls count under "requests" only.
func TestStats_CountCallsTheSimulatorRefuses(t *testing.T) {
	sp := loadSpec(t)
	f := newFixture(t)
	raw := func(method, path string) (int, map[string]any) {
		req, _ := http.NewRequest(method, f.api.URL+path, bytes.NewReader([]byte("{}")))
		req.Header.Set("X-Viber-Auth-Token", DefaultToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	want := map[string]int{}
	for _, name := range append(slices.Clone(sp.Endpoints), "broadcast_messages", "sendMessage", "") {
		if slices.Contains(Routes, name) {
			continue
		}
		// An unknown endpoint: HTTP 200 with status 3, as the simulator
		// has always answered (Viber documents no answer).
		if st, m := raw("POST", "/pa/"+name); st != 200 || status(m) != StatusBadData || m["status_message"] == "" {
			t.Errorf("POST /pa/%s: %d %v", name, st, m)
		}
		want["POST /pa/"+name]++
	}
	for _, name := range Routes {
		if st, _ := raw("GET", "/pa/"+name); st != http.StatusMethodNotAllowed {
			t.Errorf("GET /pa/%s: %d", name, st)
		}
		want["GET /pa/"+name]++
	}
	// A wrong token on an unknown endpoint is still refused, and counted.
	f.call("get_online", "wrong", map[string]any{"ids": []string{"anna="}})
	want["POST /pa/get_online"]++
	if r := f.call("get_account_info", DefaultToken, map[string]any{}); status(r) != 0 {
		t.Fatalf("get_account_info: %v", r)
	}

	var st struct {
		Requests map[string]int `json:"requests"`
		Refused  map[string]int `json:"refused"`
	}
	if code := f.control("GET", "/_sim/viber/stats", nil, &st); code != 200 {
		t.Fatalf("stats: %d", code)
	}
	if len(st.Refused) != len(want) {
		t.Errorf("refused %v, want %v", st.Refused, want)
	}
	for k, n := range want {
		if st.Refused[k] != n {
			t.Errorf("refused[%q] = %d, want %d", k, st.Refused[k], n)
		}
	}
	if len(st.Requests) != 1 || st.Requests["get_account_info"] != 1 {
		t.Errorf("requests %v, want the one served call", st.Requests)
	}
}
