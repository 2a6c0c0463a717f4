package bridge

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel/web"
	"github.com/chatbridge/chatbridge/wit/abi"
)

const (
	shopOrigin = "https://shop.example"
	agentID    = "5b10ac8d82e05b22cc7d4ef5" // the agent of testdata/jira/comment_created_*.json
)

// widgetHarness is a harness with the project configured for the website
// widget on shopOrigin.
func widgetHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.ctx.WebTriggers = append(h.ctx.WebTriggers, abi.Header{Name: "web-widget", Value: "https://bridge.example.com/x/wt-web"})
	h.configure(map[string]any{"channel": "web", "botToken": nil, "allowedOrigins": []string{shopOrigin}, "satisfaction": false})
	return h
}

// widget POSTs a widget request from a page of origin.
func (h *harness) widget(origin string, r web.Request) (*abi.Response, map[string]any) {
	h.t.Helper()
	body, _ := json.Marshal(r)
	req := &abi.WebTriggerRequest{Context: h.ctx, Trigger: "web-widget", Method: "POST", Path: "/",
		Query: []abi.Header{{Name: "project", Value: testProject}}, Body: body,
		Headers: []abi.Header{{Name: "origin", Value: origin}, {Name: "content-type", Value: "text/plain"}}}
	resp, err := h.b.WebTrigger(h.env.Env, req)
	if err != nil {
		h.t.Fatal(err)
	}
	var out map[string]any
	_ = json.Unmarshal(resp.Body, &out)
	return resp, out
}

func (h *harness) published() []web.Event {
	var out []web.Event
	for _, p := range h.env.Live.Published() {
		var ev web.Event
		if err := json.Unmarshal(p.Payload, &ev); err != nil {
			h.t.Fatalf("published %q: %v", p.Payload, err)
		}
		out = append(out, ev)
	}
	return out
}

func TestWidgetOnAnOriginNotAllowedGetsNothing(t *testing.T) {
	h := widgetHarness(t)
	for _, origin := range []string{"https://evil.example", "", "https://shop.example.evil.example", "http://shop.example"} {
		resp, out := h.widget(origin, web.Request{Op: "session"})
		if resp.Status != 403 || abi.Get(resp.Headers, "Access-Control-Allow-Origin") != "" || out["session"] != nil {
			t.Errorf("origin %q: %d %s %v", origin, resp.Status, resp.Body, resp.Headers)
		}
	}
	s := web.NewSession()
	if resp, _ := h.widget("https://evil.example", web.Request{Op: "send", Session: s, ID: "m1", Text: "hi"}); resp.Status != 403 {
		t.Errorf("a send from another origin: %d", resp.Status)
	}
	h.drain()
	if h.jira.issueCount() != 0 || len(h.env.Live.Tokens()) != 0 {
		t.Errorf("a refused page opened %d requests, got %d tokens", h.jira.issueCount(), len(h.env.Live.Tokens()))
	}
}

