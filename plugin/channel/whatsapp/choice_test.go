package whatsapp

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
)

func buttonReply(id, title string) map[string]any {
	return map[string]any{"from": annaWaID, "id": "wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjBUTjE=", "timestamp": "1700000000", "type": "interactive",
		"context":     map[string]any{"from": "15550783881", "id": "wamid.SIM1=="},
		"interactive": map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": id, "title": title}}}
}

// A press of a reply button is a Chosen event carrying the button's id; a
// button_reply whose id the bridge could not have sent stays a message
// with its title, as before.
func TestAReplyButtonPressIsAChosenEvent(t *testing.T) {
	env := sdktest.NewEnv()
	ch := New(env.Env, setup(env))
	evs, err := ch.Parse(delivery(change(phoneID, buttonReply("csat:5:SUP-12", "Excellent"))))
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %+v", err, evs)
	}
	if ev := evs[0]; ev.Kind != channel.Chosen || ev.Choice != "csat:5:SUP-12" || ev.ChatID != annaWaID || ev.Plain != "" || ev.Callback != "" {
		t.Errorf("%+v", ev)
	}
	evs, err = ch.Parse(delivery(change(phoneID, buttonReply("a button of another tool", "Yes"))))
	if err != nil || len(evs) != 1 || evs[0].Kind != channel.Message || evs[0].Plain != "Yes" {
		t.Errorf("%v %+v", err, evs)
	}
}

func TestSendChoicesSendsReplyButtons(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(nil)
	ch := New(env.Env, s)
	choices := []channel.Choice{{Label: "Poor", Data: "csat:1:SUP-12"}, {Label: "OK", Data: "csat:3:SUP-12"},
		{Label: "Ausgezeichnet, wirklich sehr gut", Data: "csat:5:SUP-12"}}
	if err := ch.SendChoices(annaWaID, "How satisfied are you?", choices); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Type        string `json:"type"`
		To          string `json:"to"`
		Interactive struct {
			Type string `json:"type"`
			Body struct {
				Text string `json:"text"`
			} `json:"body"`
			Action struct {
				Buttons []struct {
					Type  string `json:"type"`
					Reply struct {
						ID    string `json:"id"`
						Title string `json:"title"`
					} `json:"reply"`
				} `json:"buttons"`
			} `json:"action"`
		} `json:"interactive"`
	}
	r := env.HTTP.Requests()[0]
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatal(err)
	}
	i := m.Interactive
	if m.Type != "interactive" || m.To != annaWaID || i.Type != "button" || i.Body.Text != "How satisfied are you?" || len(i.Action.Buttons) != 3 {
		t.Fatalf("%s", r.Body)
	}
	for n, b := range i.Action.Buttons {
		if b.Type != "reply" || b.Reply.ID != choices[n].Data || b.Reply.Title == "" || utf8.RuneCountInString(b.Reply.Title) > MaxButtonTitle {
			t.Errorf("button %d: %+v", n, b)
		}
	}

	// Nothing the Cloud API would refuse leaves.
	four := append(choices[:3:3], channel.Choice{Label: "More", Data: "csat:4:SUP-12"})
	for name, bad := range map[string][]channel.Choice{
		"none": nil, "four": four, "bad id": {{Label: "x", Data: "has space"}},
		"same title": {{Label: "A", Data: "a"}, {Label: "A", Data: "b"}}, "empty title": {{Label: " ", Data: "a"}},
	} {
		if err := ch.SendChoices(annaWaID, "?", bad); err == nil {
			t.Errorf("%s: sent", name)
		}
	}
	if err := ch.SendChoices(annaWaID, strings.Repeat("x", MaxBodyText+1), choices); err == nil {
		t.Error("a body over 1024 characters was sent")
	}
	if n := len(env.HTTP.Requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
}
