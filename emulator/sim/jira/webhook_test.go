package jira

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// verify checks X-Hub-Signature the way the receiving side must.
func verify(secret string, d hookDelivery) bool {
	sig, ok := strings.CutPrefix(d.header.Get("X-Hub-Signature"), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(d.body)
	return hmac.Equal(got, m.Sum(nil))
}

func TestWebhook_CommentsFireTwiceSigned(t *testing.T) {
	e := newEnv(t, Config{NoCommentRule: true}) // the comments' own events only; automation_test.go has the rule
	key := e.newRequest(t, "hello")
	code, out, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "Have you tried *turning it off*?", "public": true})
	if code != 200 {
		t.Fatalf("control comment %d %s", code, raw)
	}
	hooks := out["webhooks"].([]any)
	if len(hooks) != 2 || hooks[0].(map[string]any)["status"].(float64) != 200 {
		t.Errorf("control answer %s", raw)
	}
	created, updated := e.hook.next(t), e.hook.next(t)
	for _, d := range []hookDelivery{created, updated} {
		if !verify(testSecret, d) {
			t.Errorf("%s: signature %q does not verify", d.event(), d.header.Get("X-Hub-Signature"))
		}
		if verify("another secret", d) {
			t.Error("signature verifies with the wrong secret")
		}
		if d.header.Get("X-Atlassian-Webhook-Retry") != "" || d.header.Get("X-Atlassian-Webhook-Identifier") == "" ||
			!strings.HasPrefix(d.header.Get("Content-Type"), "application/json") {
			t.Errorf("headers %v", d.header)
		}
		if d.payload["timestamp"] == nil || dig(d.payload, "issue", "key") != key || dig(d.payload, "issue", "fields", "project", "key") != "SUP" ||
			dig(d.payload, "issue", "fields", "status", "statusCategory", "key") != "new" || dig(d.payload, "issue", "fields", "summary") != "hello" {
			t.Errorf("%s issue %s", d.event(), d.body)
		}
	}
	if created.event() != "comment_created" || updated.event() != "jira:issue_updated" || updated.payload["issue_event_type_name"] != "issue_commented" {
		t.Fatalf("events %s, %s/%v", created.event(), updated.event(), updated.payload["issue_event_type_name"])
	}
	c := created.comment()
	if c["id"] != out["id"] || updated.comment()["id"] != c["id"] {
		t.Errorf("comment ids differ: %v %v %v", out["id"], c["id"], updated.comment()["id"])
	}
	if c["body"] != "Have you tried *turning it off*?" || c["jsdPublic"] != true || dig(c, "author", "accountId") != "agent-1" ||
		dig(c, "author", "accountType") != "atlassian" || dig(c, "author", "displayName") != "Alex Agent" || c["created"] == nil || c["updated"] == nil {
		t.Errorf("comment %v", c)
	}
	if created.header.Get("X-Atlassian-Webhook-Identifier") == updated.header.Get("X-Atlassian-Webhook-Identifier") {
		t.Error("two events share an identifier")
	}
	list := e.requests(t)
	if len(list[0].Comments) != 1 || !list[0].Comments[0].Public || list[0].Comments[0].AuthorAccountID != "agent-1" {
		t.Errorf("control requests %+v", list[0].Comments)
	}
}

