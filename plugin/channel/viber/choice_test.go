package viber

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
)

// A press of a reply button comes back as the customer's text message with
// the button's ActionBody: the bridge's prefix makes it a Chosen event;
// anything else stays a message.
func TestAKeyboardPressIsAChosenEvent(t *testing.T) {
	evs, err := Parse(textBody(5741311803571721087, annaID, "cb:csat:4:SUP-12"))
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %+v", err, evs)
	}
	ev := evs[0]
	if ev.Kind != channel.Chosen || ev.Choice != "csat:4:SUP-12" || ev.ChatID != annaChat || ev.Plain != "" || ev.Callback != "" {
		t.Errorf("%+v", ev)
	}
	for _, text := range []string{"csat:4:SUP-12", "cb:", "cb:csat 4", "cb:" + strings.Repeat("a", channel.MaxChoiceData+1), "please rate cb:csat:4:SUP-12"} {
		evs, err := Parse(textBody(5741311803571721088, annaID, text))
		if err != nil || len(evs) != 1 || evs[0].Kind != channel.Message || evs[0].Plain != text {
			t.Errorf("%q: %v %+v", text, err, evs)
		}
	}
}

func TestSendChoicesSendsAKeyboardOfReplyButtons(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(nil)
	ch := New(env.Env, s)
	long := strings.Repeat("&", 300)
	choices := []channel.Choice{{Label: "★", Data: "csat:1:SUP-12"}, {Label: "<b>5</b>", Data: "csat:5:SUP-12"}, {Label: long, Data: "x"}}
	if err := ch.SendChoices(annaChat, "How satisfied are you?", choices); err != nil {
		t.Fatal(err)
	}
	r := env.HTTP.Requests()[0]
	if r.URL != "https://chatapi.viber.com/pa/send_message" {
		t.Fatal(r.URL)
	}
	var got struct {
		Receiver string   `json:"receiver"`
		Type     string   `json:"type"`
		Text     string   `json:"text"`
		Keyboard keyboard `json:"keyboard"`
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Receiver != annaID || got.Type != "text" || got.Text != "How satisfied are you?" || got.Keyboard.Type != "keyboard" || len(got.Keyboard.Buttons) != 3 {
		t.Fatalf("%s", r.Body)
	}
	for i, b := range got.Keyboard.Buttons {
		if b.ActionType != "reply" || b.ActionBody != channel.ChoicePrefix+choices[i].Data || !b.Silent ||
			b.Columns < 1 || b.Columns > MaxColumns || b.Rows < 1 || b.Rows > MaxRows || b.Text == "" || utf8.RuneCountInString(b.Text) > MaxButtonText {
			t.Errorf("button %d: %+v", i, b)
		}
	}
	if got.Keyboard.Buttons[1].Text != "&lt;b&gt;5&lt;/b&gt;" {
		t.Errorf("label not escaped: %q", got.Keyboard.Buttons[1].Text)
	}

	// Nothing Viber would refuse leaves: bad data, no buttons, too many.
	for _, bad := range [][]channel.Choice{nil, {{Label: "x", Data: "has space"}}, make([]channel.Choice, ch.MaxChoices()+1)} {
		if err := ch.SendChoices(annaChat, "?", bad); err == nil {
			t.Errorf("%+v sent", bad)
		}
	}
	if n := len(env.HTTP.Requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
}
