package bridge

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// withMenu configures the project with a menu of the fixture desk's two
// request types ("Get help" 11, the default, and "Report a delivery
// problem" 12).
func withMenu(h *harness) {
	h.t.Helper()
	h.configure(map[string]any{"requestTypeMenu": []string{"get help", "Report a delivery problem"}})
}

// dueNow delivers what is due now; the delayed (held) messages come back
// undelivered.
func (h *harness) dueNow() (held []sdktest.Pushed) {
	h.t.Helper()
	for round := 0; round < 50; round++ {
		items := h.env.Pushed.Take()
		if len(items) == 0 {
			return held
		}
		for _, p := range items {
			if p.Delay > 0 {
				held = append(held, p)
				continue
			}
			if res := h.deliver(p, 1); res.RetryAfterSeconds != 0 {
				h.t.Fatalf("retry asked: %+v", res)
			}
		}
	}
	h.t.Fatal("queue never settled")
	return nil
}

// waitHeld delivers held messages after their delay until none is held.
func (h *harness) waitHeld(held []sdktest.Pushed, rounds int) []sdktest.Pushed {
	h.t.Helper()
	for ; rounds > 0 && len(held) > 0; rounds-- {
		var next []sdktest.Pushed
		for _, p := range held {
			h.advance(p.Delay)
			h.deliver(p, 1)
		}
		next = h.dueNow()
		held = next
	}
	return held
}

// inventoried checks the records under prefix: at least one, each of a
// sealed kind of RecordKinds that names its project and time.
func inventoried(t *testing.T, h *harness, prefix string) {
	t.Helper()
	n := 0
	for _, k := range h.env.Store.Keys() {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		n++
		kind, ok := KindOf(k)
		v, _ := h.env.Store.Get(k)
		if !ok || !kind.Sealed || kind.project(k, v) != testProject || kind.at(v) == 0 {
			t.Errorf("%s: kind %+v %v", k, kind, ok)
		}
	}
	if n == 0 {
		t.Errorf("no %s record stored", prefix)
	}
}

func storedText(h *harness, text string) []string {
	var keys []string
	page, _ := h.env.Store.Query("", "", 1000)
	for _, e := range page.Entries {
		if strings.Contains(string(e.Value), text) {
			keys = append(keys, e.Key)
		}
	}
	return keys
}

// A chat's first message asks for the request type with buttons and opens
// nothing; the message waits in the queue, never in storage; the press
// opens the request with the chosen type, carrying the first message, and
// the chat's next message is a comment with no second menu.
func TestFirstMessageMenuOpensTheRequestWithTheChosenType(t *testing.T) {
	h := newHarness(t)
	withMenu(h)
	const chat = 5123456789
	h.send(h.text(chat, "My parcel never arrived"))
	held := h.dueNow()
	if h.jira.issueCount() != 0 || len(held) != 1 {
		t.Fatalf("%d requests, %d held", h.jira.issueCount(), len(held))
	}
	msgs := h.tg.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Markup, `"callback_data":"rt:11"`) || !strings.Contains(msgs[0].Markup, `"callback_data":"rt:12"`) ||
		!strings.Contains(msgs[0].Markup, "Report a delivery problem") {
		t.Fatalf("menu %+v", msgs)
	}
	if keys := storedText(h, "parcel"); len(keys) != 0 {
		t.Fatalf("the first message is stored under %v", keys)
	}
	inventoried(t, h, "route:")
	// Still waiting a minute later: nothing opens.
	held = h.waitHeld(held, 3)
	if h.jira.issueCount() != 0 || len(held) != 1 {
		t.Fatalf("before the choice: %d requests, %d held", h.jira.issueCount(), len(held))
	}

	h.send(h.press(chat, "rt:12"))
	held = append(held, h.dueNow()...)
	if h.tg.count("answerCallbackQuery") != 1 || !strings.Contains(h.tg.messages()[1].Text, "Report a delivery problem") {
		t.Fatalf("after the press: %+v", h.tg.messages())
	}
	if left := h.waitHeld(held, 5); len(left) != 0 {
		t.Fatalf("%d still held", len(left))
	}
	is := h.jira.issue("SUP-1")
	if h.jira.issueCount() != 1 || is.RequestType != "12" || !strings.Contains(is.Description, "My parcel never arrived") {
		t.Fatalf("request %+v", is)
	}
	if found, _ := (store{h.env.Store}).get(routeKey(testProject, "telegram", "5123456789"), &routeRecord{}); found {
		t.Error("the route record outlived the opening")
	}
	h.send(h.text(chat, "Order 4711"))
	h.drain()
	if h.jira.issueCount() != 1 || len(is.Comments) != 1 || len(h.tg.messages()) != 2 {
		t.Errorf("second message: %d requests, comments %+v, sent %+v", h.jira.issueCount(), is.Comments, h.tg.messages())
	}
}

// Messages sent while the customer chooses wait behind the first and
// arrive in order; a customer who never chooses gets the project's default
// type once the menu times out.
func TestWithoutAChoiceTheDefaultTypeOpensAfterTheTimeout(t *testing.T) {
	h := newHarness(t)
	withMenu(h)
	const chat = 5123456789
	h.send(h.text(chat, "First words"))
	held := h.dueNow()
	h.send(h.text(chat, "Second words"))
	held = append(held, h.dueNow()...)
	if len(held) != 2 || len(h.tg.messages()) != 1 {
		t.Fatalf("%d held, sent %+v", len(held), h.tg.messages())
	}
	start := h.clock()
	left := h.waitHeld(held, 200)
	if len(left) != 0 {
		t.Fatalf("%d still held", len(left))
	}
	if waited := h.clock().Sub(start); waited < routeTimeout {
		t.Errorf("opened after %v", waited)
	}
	is := h.jira.issue("SUP-1")
	if h.jira.issueCount() != 1 || is.RequestType != "11" || !strings.Contains(is.Description, "First words") ||
		len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Body, "Second words") {
		t.Fatalf("request %+v", is)
	}
	// A late press changes nothing.
	h.send(h.press(chat, "rt:12"))
	h.drain()
	if h.jira.issueCount() != 1 || !strings.Contains(h.tg.answered[len(h.tg.answered)-1], "closed") {
		t.Errorf("late press: answered %v", h.tg.answered)
	}
}

