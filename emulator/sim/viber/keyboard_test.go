package viber

import (
	"strings"
	"testing"
)

func key(body, text string) map[string]any {
	return map[string]any{"Columns": 6, "Rows": 1, "ActionType": "reply", "ActionBody": body, "Text": text}
}

// A keyboard is taken within the documented limits only; a press of one
// of its reply buttons is delivered as Viber delivers it: a signed message
// callback whose text is the button's ActionBody.
func TestKeyboardsAreCheckedAndAPressSendsTheActionBody(t *testing.T) {
	f := newFixture(t)
	f.register()
	f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "abc=", "name": "Anna", "text": "hi"}, nil)
	send := func(kb any) map[string]any {
		return f.call("send_message", DefaultToken, map[string]any{"receiver": "abc=", "type": "text", "text": "Rate us",
			"sender": map[string]any{"name": "Support"}, "keyboard": kb})
	}
	good := map[string]any{"Type": "keyboard", "Buttons": []any{key("cb:csat:1:SUP-1", "★"), key("cb:csat:5:SUP-1", "★★★★★")}}
	if r := send(good); status(r) != 0 {
		t.Fatalf("keyboard: %v", r)
	}
	with := func(change func(b map[string]any)) map[string]any {
		b := key("x", "X")
		change(b)
		return map[string]any{"Type": "keyboard", "Buttons": []any{b}}
	}
	for name, kb := range map[string]any{
		"not an object":  "buttons",
		"wrong Type":     map[string]any{"Type": "rich_media", "Buttons": []any{key("x", "X")}},
		"no Buttons":     map[string]any{"Type": "keyboard"},
		"Columns 7":      with(func(b map[string]any) { b["Columns"] = 7 }),
		"Columns 0":      with(func(b map[string]any) { b["Columns"] = 0 }),
		"Rows 3":         with(func(b map[string]any) { b["Rows"] = 3 }),
		"no ActionBody":  with(func(b map[string]any) { delete(b, "ActionBody") }),
		"ActionType bad": with(func(b map[string]any) { b["ActionType"] = "callback" }),
		"Text 251":       with(func(b map[string]any) { b["Text"] = strings.Repeat("x", MaxKeyText+1) }),
		"nothing shown":  with(func(b map[string]any) { delete(b, "Text") }),
	} {
		if r := send(kb); status(r) != StatusBadData {
			t.Errorf("%s: %v", name, r)
		}
	}
	var sent []Sent
	f.control("GET", "/_sim/viber/sent?receiver=abc=", nil, &sent)
	if len(sent) != 1 || len(sent[0].Keyboard) != 2 || sent[0].Keyboard[1].ActionBody != "cb:csat:5:SUP-1" || sent[0].Keyboard[1].Text != "★★★★★" {
		t.Fatalf("sent %+v", sent)
	}

	n := len(f.hook.bodies)
	if code := f.control("POST", "/_sim/viber/press", map[string]any{"user_id": "abc=", "text": "★★★"}, nil); code != 409 {
		t.Errorf("a button the keyboard lacks: %d", code)
	}
	if code := f.control("POST", "/_sim/viber/press", map[string]any{"user_id": "nobody=", "text": "★"}, nil); code != 409 {
		t.Errorf("a user without a keyboard: %d", code)
	}
	if len(f.hook.bodies) != n {
		t.Fatal("a refused press was delivered")
	}
	var res SendResult
	if code := f.control("POST", "/_sim/viber/press", map[string]any{"user_id": "abc=", "text": "★★★★★"}, &res); code != 200 || res.Status != 200 || f.hook.bad != 0 {
		t.Fatalf("press: %d %+v", code, res)
	}
	cb := f.hook.bodies[len(f.hook.bodies)-1]
	msg, _ := cb["message"].(map[string]any)
	snd, _ := cb["sender"].(map[string]any)
	if cb["event"] != "message" || msg["type"] != "text" || msg["text"] != "cb:csat:5:SUP-1" || snd["id"] != "abc=" || snd["name"] != "Anna" {
		t.Errorf("callback %v", cb)
	}
}
