package jira

import (
	"encoding/json"
	"testing"
	"time"
)

func TestInjectedFaults(t *testing.T) {
	clk := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := clk
	e := newEnv(t, Config{Now: func() time.Time { return now }})
	key := e.newRequest(t, "faults")
	rule := func(r map[string]any) {
		t.Helper()
		r["service"] = "jira"
		if code, _, raw := e.control(t, "POST", "/_sim/fail", r); code != 200 {
			t.Fatalf("rule %d %s", code, raw)
		}
	}
	t.Run("429 with Retry-After and X-RateLimit-Reset", func(t *testing.T) {
		rule(map[string]any{"match": "POST /rest/servicedeskapi/request/" + key + "/comment", "status": 429, "retry_after": 7})
		a := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "x", "public": true})
		if a.status != 429 || a.header.Get("Retry-After") != "7" || a.header.Get("X-RateLimit-Reset") != "2026-03-01T12:00Z" {
			t.Errorf("got %d %v %s", a.status, a.header, a.raw)
		}
		if msgs := a.json["errorMessages"].([]any); len(msgs) != 1 {
			t.Errorf("body %s", a.raw)
		}
		// Other calls are untouched; a retry inside the window is counted.
		if g := e.call(t, "GET", "/rest/servicedeskapi/request/"+key, nil); g.status != 200 {
			t.Errorf("other call %d", g.status)
		}
		now = now.Add(3 * time.Second)
		if a := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "x", "public": true}); a.status != 201 {
			t.Errorf("retry %d", a.status)
		}
		if e.sim.EarlyRetries() != 1 {
			t.Errorf("early retries %d", e.sim.EarlyRetries())
		}
		now = now.Add(10 * time.Second)
		e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "x", "public": true})
		if e.sim.EarlyRetries() != 1 {
			t.Errorf("a call after the window counted: %d", e.sim.EarlyRetries())
		}
	})
	t.Run("5xx for a count of calls", func(t *testing.T) {
		rule(map[string]any{"match": "GET /rest/api/3/myself", "status": 503, "count": 2})
		for i, want := range []int{503, 503, 200} {
			if a := e.call(t, "GET", "/rest/api/3/myself", nil); a.status != want {
				t.Errorf("call %d: %d", i, a.status)
			}
		}
	})
	t.Run("* matches every call", func(t *testing.T) {
		rule(map[string]any{"match": "*", "status": 500})
		if a := e.call(t, "GET", "/rest/servicedeskapi/servicedesk", nil); a.status != 500 {
			t.Errorf("got %d", a.status)
		}
		if a := e.call(t, "GET", "/rest/servicedeskapi/servicedesk", nil); a.status != 200 {
			t.Errorf("after the count: %d", a.status)
		}
	})
	t.Run("rules for another service are refused", func(t *testing.T) {
		if code, _, _ := e.control(t, "POST", "/_sim/fail", map[string]any{"service": "telegram", "match": "*", "status": 500}); code != 400 {
			t.Errorf("got %d", code)
		}
	})
	t.Run("rules can be listed and cleared", func(t *testing.T) {
		rule(map[string]any{"match": "*", "status": 500, "count": -1})
		_, _, raw := e.control(t, "GET", "/_sim/fail", nil)
		var rules []map[string]any
		json.Unmarshal(raw, &rules)
		if len(rules) != 1 {
			t.Errorf("rules %s", raw)
		}
		e.control(t, "DELETE", "/_sim/fail", nil)
		if a := e.call(t, "GET", "/rest/api/3/myself", nil); a.status != 200 {
			t.Errorf("after clearing: %d", a.status)
		}
	})
}
