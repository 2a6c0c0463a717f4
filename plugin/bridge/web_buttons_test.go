package bridge

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel/web"
)

// widgetWith is widgetHarness with more of the configuration.
func widgetWith(t *testing.T, more map[string]any) *harness {
	h := widgetHarness(t)
	cfg := map[string]any{"channel": "web", "botToken": nil, "allowedOrigins": []string{shopOrigin}, "satisfaction": false}
	for k, v := range more {
		cfg[k] = v
	}
	h.configure(cfg)
	return h
}

// widgetSession is a connected widget session of the harness's project.
func (h *harness) widgetSession() string {
	h.t.Helper()
	_, out := h.widget(shopOrigin, web.Request{Op: "session"})
	s, _ := out["session"].(string)
	if !web.ValidSession(s) {
		h.t.Fatalf("session %v", out)
	}
	return s
}

// widgetSay sends a widget message and checks the edge's answer.
func (h *harness) widgetSay(session, id, text, lang string) {
	h.t.Helper()
	if resp, _ := h.widget(shopOrigin, web.Request{Op: "send", Session: session, Name: "Ada", ID: id, Text: text, Lang: lang}); resp.Status != 200 {
		h.t.Fatalf("send %s: %d %s", id, resp.Status, resp.Body)
	}
}

// widgetPress sends a press of a button and checks the edge's answer.
func (h *harness) widgetPress(session, id, data string) {
	h.t.Helper()
	if resp, _ := h.widget(shopOrigin, web.Request{Op: "choose", Session: session, ID: id, Data: data}); resp.Status != 200 {
		h.t.Fatalf("press %s: %d %s", data, resp.Status, resp.Body)
	}
}

// lastChoices is the last "choices" event published to the widget.
func (h *harness) lastChoices() web.Event {
	h.t.Helper()
	pub := h.published()
	for i := len(pub) - 1; i >= 0; i-- {
		if pub[i].Type == "choices" {
			return pub[i]
		}
	}
	h.t.Fatalf("no choices published: %+v", pub)
	return web.Event{}
}

// After the resolution notice the widget gets five rating buttons; a press
// comes back as a widget request and the rating, with the customer's next
// message as its comment, reaches JSM's request feedback.
func TestWidgetRatesWithButtonsAndTheRatingReachesJira(t *testing.T) {
	h := widgetWith(t, map[string]any{"satisfaction": true})
	s := h.widgetSession()
	h.widgetSay(s, "m1", "The coffee machine leaks", "")
	h.drain()
	h.event("issue_updated_done.json")
	h.drain()
	survey := h.lastChoices()
	if survey.Text != surveyLanguages["en"].Prompt || len(survey.Choices) != 5 {
		t.Fatalf("survey %+v", survey)
	}
	for i, b := range survey.Choices {
		if b.Data != "csat:"+strconv.Itoa(i+1)+":SUP-1" || b.Label != strings.Repeat("★", i+1) {
			t.Errorf("button %d: %+v", i, b)
		}
	}
	h.widgetPress(s, "c1", survey.Choices[3].Data)
	h.widgetPress(s, "c1", survey.Choices[3].Data) // the page's retry: one press
	h.drainNow()
	if r, _ := feedbackOf(t, h, "SUP-1"); r != 0 {
		t.Fatalf("feedback %d before the comment window closed", r)
	}
	pub := h.published()
	if last := pub[len(pub)-1]; last.Type != "reply" || !strings.HasPrefix(last.Text, "Thank you for your rating!") {
		t.Fatalf("after the press: %+v", last)
	}
	// Another session's press, made while this chat's rating still waits
	// for its comment (so Jira holds no feedback yet), rates nothing.
	other := h.widgetSession()
	h.widgetPress(other, "c1", "csat:1:SUP-1")
	h.drainNow()
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "csat:") && k != csatKey(testProject, "web", web.ChatOf(s)) {
			t.Fatalf("another session's press left a pending rating %s", k)
		}
	}
	h.widgetSay(s, "m2", "Fixed the same day", "")
	h.drainNow()
	if r, c := feedbackOf(t, h, "SUP-1"); r != 4 || c != "Fixed the same day" {
		t.Fatalf("feedback %d %q", r, c)
	}
	if h.jira.issueCount() != 1 {
		t.Fatal("the comment opened a new request")
	}
}

// A widget's first message asks for the request type with buttons; the
// press opens the request with the chosen type.
func TestWidgetFirstMessageMenuPicksTheRequestType(t *testing.T) {
	h := widgetWith(t, map[string]any{"requestTypeMenu": []string{"get help", "Report a delivery problem"}})
	s := h.widgetSession()
	h.widgetSay(s, "m1", "My parcel never arrived", "")
	held := h.dueNow()
	if h.jira.issueCount() != 0 || len(held) != 1 {
		t.Fatalf("%d requests, %d held", h.jira.issueCount(), len(held))
	}
	menu := h.lastChoices()
	if menu.Text != routeLanguages["en"].Prompt || len(menu.Choices) != 2 || menu.Choices[1] != (web.Button{Label: "Report a delivery problem", Data: "rt:12"}) {
		t.Fatalf("menu %+v", menu)
	}
	h.widgetPress(s, "c1", "rt:12")
	held = append(held, h.dueNow()...)
	if left := h.waitHeld(held, 5); len(left) != 0 {
		t.Fatalf("%d still held", len(left))
	}
	is := h.jira.issue("SUP-1")
	if h.jira.issueCount() != 1 || is.RequestType != "12" || !strings.Contains(is.Description, "My parcel never arrived") {
		t.Fatalf("request %+v", is)
	}
}