func TestWebhook_InternalCommentShapes(t *testing.T) {
	e := newEnv(t, Config{NoCommentRule: true}) // the comments' own events only; automation_test.go has the rule
	key := e.newRequest(t, "internal")
	tests := []struct {
		name      string
		body      map[string]any
		jsdPublic any // nil: absent
		visible   bool
	}{
		{"jsdPublic false", map[string]any{"body": "note", "public": false}, false, false},
		{"a visibility restriction only", map[string]any{"body": "note", "public": false, "internal_shape": "visibility"}, nil, true},
		{"the property only", map[string]any{"body": "note", "public": false, "internal_shape": "property"}, nil, false},
		{"public", map[string]any{"body": "hi", "public": true}, true, false},
		{"public and bare: the property only", map[string]any{"body": "hi", "public": true, "bare": true}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", tt.body)
			if code != 200 {
				t.Fatalf("%d %s", code, raw)
			}
			for range 2 {
				d := e.hook.next(t)
				c := d.comment()
				got, present := c["jsdPublic"]
				if (tt.jsdPublic == nil) == present || present && got != tt.jsdPublic {
					t.Errorf("%s: jsdPublic %v (present %v)", d.event(), got, present)
				}
				if _, v := c["visibility"]; v != tt.visible {
					t.Errorf("%s: visibility %v", d.event(), c["visibility"])
				}
			}
			// The property tells the truth in every shape.
			p := e.call(t, "GET", "/rest/api/3/comment/"+out["id"].(string)+"/properties/sd.public.comment", nil)
			internal := dig(p.json, "value", "internal")
			if p.status != 200 || internal != (tt.body["public"] != true) {
				t.Errorf("property %d %s", p.status, p.raw)
			}
		})
	}
	t.Run("a public comment with an internal shape is refused", func(t *testing.T) {
		if code, _, _ := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "x", "public": true, "internal_shape": "property"}); code != 400 {
			t.Errorf("got %d", code)
		}
		if code, _, _ := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "x", "bare": true, "internal_shape": "visibility"}); code != 400 {
			t.Errorf("bare with a shape: got %d", code)
		}
	})
	t.Run("an ADF comment fires an ADF body", func(t *testing.T) {
		e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "line one\nline two", "public": true, "adf": true})
		d := e.hook.next(t)
		e.hook.next(t)
		body, ok := d.comment()["body"].(map[string]any)
		if !ok || body["type"] != "doc" || body["version"].(float64) != 1 {
			t.Errorf("body %s", d.body)
		}
	})
}

func TestWebhook_TheBridgesOwnCommentsComeBack(t *testing.T) {
	e := newEnv(t, Config{NoCommentRule: true}) // the comments' own events only; automation_test.go has the rule
	key := e.newRequest(t, "echo")
	a := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "From Telegram: hi", "public": true})
	if a.status != 201 || a.json["public"] != true || dig(a.json, "author", "accountId") != "chatbridge-dev-app" || dig(a.json, "created", "epochMillis") == nil {
		t.Fatalf("comment %d %s", a.status, a.raw)
	}
	d1, d2 := e.hook.next(t), e.hook.next(t)
	for _, d := range []hookDelivery{d1, d2} {
		if dig(d.comment(), "author", "accountId") != "chatbridge-dev-app" || dig(d.comment(), "author", "accountType") != "app" || d.comment()["id"] != a.json["id"] {
			t.Errorf("%s %s", d.event(), d.body)
		}
	}
	internal := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "note", "public": false})
	if internal.json["public"] != false {
		t.Errorf("internal %s", internal.raw)
	}
	if d := e.hook.next(t); d.comment()["jsdPublic"] != false {
		t.Errorf("internal comment webhook %s", d.body)
	}
	e.hook.next(t)
	list := e.call(t, "GET", "/rest/servicedeskapi/request/"+key+"/comment", nil)
	if list.json["size"].(float64) != 2 {
		t.Errorf("comments %s", list.raw)
	}
	if empty := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": " "}); empty.status != 400 {
		t.Errorf("empty comment %d", empty.status)
	}
}

func TestPlatformComments(t *testing.T) {
	e := newEnv(t, Config{NoCommentRule: true}) // the comments' own events only; automation_test.go has the rule
	key := e.newRequest(t, "v3")
	adf := map[string]any{"version": 1, "type": "doc", "content": []any{
		map[string]any{"type": "paragraph", "content": []any{
			map[string]any{"type": "text", "text": "bold", "marks": []any{map[string]any{"type": "strong"}}},
			map[string]any{"type": "text", "text": " and "},
			map[string]any{"type": "text", "text": "link", "marks": []any{map[string]any{"type": "link", "attrs": map[string]any{"href": "https://x.org"}}}},
		}},
	}}
	tests := []struct {
		name      string
		body      map[string]any
		status    int
		jsdPublic any
	}{
		{"a string body", map[string]any{"body": "plain"}, 400, nil},
		{"an empty document", map[string]any{"body": map[string]any{"version": 1, "type": "doc", "content": []any{}}}, 400, nil},
		{"an ADF body", map[string]any{"body": adf}, 201, true},
		{"internal by property", map[string]any{"body": adf, "properties": []any{map[string]any{"key": "sd.public.comment", "value": map[string]any{"internal": true}}}}, 201, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.call(t, "POST", "/rest/api/3/issue/"+key+"/comment", tt.body)
			if a.status != tt.status {
				t.Fatalf("got %d %s", a.status, a.raw)
			}
			if tt.status != 201 {
				return
			}
			if a.json["jsdPublic"] != tt.jsdPublic || dig(a.json, "body", "type") != "doc" {
				t.Errorf("answer %s", a.raw)
			}
			d := e.hook.next(t)
			e.hook.next(t)
			if d.comment()["body"] != "*bold* and [link|https://x.org]" {
				t.Errorf("webhook body %q", d.comment()["body"])
			}
			g := e.call(t, "GET", "/rest/api/3/issue/"+key+"/comment/"+a.json["id"].(string), nil)
			if dig(g.json, "body", "type") != "doc" {
				t.Errorf("GET v3 comment %s", g.raw)
			}
		})
	}
	t.Run("an unknown property is 404", func(t *testing.T) {
		list := e.requests(t)
		id := list[0].Comments[0].ID
		if a := e.call(t, "GET", "/rest/api/3/comment/"+id+"/properties/nope", nil); a.status != 404 {
			t.Errorf("got %d", a.status)
		}
	})
}

