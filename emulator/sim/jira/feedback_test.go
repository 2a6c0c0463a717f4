package jira

import (
	"testing"
)

func TestRequestFeedbackTakesARatingOfOneToFive(t *testing.T) {
	e := newEnv(t, Config{})
	key := e.newRequest(t, "Printer on fire")
	path := "/rest/servicedeskapi/request/" + key + "/feedback"
	if a := e.call(t, "GET", path, nil); a.status != 404 {
		t.Fatalf("feedback before any: %d %s", a.status, a.raw)
	}
	for name, body := range map[string]any{
		"rating 0":          map[string]any{"type": "csat", "rating": 0},
		"rating 6":          map[string]any{"type": "csat", "rating": 6},
		"no rating":         map[string]any{"type": "csat", "comment": map[string]any{"body": "hi"}},
		"another type":      map[string]any{"type": "nps", "rating": 3},
		"a rating as text":  map[string]any{"type": "csat", "rating": "4"},
		"not a JSON object": "rating 4",
	} {
		if a := e.call(t, "POST", path, body); a.status != 400 {
			t.Errorf("%s: %d %s", name, a.status, a.raw)
		}
	}
	if a := e.call(t, "POST", "/rest/servicedeskapi/request/NOPE-9/feedback", map[string]any{"type": "csat", "rating": 4}); a.status != 404 {
		t.Errorf("an unknown request: %d %s", a.status, a.raw)
	}
	if got := e.requests(t)[0].Feedback; got != nil {
		t.Fatalf("a refused feedback was kept: %+v", got)
	}
	a := e.call(t, "POST", path, map[string]any{"type": "csat", "rating": 4, "comment": map[string]any{"body": "Quick"}})
	if a.status != 200 || a.json["rating"] != float64(4) || dig(a.json, "comment", "body") != "Quick" {
		t.Fatalf("post: %d %s", a.status, a.raw)
	}
	if a := e.call(t, "GET", path, nil); a.status != 200 || a.json["rating"] != float64(4) || a.json["type"] != "csat" {
		t.Fatalf("get: %d %s", a.status, a.raw)
	}
	if got := e.requests(t)[0].Feedback; got == nil || got.Rating != 4 || got.Comment != "Quick" {
		t.Fatalf("control state %+v", got)
	}
	if a := e.call(t, "DELETE", path, nil); a.status != 204 {
		t.Fatalf("delete: %d %s", a.status, a.raw)
	}
	if a := e.call(t, "GET", path, nil); a.status != 404 {
		t.Fatalf("get after delete: %d %s", a.status, a.raw)
	}
}