func TestWidgetConversationLiveRepliesNoInternalNotesAndHistoryFromJira(t *testing.T) {
	h := widgetHarness(t)
	resp, out := h.widget(shopOrigin, web.Request{Op: "session"})
	session, _ := out["session"].(string)
	if resp.Status != 200 || !web.ValidSession(session) || abi.Get(resp.Headers, "Access-Control-Allow-Origin") != shopOrigin {
		t.Fatalf("session: %d %s", resp.Status, resp.Body)
	}
	resp, out = h.widget(shopOrigin, web.Request{Op: "connect", Session: session, Name: "Ada"})
	if resp.Status != 200 || out["token"] == "" || len(out["history"].([]any)) != 0 {
		t.Fatalf("connect: %d %s", resp.Status, resp.Body)
	}
	chat := web.ChatOf(session)
	if tk := h.env.Live.Tokens(); len(tk) != 1 || tk[0].Channel != web.RealtimeChannel(chat) || tk[0].Origin != shopOrigin {
		t.Errorf("tokens %+v: want one for the session's channel and the page's origin", tk)
	}

	// The first message opens a request, the next comments on it; a retry
	// of the first is the same message.
	for _, m := range []web.Request{{ID: "m1", Text: "My order has not arrived."}, {ID: "m1", Text: "My order has not arrived."}, {ID: "m2", Text: "It is #4711."}} {
		m.Op, m.Session, m.Name = "send", session, "Ada"
		if resp, _ := h.widget(shopOrigin, m); resp.Status != 200 {
			t.Fatalf("send: %d %s", resp.Status, resp.Body)
		}
	}
	h.drain()
	is := h.jira.issue("SUP-1")
	if h.jira.issueCount() != 1 || !strings.Contains(is.Description, "My order has not arrived.") || len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Body, "#4711") {
		t.Fatalf("%d requests; %+v", h.jira.issueCount(), is)
	}

	// An agent's public reply goes live; an internal note never.
	h.jira.mu.Lock()
	is.Comments = append(is.Comments,
		fakeComment{ID: "10101", Body: "Hi Anna, sorry about that!", Public: true, Author: agentID, Created: h.now},
		fakeComment{ID: "10102", Body: "Internal: customer is a VIP", Public: false, Author: agentID, Created: h.now})
	h.jira.mu.Unlock()
	h.event("comment_created_public.json")
	h.event("comment_created_internal.json")
	h.drain()
	pub := h.published()
	if len(pub) != 1 || pub[0].Type != "reply" || !strings.Contains(pub[0].Text, "sorry about that") {
		t.Fatalf("published %+v: want the public reply only", pub)
	}
	for _, p := range h.env.Live.Published() {
		if p.Channel != web.RealtimeChannel(chat) {
			t.Errorf("published to %s", p.Channel)
		}
		if strings.Contains(string(p.Payload), "VIP") {
			t.Error("an internal note reached the page")
		}
	}

	// A reload reads the history from Jira: the customer's messages and
	// the public reply, never the internal note.
	_, out = h.widget(shopOrigin, web.Request{Op: "connect", Session: session, Name: "Ada"})
	raw, _ := json.Marshal(out["history"])
	var hist []historyItem
	_ = json.Unmarshal(raw, &hist)
	if len(hist) != 3 || hist[0].From != "me" || !strings.Contains(hist[0].Text, "My order has not arrived.") ||
		hist[1].From != "me" || !strings.Contains(hist[1].Text, "#4711") || hist[2].From != "agent" || !strings.Contains(hist[2].Text, "sorry") {
		t.Fatalf("history %s", raw)
	}
	if strings.Contains(string(raw), "VIP") {
		t.Error("the history holds an internal note")
	}

	// The resolution notice goes live too.
	h.event("issue_updated_done.json")
	h.drain()
	if pub := h.published(); len(pub) != 2 || pub[1].Text != languages["en"].Resolved {
		t.Errorf("published %+v: want the resolution notice", pub)
	}
}

func TestWidgetConfigurationNeedsAllowedOriginsAndNoToken(t *testing.T) {
	h := newHarness(t)
	h.ctx.WebTriggers = append(h.ctx.WebTriggers, abi.Header{Name: "web-widget", Value: "https://bridge.example.com/x/wt-web"})
	for _, c := range []struct {
		name    string
		origins any
		token   any
		field   string
	}{
		{"no origins", []string{}, nil, "allowedOrigins"},
		{"an origin with a path", []string{"https://shop.example/"}, nil, "allowedOrigins"},
		{"plain http off loopback", []string{"http://shop.example"}, nil, "allowedOrigins"},
		{"an origin twice", []string{shopOrigin, shopOrigin}, nil, "allowedOrigins"},
		{"a token", []string{shopOrigin}, goodToken, "botToken"},
	} {
		a, err := h.resolve("config.set", map[string]any{"projectKey": testProject, "channel": "web", "botToken": c.token,
			"allowedOrigins": c.origins, "serviceDeskId": "2", "requestTypeId": "11"})
		if err != nil {
			t.Fatal(err)
		}
		errs, _ := a["errors"].(map[string]any)
		if a["ok"] != false || errs[c.field] == nil {
			t.Errorf("%s: %v, want an error on %s", c.name, a, c.field)
		}
	}
	a, err := h.resolve("config.set", map[string]any{"projectKey": testProject, "channel": "web",
		"allowedOrigins": []string{shopOrigin, "http://127.0.0.1:8080"}, "serviceDeskId": "2", "requestTypeId": "11"})
	if err != nil || a["ok"] != true {
		t.Fatalf("a good configuration: %v %v", a, err)
	}
}

