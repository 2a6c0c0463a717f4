package whatsapp

import (
	"encoding/json"
	"strings"
	"testing"
)

func buttons(to string, body string, bs ...[2]string) map[string]any {
	list := []any{}
	for _, b := range bs {
		list = append(list, map[string]any{"type": "reply", "reply": map[string]any{"id": b[0], "title": b[1]}})
	}
	return map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "interactive",
		"interactive": map[string]any{"type": "button", "body": map[string]any{"text": body}, "action": map[string]any{"buttons": list}}}
}

// Reply buttons are sent within the specification's limits only; a press
// is delivered, signed, as an interactive button_reply naming the pressed
// message, and opens the window like any customer message.
func TestReplyButtonsAreCheckedAndAPressIsDelivered(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	const anna = "4915112345678"
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"from": anna, "text": "hello"}, nil)
	post := func(m map[string]any) (int, map[string]any) {
		b, _ := json.Marshal(m)
		return f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", b)
	}
	ok := buttons(anna, "How satisfied are you?", [2]string{"csat:1:SUP-1", "Poor"}, [2]string{"csat:3:SUP-1", "OK"}, [2]string{"csat:5:SUP-1", "Excellent"})
	st, m := post(ok)
	if st != 200 || sentID(m) == "" {
		t.Fatalf("reply buttons: %d %v", st, m)
	}
	sentMsg := sentID(m)

	bad := map[string]map[string]any{
		"four buttons":   buttons(anna, "?", [2]string{"a", "A"}, [2]string{"b", "B"}, [2]string{"c", "C"}, [2]string{"d", "D"}),
		"no buttons":     buttons(anna, "?"),
		"long title":     buttons(anna, "?", [2]string{"a", strings.Repeat("x", MaxButtonTitle+1)}),
		"empty title":    buttons(anna, "?", [2]string{"a", ""}),
		"same title":     buttons(anna, "?", [2]string{"a", "A"}, [2]string{"b", "A"}),
		"long id":        buttons(anna, "?", [2]string{strings.Repeat("i", MaxButtonID+1), "A"}),
		"spaced id":      buttons(anna, "?", [2]string{" a", "A"}),
		"no body":        buttons(anna, "", [2]string{"a", "A"}),
		"long body":      buttons(anna, strings.Repeat("x", MaxBodyText+1), [2]string{"a", "A"}),
		"no interactive": {"messaging_product": "whatsapp", "recipient_type": "individual", "to": anna, "type": "interactive"},
	}
	list := buttons(anna, "?", [2]string{"a", "A"})
	list["interactive"].(map[string]any)["type"] = "list"
	bad["a list"] = list
	for name, m := range bad {
		if st, ans := post(m); st != 400 || code(ans) != CodeInvalidParam {
			t.Errorf("%s: %d %v", name, st, ans)
		}
	}
	var sent []Sent
	f.control("GET", "/_sim/whatsapp/sent?to="+anna, nil, &sent)
	if len(sent) != 1 || sent[0].Type != "interactive" || sent[0].Text != "How satisfied are you?" || len(sent[0].Buttons) != 3 || sent[0].Buttons[2] != (Button{"csat:5:SUP-1", "Excellent"}) {
		t.Fatalf("sent %+v", sent)
	}

	// Unknown buttons are a control error and deliver nothing.
	before := len(f.hook.messageDeliveries())
	if c := f.control("POST", "/_sim/whatsapp/press", map[string]any{"from": anna, "title": "Great"}, nil); c != 409 {
		t.Errorf("an unknown title: %d", c)
	}
	if c := f.control("POST", "/_sim/whatsapp/press", map[string]any{"from": "4917600000000", "title": "OK"}, nil); c != 409 {
		t.Errorf("a chat without buttons: %d", c)
	}
	if c := f.control("POST", "/_sim/whatsapp/press", map[string]any{"from": anna}, nil); c != 400 {
		t.Errorf("no title: %d", c)
	}
	if n := len(f.hook.messageDeliveries()); n != before {
		t.Fatalf("%d deliveries after refused presses", n-before)
	}

	var res SendResult
	if c := f.control("POST", "/_sim/whatsapp/press", map[string]any{"from": anna, "name": "Anna", "title": "Excellent"}, &res); c != 200 || res.Status != 200 || f.hook.bad != 0 {
		t.Fatalf("press: %d %+v bad %d", c, res, f.hook.bad)
	}
	d := f.hook.messageDeliveries()
	msg := value(d[len(d)-1])["messages"].([]any)[0].(map[string]any)
	in, _ := msg["interactive"].(map[string]any)
	reply, _ := in["button_reply"].(map[string]any)
	ctx, _ := msg["context"].(map[string]any)
	if msg["type"] != "interactive" || in["type"] != "button_reply" || reply["id"] != "csat:5:SUP-1" || reply["title"] != "Excellent" ||
		ctx["id"] != sentMsg || ctx["from"] == "" || msg["from"] != anna || msg["id"] != res.IDs[0] {
		t.Errorf("delivered %v", msg)
	}

	// The press reopens the window: 23 hours later a message still arrives.
	f.control("POST", "/_sim/whatsapp/age", map[string]any{"wa_id": anna, "hours": 25}, nil)
	f.control("POST", "/_sim/whatsapp/press", map[string]any{"from": anna, "title": "OK", "message_id": sentMsg}, nil)
	if st, m := post(buttons(anna, "Again?", [2]string{"x", "X"})); st != 200 || f.statusesOf(sentID(m), "delivered") == nil {
		t.Errorf("after a press: %d %v", st, m)
	}
}