// /requests lists the chat's open requests as widget buttons; a press
// chooses the one the customer writes to.
func TestWidgetRequestsListChoosesTheRequestToWriteTo(t *testing.T) {
	h := widgetHarness(t)
	s := h.widgetSession()
	h.widgetSay(s, "m1", "First problem", "")
	h.drain()
	h.widgetSay(s, "m2", "/new", "")
	h.drain()
	h.widgetSay(s, "m3", "Second problem", "")
	h.drain()
	if h.jira.issueCount() != 2 {
		t.Fatalf("%d requests", h.jira.issueCount())
	}
	h.widgetSay(s, "m4", "/requests", "")
	h.drain()
	list := h.lastChoices()
	var data []string
	for _, b := range list.Choices {
		data = append(data, b.Data)
	}
	if got := strings.Join(data, " "); got != requestChoicePrefix+"SUP-2 "+requestChoicePrefix+"SUP-1 "+requestChoicePrefix+choiceNew {
		t.Fatalf("choices %s", got)
	}
	h.widgetPress(s, "c1", requestChoicePrefix+"SUP-1")
	h.drain()
	h.widgetSay(s, "m5", "More on the first", "")
	h.drain()
	if c := h.jira.issue("SUP-1").Comments; len(c) != 1 || !strings.Contains(c[0].Body, "More on the first") {
		t.Fatalf("SUP-1 comments %+v", c)
	}
	if c := h.jira.issue("SUP-2").Comments; len(c) != 0 {
		t.Fatalf("SUP-2 comments %+v", c)
	}
}

// The browser's language is the chat's, as Telegram's language_code is.
func TestWidgetSpeaksTheBrowsersLanguage(t *testing.T) {
	h := widgetWith(t, map[string]any{"acknowledge": true})
	s := h.widgetSession()
	h.widgetSay(s, "m1", "Die Kaffeemaschine tropft", "de")
	h.drain()
	pub := h.published()
	if len(pub) == 0 || pub[0].Text != fill(languages["de"].Acknowledged, "{key}", "SUP-1") {
		t.Fatalf("published %+v", pub)
	}
	// The resolution notice, sent later without a message, is in German too.
	h.event("issue_updated_done.json")
	h.drain()
	if pub = h.published(); pub[len(pub)-1].Text != languages["de"].Resolved {
		t.Fatalf("resolution %+v", pub[len(pub)-1])
	}
	// A language the bot does not speak is the project's.
	o := h.widgetSession()
	h.widgetSay(o, "m1", "Il caffè gocciola", "it")
	h.drain()
	if pub = h.published(); pub[len(pub)-1].Text != fill(languages["en"].Acknowledged, "{key}", "SUP-2") {
		t.Fatalf("published %+v", pub[len(pub)-1])
	}
	// A tag of another shape is refused.
	if resp, _ := h.widget(shopOrigin, web.Request{Op: "send", Session: o, ID: "m2", Text: "x", Lang: "de-AT"}); resp.Status != 400 {
		t.Errorf("a full tag: %d", resp.Status)
	}
}

// Anyone on the web can press: a session's presses count against its flood
// limit as its messages do, so a flood of presses is answered at most
// floodLimit times and once with the notice; another session is not held.
func TestWidgetPressesCountAgainstTheSessionsFloodLimit(t *testing.T) {
	h := widgetWith(t, map[string]any{"floodLimit": 3, "floodWindowSeconds": 60})
	flooder, other := h.widgetSession(), h.widgetSession()
	for i := range 20 {
		h.widgetPress(flooder, "c"+strconv.Itoa(i), "rt:99")
	}
	h.widgetPress(other, "c1", "rt:99")
	h.drain()
	closed, notices := map[string]int{}, 0
	for _, p := range h.env.Live.Published() {
		switch {
		case strings.Contains(string(p.Payload), routeLanguages["en"].Closed):
			closed[p.Channel]++
		case strings.Contains(string(p.Payload), "You are sending messages faster"):
			notices++
		}
	}
	if closed[web.RealtimeChannel(web.ChatOf(flooder))] != 3 || closed[web.RealtimeChannel(web.ChatOf(other))] != 1 || notices != 1 {
		t.Errorf("answers to refused presses %v, %d flood notices; want 3 to the flooder, 1 to the other, one notice", closed, notices)
	}
}

// A blocked session's presses are dropped as its messages are: no answer
// is published to it, while another session's press is answered.
func TestWidgetPressesOfABlockedSessionAreDropped(t *testing.T) {
	h := widgetWith(t, nil)
	blocked, other := h.widgetSession(), h.widgetSession()
	if a, err := h.resolve("blocks.add", map[string]any{"projectKey": testProject, "channel": web.Name, "chat": web.ChatOf(blocked)}); err != nil || a["ok"] != true {
		t.Fatalf("blocks.add: %v %v", a, err)
	}
	h.widgetPress(blocked, "c1", "rt:99")
	h.widgetPress(other, "c1", "rt:99")
	h.drain()
	answers := map[string]int{}
	for _, p := range h.env.Live.Published() {
		answers[p.Channel]++
	}
	if answers[web.RealtimeChannel(web.ChatOf(blocked))] != 0 || answers[web.RealtimeChannel(web.ChatOf(other))] != 1 {
		t.Errorf("answers to presses %v: want none to the blocked session, one to the other", answers)
	}
}