func TestWebhook_Transitions(t *testing.T) {
	e := newEnv(t, Config{})
	key := e.newRequest(t, "to be solved")
	steps := []struct {
		to, category string
		resolution   any
	}{
		{"In Progress", "indeterminate", nil},
		{"Done", "done", "Done"},
		{"Waiting for support", "new", nil},
	}
	from := "Waiting for support"
	for _, st := range steps {
		t.Run("to "+st.to, func(t *testing.T) {
			code, out, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": st.to})
			if code != 200 || out["from"] != from || out["to"] != st.to {
				t.Fatalf("%d %s", code, raw)
			}
			d := e.hook.next(t)
			if d.event() != "jira:issue_updated" || !verify(testSecret, d) || dig(d.payload, "user", "accountId") != "agent-1" {
				t.Fatalf("delivery %s", d.body)
			}
			items := dig(d.payload, "changelog", "items").([]any)
			status := items[0].(map[string]any)
			if status["field"] != "status" || status["fieldId"] != "status" || status["fromString"] != from || status["toString"] != st.to {
				t.Errorf("status item %v", status)
			}
			if got := dig(d.payload, "issue", "fields", "status", "statusCategory", "key"); got != st.category {
				t.Errorf("category %v", got)
			}
			if got := dig(d.payload, "issue", "fields", "resolution", "name"); got != st.resolution {
				t.Errorf("resolution %v", got)
			}
			if list := e.requests(t); list[0].Status != st.to || list[0].StatusCategory != st.category {
				t.Errorf("control requests %+v", list[0])
			}
			from = st.to
		})
	}
	t.Run("JSM shows the category in upper case", func(t *testing.T) {
		a := e.call(t, "GET", "/rest/servicedeskapi/request/"+key, nil)
		if dig(a.json, "currentStatus", "statusCategory") != "NEW" {
			t.Errorf("%s", a.raw)
		}
	})
	t.Run("the bridge can transition through REST", func(t *testing.T) {
		tr := e.call(t, "GET", "/rest/api/3/issue/"+key+"/transitions", nil)
		var id string
		for _, x := range tr.json["transitions"].([]any) {
			if x.(map[string]any)["name"] == "Resolved" {
				id = x.(map[string]any)["id"].(string)
			}
		}
		if a := e.call(t, "POST", "/rest/api/3/issue/"+key+"/transitions", map[string]any{"transition": map[string]any{"id": id}}); a.status != 204 {
			t.Fatalf("transition %d %s", a.status, a.raw)
		}
		d := e.hook.next(t)
		if dig(d.payload, "issue", "fields", "status", "name") != "Resolved" || dig(d.payload, "user", "accountId") != "chatbridge-dev-app" {
			t.Errorf("%s", d.body)
		}
	})
	t.Run("every transition leads to its own status", func(t *testing.T) {
		// Once, "Waiting for support" (10001) and "Open" (1) shared the id 11.
		for _, want := range []string{"Waiting for support", "Open", "Waiting for customer", "Waiting for support"} {
			tr := e.call(t, "GET", "/rest/api/3/issue/"+key+"/transitions", nil)
			var id string
			for _, x := range tr.json["transitions"].([]any) {
				if dig(x, "to", "name") == want {
					id = x.(map[string]any)["id"].(string)
				}
			}
			if a := e.call(t, "POST", "/rest/api/3/issue/"+key+"/transitions", map[string]any{"transition": map[string]any{"id": id}}); a.status != 204 {
				t.Fatalf("transition %d %s", a.status, a.raw)
			}
			e.hook.next(t)
			if got := e.requests(t)[0].Status; got != want {
				t.Fatalf("transition %s went to %s, want %s", id, got, want)
			}
		}
	})
	t.Run("unknown statuses and keys are refused", func(t *testing.T) {
		if code, _, _ := e.control(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": "Teleported"}); code != 400 {
			t.Errorf("unknown status %d", code)
		}
		if code, _, _ := e.control(t, "POST", "/_sim/jira/requests/SUP-99/transition", map[string]any{"status": "Done"}); code != 404 {
			t.Errorf("unknown key %d", code)
		}
	})
}

