package sim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim"
	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
)

// The simulators are sim.Services.
var (
	_ sim.Service = (*telegram.Sim)(nil)
	_ sim.Service = (*jira.Sim)(nil)
)

func TestControl_OneMuxForBothSimulators(t *testing.T) {
	tg := telegram.New(telegram.Config{})
	defer tg.Close()
	jr := jira.New(jira.Config{})
	defer jr.Close()
	mux := http.NewServeMux()
	mux.Handle("/_sim/", sim.Control(tg, jr))

	do := func(method, path string, body any) (int, []byte) {
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, bytes.NewReader(b)))
		return rec.Code, rec.Body.Bytes()
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"a Telegram rule goes to Telegram", "POST", "/_sim/fail", map[string]any{"service": "telegram", "match": "getMe", "status": 500}, 200},
		{"a Jira rule goes to Jira", "POST", "/_sim/fail", map[string]any{"service": "jira", "match": "GET /rest/api/3/myself", "status": 503}, 200},
		{"an unknown service is refused", "POST", "/_sim/fail", map[string]any{"service": "viber", "match": "*", "status": 500}, 400},
		{"a rule without match is refused", "POST", "/_sim/fail", map[string]any{"service": "jira", "status": 500}, 400},
		{"a status outside 400-599 is refused", "POST", "/_sim/fail", map[string]any{"service": "jira", "match": "*", "status": 200}, 400},
		{"an unknown field is refused", "POST", "/_sim/fail", map[string]any{"service": "jira", "match": "*", "status": 500, "typo": 1}, 400},
		{"Telegram paths reach Telegram", "GET", "/_sim/telegram/webhook", nil, 200},
		{"Jira paths reach Jira", "GET", "/_sim/jira/requests", nil, 200},
		{"other paths are not found", "GET", "/_sim/viber/x", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := do(tt.method, tt.path, tt.body); code != tt.status {
				t.Errorf("got %d %s, want %d", code, out, tt.status)
			}
		})
	}

	t.Run("the rules landed where they belong", func(t *testing.T) {
		tgAPI := httptest.NewServer(tg.API())
		defer tgAPI.Close()
		jrAPI := httptest.NewServer(jr.API())
		defer jrAPI.Close()
		resp, err := http.Get(tgAPI.URL + "/bot" + telegram.DefaultToken + "/getMe")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 500 {
			t.Errorf("telegram getMe: %d", resp.StatusCode)
		}
		req, _ := http.NewRequest("GET", jrAPI.URL+"/rest/api/3/myself", nil)
		req.Header.Set("Authorization", jira.DefaultAuthorization)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("jira myself: %d", resp.StatusCode)
		}
	})
	t.Run("GET lists every service's rules, DELETE clears them", func(t *testing.T) {
		do("POST", "/_sim/fail", map[string]any{"service": "telegram", "match": "*", "status": 500, "count": -1})
		do("POST", "/_sim/fail", map[string]any{"service": "jira", "match": "*", "status": 500, "count": -1})
		_, out := do("GET", "/_sim/fail", nil)
		var rules []simctl.Rule
		json.Unmarshal(out, &rules)
		if len(rules) != 2 || rules[0].Service != "telegram" || rules[1].Service != "jira" {
			t.Fatalf("rules %s", out)
		}
		_, out = do("GET", "/_sim/fail?service=jira", nil)
		rules = nil
		json.Unmarshal(out, &rules)
		if len(rules) != 1 || rules[0].Service != "jira" {
			t.Errorf("jira rules %s", out)
		}
		if code, _ := do("DELETE", "/_sim/fail", nil); code != http.StatusNoContent {
			t.Errorf("DELETE %d", code)
		}
		_, out = do("GET", "/_sim/fail", nil)
		if string(bytes.TrimSpace(out)) != "[]" {
			t.Errorf("after DELETE %s", out)
		}
	})
}

// busy is a Service with work under way.
type busy struct {
	name string
	a    simctl.Activity
}

func (b busy) Name() string              { return b.name }
func (b busy) Control() http.Handler     { return http.NotFoundHandler() }
func (b busy) Activity() simctl.Activity { return b.a }

func TestControl_ActivitySumsTheSimulatorsThatHaveAny(t *testing.T) {
	tg := telegram.New(telegram.Config{})
	defer tg.Close()
	h := sim.Control(busy{"a", simctl.Activity{Pending: 2, Started: 5}}, busy{"b", simctl.Activity{Pending: 1, Started: 1}}, tg)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/_sim/activity", nil))
	var got simctl.Activity
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got != (simctl.Activity{Pending: 3, Started: 6}) {
		t.Fatalf("activity %+v, want 3 pending and 6 started", got)
	}
}
