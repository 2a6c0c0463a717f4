package jira

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// An administrator's account registers an admin webhook through
// /rest/webhooks/1.0/webhook: Jira then delivers the events it names, for
// the issues its JQL selects, signed with its secret, to its URL; deleting
// it stops them.
func TestAdminWebhooks_RegisteredByAnAdministratorDeliverSigned(t *testing.T) {
	e := newEnv(t, Config{NoCommentRule: true})
	if code, _, raw := e.control(t, "PUT", "/_sim/jira/webhook", map[string]any{"url": ""}); code != 200 {
		t.Fatalf("clear the settings page's webhook: %d %s", code, raw)
	}
	url := e.hook.srv.URL + "/x/jira-events"
	reg := e.call(t, "POST", "/rest/webhooks/1.0/webhook", map[string]any{
		"name": "ChatBridge", "url": url, "events": []string{"jira:issue_created", "comment_created"},
		"filters": map[string]string{"issue-related-events-section": "project in (SUP, OTHER)"}, "excludeBody": false, "secret": "s3cret",
	})
	self, _ := reg.json["self"].(string)
	if reg.status != 201 || !strings.HasPrefix(self, "https://dev.atlassian.net/rest/webhooks/1.0/webhook/") || reg.json["url"] != url || reg.json["secret"] != nil {
		t.Fatalf("register: %d %s", reg.status, reg.raw)
	}
	id := self[strings.LastIndex(self, "/")+1:]
	if g := e.call(t, "GET", "/rest/webhooks/1.0/webhook/"+id, nil); g.status != 200 || g.json["name"] != "ChatBridge" || dig(g.json, "filters", "issue-related-events-section") != "project in (SUP, OTHER)" {
		t.Errorf("get: %d %s", g.status, g.raw)
	}
	if l := e.call(t, "GET", "/rest/webhooks/1.0/webhook", nil); l.status != 200 || !strings.Contains(string(l.raw), self) {
		t.Errorf("list: %d %s", l.status, l.raw)
	}

	key := e.newRequest(t, "hello") // its jira:issue_created arrives
	code, out, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "hi", "public": true})
	if res := out["webhooks"].([]any); code != 200 || len(res) != 2 || res[0].(map[string]any)["status"] != 200.0 || res[1].(map[string]any)["error"] != "no webhook registered" {
		t.Fatalf("comment: %d %s (only comment_created is registered)", code, raw)
	}
	d := e.hook.next(t)
	if d.event() != "comment_created" || !verify("s3cret", d) || d.header.Get("X-Atlassian-Webhook-Identifier") == "" {
		t.Errorf("delivery %s %v", d.body, d.header)
	}

	if del := e.call(t, "DELETE", "/rest/webhooks/1.0/webhook/"+id, nil); del.status != 204 {
		t.Fatalf("delete: %d %s", del.status, del.raw)
	}
	if g := e.call(t, "GET", "/rest/webhooks/1.0/webhook/"+id, nil); g.status != 404 {
		t.Errorf("get after delete: %d %s", g.status, g.raw)
	}
	if del := e.call(t, "DELETE", "/rest/webhooks/1.0/webhook/"+id, nil); del.status != 404 {
		t.Errorf("second delete: %d %s", del.status, del.raw)
	}
	_, out, raw = e.control(t, "POST", "/_sim/jira/requests/"+key+"/comment", map[string]any{"body": "again", "public": true})
	if res := out["webhooks"].([]any); len(res) != 2 || res[0].(map[string]any)["error"] != "no webhook registered" {
		t.Errorf("after delete the comment went somewhere: %s", raw)
	}
}

// The JQL filter selects issues: a webhook for another project gets
// nothing of this one; a JQL the simulator cannot evaluate is refused, not
// ignored; a body without name or URL is refused field by field.
func TestAdminWebhooks_FilterAndBadBodies(t *testing.T) {
	e := newEnv(t, Config{NoCommentRule: true})
	other := newReceiver(t)
	var ids []string
	for _, jql := range []string{"project = OTHER", `project = "SUP"`} {
		reg := e.call(t, "POST", "/rest/webhooks/1.0/webhook", map[string]any{
			"name": jql, "url": other.srv.URL, "events": []string{"jira:issue_created"},
			"filters": map[string]string{"issue-related-events-section": jql},
		})
		if reg.status != 201 {
			t.Fatalf("register: %d %s", reg.status, reg.raw)
		}
		self := reg.json["self"].(string)
		ids = append(ids, self[strings.LastIndex(self, "/")+1:])
	}
	e.newRequest(t, "the SUP webhook hears this, the OTHER one does not")
	// Webhooks are tried in registration order: once the SUP one's delivery
	// is in, the OTHER one's would have been made.
	if d := other.next(t); d.event() != "jira:issue_created" {
		t.Fatalf("delivery %s", d.body)
	}
	var raw []byte
	waitfor.Until(t, 5*time.Second, "the SUP webhook's delivery in the log", func() string {
		_, _, raw = e.control(t, "GET", "/_sim/jira/deliveries", nil)
		if !strings.Contains(string(raw), `"webhook":"`+ids[1]+`"`) {
			return string(raw)
		}
		return ""
	})
	if strings.Contains(string(raw), `"webhook":"`+ids[0]+`"`) {
		t.Errorf("the OTHER webhook (%s) got SUP's event: %s", ids[0], raw)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "https://x.example/h"}, "name"},
		{map[string]any{"name": "n", "url": "ftp://x"}, "url"},
		{map[string]any{"name": "n", "url": "https://x.example/h", "filters": map[string]string{"issue-related-events-section": "assignee = currentUser()"}}, "filters"},
	} {
		a := e.call(t, "POST", "/rest/webhooks/1.0/webhook", c.body)
		if a.status != 400 || dig(a.json, "errors", c.field) == nil {
			t.Errorf("%v: %d %s", c.body, a.status, a.raw)
		}
	}
}

// An account without Administer Jira is refused every admin webhook call
// with 403, as Jira refuses it; the control API switches it.
func TestAdminWebhooks_ANonAdministratorIsRefused403(t *testing.T) {
	e := newEnv(t, Config{NotSiteAdmin: true})
	body := map[string]any{"name": "n", "url": "https://x.example/h", "events": []string{"comment_created"}}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/rest/webhooks/1.0/webhook", body},
		{"GET", "/rest/webhooks/1.0/webhook", nil},
		{"GET", "/rest/webhooks/1.0/webhook/1", nil},
		{"DELETE", "/rest/webhooks/1.0/webhook/1", nil},
	} {
		if a := e.call(t, c.method, c.path, c.body); a.status != http.StatusForbidden || len(a.json["errorMessages"].([]any)) != 1 {
			t.Errorf("%s %s: %d %s", c.method, c.path, a.status, a.raw)
		}
	}
	if code, out, _ := e.control(t, "GET", "/_sim/jira/site-admin", nil); code != 200 || out["site_admin"] != false {
		t.Errorf("site-admin: %d %v", code, out)
	}
	if code, _, raw := e.control(t, "PUT", "/_sim/jira/site-admin", map[string]any{"site_admin": true}); code != 200 {
		t.Fatalf("put site-admin: %d %s", code, raw)
	}
	if a := e.call(t, "POST", "/rest/webhooks/1.0/webhook", body); a.status != 201 {
		t.Errorf("after the switch: %d %s", a.status, a.raw)
	}
	if code, _, raw := e.control(t, "GET", "/_sim/jira/admin-webhooks", nil); code != 200 || !strings.Contains(string(raw), `"url":"https://x.example/h"`) {
		t.Errorf("admin-webhooks: %d %s", code, raw)
	}
}