func TestWebhook_Retries(t *testing.T) {
	t.Run("on 503 then succeeds, with the retry number", func(t *testing.T) {
		e := newEnv(t, Config{})
		key := e.newRequest(t, "retry")
		e.hook.answer(503)
		_, out, _ := e.control(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": "Done"})
		if out["webhooks"].([]any)[0].(map[string]any)["status"].(float64) != 503 {
			t.Errorf("control answer %v", out)
		}
		first, second := e.hook.next(t), e.hook.next(t)
		if first.header.Get("X-Atlassian-Webhook-Retry") != "" || second.header.Get("X-Atlassian-Webhook-Retry") != "1" {
			t.Errorf("retry headers %q, %q", first.header.Get("X-Atlassian-Webhook-Retry"), second.header.Get("X-Atlassian-Webhook-Retry"))
		}
		if first.header.Get("X-Atlassian-Webhook-Identifier") != second.header.Get("X-Atlassian-Webhook-Identifier") || string(first.body) != string(second.body) {
			t.Error("a retry is not the same delivery")
		}
		if !verify(testSecret, second) {
			t.Error("retry signature")
		}
		e.hook.none(t, e.sim)
	})
	statuses := []struct {
		status  int
		retried bool
	}{{408, true}, {409, true}, {425, true}, {429, true}, {500, true}, {400, false}, {401, false}, {404, false}}
	for _, st := range statuses {
		t.Run("status "+itoa(st.status), func(t *testing.T) {
			e := newEnv(t, Config{})
			key := e.newRequest(t, "s")
			e.hook.answer(st.status)
			e.control(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": "Done"})
			e.hook.next(t)
			if st.retried {
				if d := e.hook.next(t); d.header.Get("X-Atlassian-Webhook-Retry") != "1" {
					t.Errorf("retry header %q", d.header.Get("X-Atlassian-Webhook-Retry"))
				}
			} else {
				e.hook.none(t, e.sim)
			}
		})
	}
	t.Run("a bounded number of attempts", func(t *testing.T) {
		e := newEnv(t, Config{MaxAttempts: 3})
		key := e.newRequest(t, "doomed")
		e.hook.answer(500, 500, 500, 500)
		e.control(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": "Done"})
		for n := range 3 {
			if d := e.hook.next(t); n > 0 && d.header.Get("X-Atlassian-Webhook-Retry") != itoa(n) {
				t.Errorf("attempt %d header %q", n, d.header.Get("X-Atlassian-Webhook-Retry"))
			}
		}
		e.hook.none(t, e.sim)
		_, _, raw := e.control(t, "GET", "/_sim/jira/deliveries", nil)
		var ds []Delivery
		json.Unmarshal(raw, &ds)
		if n := len(ds); n != 4 || ds[3].Attempt != 2 || ds[3].Status != 500 { // issue_created + 3 attempts
			t.Errorf("deliveries %s", raw)
		}
	})
	t.Run("a timeout is retried", func(t *testing.T) {
		e := newEnv(t, Config{DeliveryTimeout: 500 * time.Millisecond})
		key := e.newRequest(t, "slow")
		e.hook.mu.Lock()
		e.hook.stall = 3 * time.Second
		e.hook.mu.Unlock()
		_, out, _ := e.control(t, "POST", "/_sim/jira/requests/"+key+"/transition", map[string]any{"status": "Done"})
		if res := out["webhooks"].([]any)[0].(map[string]any); res["error"] != "timeout" {
			t.Errorf("first attempt %v", res)
		}
		e.hook.next(t)
		if d := e.hook.next(t); d.header.Get("X-Atlassian-Webhook-Retry") != "1" {
			t.Errorf("retry header %q", d.header.Get("X-Atlassian-Webhook-Retry"))
		}
	})
}

func TestWebhookRegistration(t *testing.T) {
	e := newEnv(t, Config{})
	code, out, _ := e.control(t, "GET", "/_sim/jira/webhook", nil)
	if code != 200 || out["url"] != "https://example.com/jira-events" || out["secret"] != testSecret {
		t.Errorf("GET %v", out)
	}
	if code, _, raw := e.control(t, "PUT", "/_sim/jira/webhook", map[string]any{"url": "https://example.com/other", "secret": "s2"}); code != 200 {
		t.Fatalf("PUT %d %s", code, raw)
	}
	key := e.newRequest(t, "after re-registration")
	e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "x", "public": true})
	if d := e.hook.next(t); !verify("s2", d) {
		t.Error("not signed with the new secret")
	}
	e.hook.next(t)
	if code, _, _ := e.control(t, "PUT", "/_sim/jira/webhook", map[string]any{"url": "https://x", "secret": "s", "extra": 1}); code != 400 {
		t.Errorf("unknown field accepted: %d", code)
	}
	e.control(t, "PUT", "/_sim/jira/webhook", map[string]any{"url": "", "secret": ""})
	_, out, _ = e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "x", "public": true})
	if res := out["webhooks"].([]any)[0].(map[string]any); res["error"] != "no webhook registered" {
		t.Errorf("without a webhook %v", res)
	}
}

