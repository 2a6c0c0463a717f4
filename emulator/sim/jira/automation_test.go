package jira

import "testing"

// TestTransitionOnComment holds the simulator to JSM's default rule
// (automation.go): who wrote a public comment decides whom the request
// waits on next, and an internal note moves nothing.
func TestTransitionOnComment(t *testing.T) {
	e := newEnv(t, Config{})
	status := func(key string) string {
		t.Helper()
		return dig(e.call(t, "GET", "/rest/servicedeskapi/request/"+key, nil).json, "currentStatus", "status").(string)
	}
	// A request raised on behalf of a customer, with a second customer taking part.
	a := e.call(t, "POST", "/rest/servicedeskapi/request", map[string]any{
		"serviceDeskId": "1", "requestTypeId": "10", "raiseOnBehalfOf": "cust-1", "requestParticipants": []string{"cust-2"},
		"requestFieldValues": map[string]any{"summary": "printer", "description": "on fire"},
	})
	if a.status != 201 || dig(a.json, "reporter", "accountId") != "cust-1" {
		t.Fatalf("create %d %s", a.status, a.raw)
	}
	key := a.json["issueKey"].(string)
	e.hook.next(t) // issue_created
	drain := func(n int) []hookDelivery {
		var out []hookDelivery
		for range n {
			out = append(out, e.hook.next(t))
		}
		return out
	}

	t.Run("an internal note moves nothing", func(t *testing.T) {
		code, out, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "checking", "public": false})
		if code != 200 || len(out["webhooks"].([]any)) != 2 || status(key) != waitingForSupport {
			t.Fatalf("%d %s; status %s", code, raw, status(key))
		}
		drain(2)
	})
	t.Run("the team's public reply waits for the customer", func(t *testing.T) {
		code, _, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "which model?", "public": true})
		if code != 200 || status(key) != waitingForCustomer {
			t.Fatalf("%d %s; status %s", code, raw, status(key))
		}
		d := drain(3)[2]
		items, _ := dig(d.payload, "changelog", "items").([]any)
		if d.event() != "jira:issue_updated" || dig(d.payload, "user", "displayName") != "Automation for Jira" || len(items) != 1 ||
			dig(items[0], "toString") != waitingForCustomer {
			t.Fatalf("rule event %s", d.body)
		}
	})
	t.Run("the app's public comment counts as the team's", func(t *testing.T) {
		e.control(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": waitingForSupport})
		drain(1)
		if a := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "From Telegram: it is a P1", "public": true}); a.status != 201 {
			t.Fatalf("comment %d %s", a.status, a.raw)
		}
		if got := status(key); got != waitingForCustomer {
			t.Fatalf("status %s, want %s", got, waitingForCustomer)
		}
		drain(3)
	})
	t.Run("the team's comment while waiting for the customer moves nothing", func(t *testing.T) {
		e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "any news?", "public": true})
		if got := status(key); got != waitingForCustomer {
			t.Fatalf("status %s", got)
		}
		drain(2)
	})
	for _, who := range []string{"cust-1", "cust-2"} {
		t.Run("a customer's reply ("+who+") waits for support again", func(t *testing.T) {
			code, _, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "P1 from " + who, "public": true, "author": who})
			if code != 200 || status(key) != waitingForSupport {
				t.Fatalf("%d %s; status %s", code, raw, status(key))
			}
			d := drain(3)
			if dig(d[0].comment(), "author", "accountId") != who || dig(d[2].payload, "changelog", "items") == nil {
				t.Fatalf("events %s / %s", d[0].body, d[2].body)
			}
			// Back to the customer for the next round.
			e.control(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": waitingForCustomer})
			drain(1)
		})
	}
	t.Run("only the request's customers write as customers, and only publicly", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"body": "x", "public": true, "author": "stranger"},
			{"body": "x", "public": true, "author": "agent-1"},
			{"body": "x", "public": false, "author": "cust-1"},
		} {
			if code, _, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", body); code != 400 {
				t.Errorf("%v: %d %s", body, code, raw)
			}
		}
	})
	t.Run("participants are listed and added once", func(t *testing.T) {
		add := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/participant", map[string]any{"accountIds": []string{"cust-3", "cust-2"}})
		list := e.call(t, "GET", "/rest/servicedeskapi/request/"+key+"/participant", nil)
		if add.status != 200 || list.status != 200 || list.json["size"] != float64(2) {
			t.Fatalf("add %d %s; list %s", add.status, add.raw, list.raw)
		}
		if got := e.requests(t)[0].ParticipantAccountIDs; len(got) != 2 || got[0] != "cust-2" || got[1] != "cust-3" {
			t.Errorf("participants %v", got)
		}
	})
	t.Run("a site without the rule moves nothing", func(t *testing.T) {
		off := newEnv(t, Config{NoCommentRule: true})
		key := off.newRequest(t, "no rule")
		off.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "hi", "public": true})
		if got := off.requests(t)[0].Status; got != waitingForSupport {
			t.Errorf("status %s", got)
		}
	})
}