// A press of a type the project does not offer, or without a pending
// menu, is refused and records nothing.
func TestAMenuPressWithoutAPendingMenuIsRefused(t *testing.T) {
	h := newHarness(t)
	withMenu(h)
	h.send(h.press(5123456789, "rt:12"))
	h.send(h.press(5123456789, "rt:99"))
	h.drain()
	if n := len(h.tg.answered); n != 2 || !strings.Contains(h.tg.answered[0], "closed") {
		t.Errorf("answers %v", h.tg.answered)
	}
	if found, _ := (store{h.env.Store}).get(routeKey(testProject, "telegram", "5123456789"), &routeRecord{}); found {
		t.Error("a route record without a menu")
	}
}

// The menu's names are resolved against the service desk's request types;
// unknown names, a single type and repeated types are refused by field.
func TestMenuNamesAreResolvedAgainstTheServiceDesk(t *testing.T) {
	h := newHarness(t)
	a := h.configure(map[string]any{"requestTypeMenu": []string{" Report a delivery problem", "GET HELP"}})
	v, _ := json.Marshal(a["config"].(map[string]any)["requestTypeMenu"])
	if string(v) != `["Report a delivery problem","Get help"]` {
		t.Errorf("menu %s", v)
	}
	for name, menu := range map[string][]string{
		"unknown":  {"Get help", "Buy a pony"},
		"single":   {"Get help"},
		"repeated": {"Get help", "get help"},
	} {
		a, err := h.resolve("config.set", map[string]any{"projectKey": testProject, "requestTypeMenu": menu})
		if err != nil || a["ok"] != false || a["errors"].(map[string]any)["requestTypeMenu"] == nil {
			t.Errorf("%s: %v %v", name, a, err)
		}
	}
	a = h.configure(map[string]any{"requestTypeMenu": []string{}})
	if m := a["config"].(map[string]any)["requestTypeMenu"].([]any); len(m) != 0 {
		t.Errorf("cleared menu %v", m)
	}
	var cfg Config
	(store{h.env.Store}).get(configKey(testProject), &cfg)
	if len(cfg.RequestTypeMenu) != 0 {
		t.Errorf("stored %+v", cfg.RequestTypeMenu)
	}
}

// A /forget while the customer chooses removes the menu's record, and the
// held first message, queued before the forget, opens nothing.
func TestForgetDropsAPendingMenuAndItsHeldMessage(t *testing.T) {
	h := newHarness(t)
	withMenu(h)
	const chat = 5123456789
	h.send(h.text(chat, "My parcel never arrived"))
	held := h.dueNow()
	h.advance(time.Second)
	h.send(h.text(chat, "/forget"))
	held = append(held, h.dueNow()...)
	if found, _ := (store{h.env.Store}).get(routeKey(testProject, "telegram", "5123456789"), &routeRecord{}); found {
		t.Error("the menu's record outlived the forget")
	}
	if left := h.waitHeld(held, 200); len(left) != 0 {
		t.Fatalf("%d still held", len(left))
	}
	if n := h.jira.issueCount(); n != 0 {
		t.Errorf("%d requests opened after the forget", n)
	}
}

// On Viber the menu is a keyboard of reply buttons whose ActionBody the
// customer's press sends back as text ("cb:rt:<id>").
func TestViberMenuIsAKeyboardAndItsPressPicksTheType(t *testing.T) {
	h, _ := viberConversation(t)
	if a, err := h.resolve("config.set", map[string]any{"projectKey": testProject, "requestTypeMenu": []string{"Get help", "Report a delivery problem"}}); err != nil || a["ok"] != true {
		t.Fatalf("config.set: %v %v", a, err)
	}
	var keyboards []string
	inner := h.env.HTTP.Handler
	h.env.HTTP.Handler = func(req *abi.Request) (*abi.Response, error) {
		if strings.HasSuffix(req.URL, "send_message") && strings.Contains(string(req.Body), `"keyboard"`) {
			keyboards = append(keyboards, string(req.Body))
		}
		return inner(req)
	}
	post := func(token int64, text string) {
		t.Helper()
		body := viberText(token, text)
		if r := h.viberPost(body, hmacHex([]byte(viberToken), body)); r.Status != 200 {
			t.Fatalf("webhook answered %d", r.Status)
		}
	}
	post(4912661846655238145, "My parcel never arrived")
	held := h.dueNow()
	if len(keyboards) != 1 || !strings.Contains(keyboards[0], `"ActionBody":"cb:rt:12"`) || h.jira.issueCount() != 0 {
		t.Fatalf("keyboards %q, %d requests", keyboards, h.jira.issueCount())
	}
	post(4912661846655238146, "cb:rt:12")
	held = append(held, h.dueNow()...)
	if left := h.waitHeld(held, 5); len(left) != 0 {
		t.Fatalf("%d still held", len(left))
	}
	if is := h.jira.issue("SUP-1"); h.jira.issueCount() != 1 || is.RequestType != "12" || !strings.Contains(is.Description, "My parcel never arrived") {
		t.Fatalf("request %+v", is)
	}
}
