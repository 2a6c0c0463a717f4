package jira

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestCustomers_CreateFindAddAsJSMDocumentsThem(t *testing.T) {
	e := newEnv(t, Config{})
	created := e.call(t, "POST", "/rest/servicedeskapi/customer", map[string]any{"email": "ann@example.com", "displayName": "Ann"})
	if created.status != 201 || created.json["emailAddress"] != "ann@example.com" || created.json["accountId"] == "" {
		t.Fatalf("create: %d %s", created.status, created.raw)
	}
	id := created.json["accountId"].(string)
	for _, tc := range []struct {
		query string
		want  int
	}{{"", http.StatusBadRequest}, {"?strictConflictStatusCode=true", http.StatusConflict}} {
		if a := e.call(t, "POST", "/rest/servicedeskapi/customer"+tc.query, map[string]any{"email": "ANN@example.com"}); a.status != tc.want {
			t.Errorf("create again%s: %d, want %d", tc.query, a.status, tc.want)
		}
	}
	if a := e.call(t, "POST", "/rest/servicedeskapi/customer", map[string]any{"email": "not-an-address"}); a.status != 400 {
		t.Errorf("create with a bad email: %d", a.status)
	}
	get := func(header bool) answer {
		req, _ := http.NewRequest("GET", e.api.URL+"/rest/servicedeskapi/servicedesk/1/customer?query=ann%40example", nil)
		req.Header.Set("Authorization", DefaultAuthorization)
		if header {
			req.Header.Set("X-ExperimentalApi", "opt-in")
		}
		return e.do(t, req)
	}
	if a := get(false); a.status != 400 || !strings.Contains(string(a.raw), "X-ExperimentalApi") {
		t.Errorf("get customers without the opt-in: %d %s", a.status, a.raw)
	}
	if a := get(true); a.status != 200 || len(a.json["values"].([]any)) != 0 {
		t.Errorf("a customer no desk has is listed: %s", a.raw)
	}
	if a := e.call(t, "POST", "/rest/servicedeskapi/servicedesk/1/customer", map[string]any{"accountIds": []string{"qm:nobody"}}); a.status != 400 {
		t.Errorf("adding an unknown account: %d", a.status)
	}
	if a := e.call(t, "POST", "/rest/servicedeskapi/servicedesk/1/customer", map[string]any{"accountIds": []string{id}}); a.status != 204 {
		t.Fatalf("add: %d %s", a.status, a.raw)
	}
	a := get(true)
	values, _ := a.json["values"].([]any)
	if len(values) != 1 || values[0].(map[string]any)["accountId"] != id {
		t.Errorf("the desk's customer not found: %s", a.raw)
	}
}

func TestCustomers_JSMEmailsTheRequestAndTheTeamsPublicCommentsToTheCustomer(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.call(t, "POST", "/rest/servicedeskapi/customer", map[string]any{"email": "ann@example.com"})
	id := c.json["accountId"].(string)
	r := e.call(t, "POST", "/rest/servicedeskapi/request", map[string]any{"serviceDeskId": "1", "requestTypeId": "10",
		"raiseOnBehalfOf": id, "requestFieldValues": map[string]any{"summary": "Confirm the link"}})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	key := r.json["issueKey"].(string)
	e.call(t, "POST", "/rest/api/2/issue/"+key+"/comment", map[string]any{"body": "internal only",
		"properties": []any{map[string]any{"key": "sd.public.comment", "value": map[string]bool{"internal": true}}}})
	e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "Your code: 7K2Q-9XMD", "public": true})
	// A request the app raises as itself emails nobody.
	e.call(t, "POST", "/rest/servicedeskapi/request", map[string]any{"serviceDeskId": "1", "requestTypeId": "10",
		"requestFieldValues": map[string]any{"summary": "The app's own"}})
	status, _, raw := e.control(t, "GET", "/_sim/jira/outbox?to=ann@example.com", nil)
	var box []Email
	if err := json.Unmarshal(raw, &box); err != nil || status != 200 {
		t.Fatalf("outbox: %d %s", status, raw)
	}
	if len(box) != 2 || box[0].Kind != "request-created" || box[1].Kind != "public-comment" || box[1].Body != "Your code: 7K2Q-9XMD" || box[1].Key != key {
		t.Fatalf("outbox %+v", box)
	}
	_, _, raw = e.control(t, "GET", "/_sim/jira/outbox", nil)
	if strings.Contains(string(raw), "internal only") || strings.Contains(string(raw), "The app's own") {
		t.Errorf("an internal comment or the app's own request was emailed: %s", raw)
	}
}