// A flood from one widget session meets the project's flood limit as a
// messenger's chat does, and a message over the widget's size limit is
// refused with 413 before it is queued; another session is not held back.
func TestWidgetFloodFromOneSessionMeetsTheLimitsAndAnotherSessionDoesNot(t *testing.T) {
	h := newHarness(t)
	h.ctx.WebTriggers = append(h.ctx.WebTriggers, abi.Header{Name: "web-widget", Value: "https://bridge.example.com/x/wt-web"})
	h.configure(map[string]any{"channel": "web", "botToken": nil, "allowedOrigins": []string{shopOrigin}, "satisfaction": false,
		"floodLimit": 5, "floodWindowSeconds": 60})
	flooder, other := web.NewSession(), web.NewSession()
	for i := range 40 {
		resp, _ := h.widget(shopOrigin, web.Request{Op: "send", Session: flooder, Name: "Flo", ID: "f" + strconv.Itoa(i), Text: "flood " + strconv.Itoa(i)})
		if resp.Status != 200 {
			t.Fatalf("send %d: %d", i, resp.Status)
		}
	}
	if resp, _ := h.widget(shopOrigin, web.Request{Op: "send", Session: flooder, ID: "big", Text: strings.Repeat("x", web.MaxText+1)}); resp.Status != 413 {
		t.Errorf("a message over the size limit: %d, want 413", resp.Status)
	}
	if resp, _ := h.widget(shopOrigin, web.Request{Op: "send", Session: other, Name: "Otto", ID: "o1", Text: "an unrelated question"}); resp.Status != 200 {
		t.Fatalf("another session: %d", resp.Status)
	}
	h.drain()
	var floodTexts, otherTexts int
	for _, key := range []string{"SUP-1", "SUP-2"} {
		is := h.jira.issue(key)
		if is == nil {
			continue
		}
		all := is.Description
		for _, c := range is.Comments {
			all += "\n" + c.Body
		}
		floodTexts += strings.Count(all, "flood ")
		otherTexts += strings.Count(all, "an unrelated question")
	}
	if floodTexts != 5 {
		t.Errorf("%d of 40 flooded messages reached Jira, want the flood limit of 5", floodTexts)
	}
	if otherTexts != 1 || h.jira.issueCount() != 2 {
		t.Errorf("the other session: %d texts in %d requests", otherTexts, h.jira.issueCount())
	}
}

// uploadFile does what the widget and the host do for a customer's file:
// the widget asks for an upload link; the host, standing in for the page's
// POST to it, puts the file among the service desk's temporary attachments
// and records the link's result; the widget asks to attach it. It returns
// the answers to the upload and the attach (nil when the link was refused).
func (h *harness) uploadFile(origin, session, id, name, mimeType string, data []byte) (link, attach *abi.Response) {
	h.t.Helper()
	resp, out := h.widget(origin, web.Request{Op: "upload", Session: session, Name: "Ada", ID: id, File: name, MIME: mimeType, Size: int64(len(data))})
	if resp.Status != 200 {
		return resp, nil
	}
	url, _ := out["link"].(string)
	h.jira.mu.Lock()
	tmp := "temp-" + id + "-" + strconv.Itoa(len(h.jira.temp))
	h.jira.temp[tmp] = struct {
		name string
		data []byte
	}{name, data}
	h.jira.mu.Unlock()
	if !h.env.Uploads.Upload(url, int64(len(data)), tmp) {
		h.t.Fatalf("the widget got a link %q the host never minted", url)
	}
	attach, _ = h.widget(origin, web.Request{Op: "attach", Session: session, Name: "Ada", ID: id, Link: url})
	return resp, attach
}