func TestPlatformComments_V2TakesWikiStrings(t *testing.T) {
	e := newEnv(t, Config{})
	key := e.newRequest(t, "v2")
	a := e.call(t, "POST", "/rest/api/2/issue/"+key+"/comment", map[string]any{"body": "plain *wiki*"})
	if a.status != 201 || a.json["body"] != "plain *wiki*" || a.json["jsdPublic"] != true {
		t.Fatalf("v2 comment %d %s", a.status, a.raw)
	}
	if d := e.hook.next(t); d.comment()["body"] != "plain *wiki*" {
		t.Errorf("webhook %s", d.body)
	}
	e.hook.next(t)
	if bad := e.call(t, "POST", "/rest/api/2/issue/"+key+"/comment", map[string]any{"body": map[string]any{"type": "doc"}}); bad.status != 400 {
		t.Errorf("v2 with an object body: %d", bad.status)
	}
}

func TestWebhook_AnEditFiresCommentUpdatedAndRedeliversAsTheNextRetry(t *testing.T) {
	e := newEnv(t, Config{NoCommentRule: true}) // the comments' own events only; automation_test.go has the rule
	key := e.newRequest(t, "edit")
	_, out, _ := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "Try it off and on", "public": true})
	e.hook.next(t)
	e.hook.next(t)
	id, _ := out["id"].(string)
	st, _, raw := e.control(t, "PUT", "/_sim/jira/requests/"+key+"/comment/"+id, map[string]any{"body": "Try it off, then on"})
	if st != http.StatusOK {
		t.Fatalf("edit: %d %s", st, raw)
	}
	edit := e.hook.next(t)
	c := edit.comment()
	if edit.event() != "comment_updated" || c["id"] != id || c["body"] != "Try it off, then on" || c["jsdPublic"] != true ||
		c["updated"] == c["created"] || !verify(testSecret, edit) {
		t.Fatalf("the edit's event: %s", edit.body)
	}
	ident := edit.header.Get("X-Atlassian-Webhook-Identifier")
	st, out, raw = e.control(t, "POST", "/_sim/jira/deliveries/"+ident+"/redeliver", nil)
	if st != http.StatusOK || dig(out, "webhooks") == nil {
		t.Fatalf("redeliver: %d %s", st, raw)
	}
	again := e.hook.next(t)
	if string(again.body) != string(edit.body) || again.header.Get("X-Atlassian-Webhook-Identifier") != ident ||
		again.header.Get("X-Atlassian-Webhook-Retry") != "1" || !verify(testSecret, again) {
		t.Errorf("the redelivery is not Jira's next retry of the edit: retry %q, body %s",
			again.header.Get("X-Atlassian-Webhook-Retry"), again.body)
	}
	e.control(t, "POST", "/_sim/jira/deliveries/"+ident+"/redeliver", nil)
	if r := e.hook.next(t).header.Get("X-Atlassian-Webhook-Retry"); r != "2" {
		t.Errorf("the second redelivery carries retry %q, want 2", r)
	}
	if st, _, _ := e.control(t, "POST", "/_sim/jira/deliveries/no-such-event/redeliver", nil); st != http.StatusNotFound {
		t.Errorf("an unknown identifier: %d, want 404", st)
	}
}