func TestWidgetUploadGoesByLinkAndIsAttachedToTheOpenRequestOnce(t *testing.T) {
	h := widgetHarness(t)
	s := web.NewSession()
	photo := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 1000)
	if resp, _ := h.uploadFile(shopOrigin, s, "u0", "early.png", "image/png", photo); resp.Status != 409 {
		t.Errorf("an upload before any message: %d, want 409", resp.Status)
	}
	if len(h.env.Uploads.Asked()) != 0 {
		t.Fatalf("a link was minted for a chat without a request")
	}
	if resp, _ := h.widget(shopOrigin, web.Request{Op: "send", Session: s, Name: "Ada", ID: "m1", Text: "Here is the label"}); resp.Status != 200 {
		t.Fatal(resp.Status)
	}
	h.drain()
	link, attach := h.uploadFile(shopOrigin, s, "u1", "label.png", "image/png", photo)
	if link.Status != 200 || attach == nil || attach.Status != 200 || abi.Get(attach.Headers, "Access-Control-Allow-Origin") != shopOrigin {
		t.Fatalf("upload: %d, attach %v", link.Status, attach)
	}
	asked := h.env.Uploads.Asked()
	if len(asked) != 1 || asked[0].ServiceDesk != "2" || asked[0].Origin != shopOrigin || asked[0].MaxBytes != int64(len(photo)) ||
		asked[0].Subject != web.UploadSubject(web.ChatOf(s), "u1") || asked[0].MediaType != "image/png" {
		t.Errorf("upload links asked for %+v (bound to the checked type image/png)", asked)
	}
	// A retried attach (the same widget id) attaches once.
	if resp, _ := h.widget(shopOrigin, web.Request{Op: "attach", Session: s, ID: "u1", Link: asked[0].Link}); resp.Status != 200 {
		t.Errorf("a retried attach: %d", resp.Status)
	}
	is := h.jira.issue("SUP-1")
	if len(is.Attached) != 1 || is.Attached[0].Names[0] != "label.png" || !bytes.Equal(is.Attached[0].Data[0], photo) || !is.Attached[0].Public {
		t.Fatalf("attached %+v", is.Attached)
	}

	// Another session cannot attach this session's file, even with its
	// link; nor can this session attach it under another file id, nor
	// attach a link that received nothing.
	other := web.NewSession()
	if resp, _ := h.widget(shopOrigin, web.Request{Op: "send", Session: other, Name: "Eve", ID: "m1", Text: "hello"}); resp.Status != 200 {
		t.Fatal(resp.Status)
	}
	h.drain()
	for _, c := range []struct {
		name string
		r    web.Request
	}{
		{"another session with the link", web.Request{Op: "attach", Session: other, ID: "u1", Link: asked[0].Link}},
		{"another file id", web.Request{Op: "attach", Session: s, ID: "u9", Link: asked[0].Link}},
		{"a link never minted", web.Request{Op: "attach", Session: s, ID: "u8", Link: "https://sdktest.edge/ul/999"}},
	} {
		if resp, _ := h.widget(shopOrigin, c.r); resp.Status != 404 {
			t.Errorf("%s: %d, want 404", c.name, resp.Status)
		}
	}
	unused, _ := h.widget(shopOrigin, web.Request{Op: "upload", Session: s, ID: "u7", File: "a.png", MIME: "image/png", Size: 10})
	if unused.Status != 200 {
		t.Fatal(unused.Status)
	}
	if resp, _ := h.widget(shopOrigin, web.Request{Op: "attach", Session: s, ID: "u7", Link: h.env.Uploads.Asked()[1].Link}); resp.Status != 404 {
		t.Errorf("a link that received nothing yet: %d, want 404", resp.Status)
	}

	for _, c := range []struct {
		name   string
		origin string
		size   int64
		want   uint16
	}{
		{"from another origin", "https://evil.example", 10, 403},
		{"over the size limit", shopOrigin, web.MaxUpload + 1, 413},
	} {
		if resp, _ := h.widget(c.origin, web.Request{Op: "upload", Session: s, ID: "u2", File: "x.png", MIME: "image/png", Size: c.size}); resp.Status != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.Status, c.want)
		}
	}
	h.configure(map[string]any{"channel": "web", "botToken": nil, "attachmentsIn": []string{"photo"}})
	if resp, _ := h.uploadFile(shopOrigin, s, "u3", "notes.pdf", "application/pdf", []byte("%PDF")); resp.Status != 415 {
		t.Errorf("a kind the project does not accept: %d, want 415", resp.Status)
	}
	if n := len(h.jira.issue("SUP-1").Attached); n != 1 {
		t.Errorf("%d attachments after the refusals, want 1", n)
	}
	if n := len(h.env.Uploads.Asked()); n != 2 {
		t.Errorf("%d upload links minted, want 2: none for a refused file", n)
	}
}
