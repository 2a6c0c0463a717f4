package telegram

import (
	"encoding/json"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

func TestACallbackQueryIsAChosenEvent(t *testing.T) {
	body := []byte(`{"update_id":7001,"callback_query":{"id":"4382bfdwdsb323b2d9","from":{"id":5123456789,"is_bot":false,"first_name":"Anna","last_name":"Schmidt"},
		"message":{"message_id":2002,"date":1763805300,"chat":{"id":5123456789,"type":"private","first_name":"Anna"},"text":"How satisfied are you?"},
		"chat_instance":"-774","data":"csat:4:SUP-1"}}`)
	evs, err := ParseUpdate(body)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %+v", err, evs)
	}
	ev := evs[0]
	if ev.Kind != channel.Chosen || ev.ID != "7001" || ev.ChatID != "5123456789" || ev.Choice != "csat:4:SUP-1" ||
		ev.Callback != "4382bfdwdsb323b2d9" || ev.MessageID != "2002" || ev.Sender != "Anna Schmidt" || ev.Group {
		t.Fatalf("event %+v", ev)
	}
	for name, body := range map[string]string{
		"inline message, no chat": `{"update_id":7002,"callback_query":{"id":"q","from":{"id":1,"is_bot":false,"first_name":"A"},"inline_message_id":"x","chat_instance":"1","data":"csat:4:SUP-1"}}`,
		"a game, no data":         `{"update_id":7003,"callback_query":{"id":"q","from":{"id":1,"is_bot":false,"first_name":"A"},"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"}},"chat_instance":"1","game_short_name":"g"}}`,
		"data with odd bytes":     `{"update_id":7004,"callback_query":{"id":"q","from":{"id":1,"is_bot":false,"first_name":"A"},"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"}},"chat_instance":"1","data":"csat 4 <b>"}}`,
	} {
		if evs, err := ParseUpdate([]byte(body)); err != nil || len(evs) != 0 {
			t.Errorf("%s: %v %+v", name, err, evs)
		}
	}
}

func TestSendChoicesSendsAnInlineKeyboardAndAnswerChoiceAnswersThePress(t *testing.T) {
	f := newFakeBot(t)
	c := f.channel()
	err := c.SendChoices("5123456789", "Rate us", []channel.Choice{{Label: "★", Data: "csat:1:SUP-1"}, {Label: "★★", Data: "csat:2:SUP-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AnswerChoice("4382bfdwdsb323b2d9", "Thanks"); err != nil {
		t.Fatal(err)
	}
	reqs := f.env.HTTP.Requests()
	if len(reqs) != 2 || reqs[0].URL != BaseURL+"/bot{{secret:tok}}/sendMessage" || reqs[1].URL != BaseURL+"/bot{{secret:tok}}/answerCallbackQuery" {
		t.Fatalf("requests %+v", reqs)
	}
	var send struct {
		ChatID int64  `json:"chat_id"`
		Text   string `json:"text"`
		Markup struct {
			Keyboard [][]map[string]string `json:"inline_keyboard"`
		} `json:"reply_markup"`
	}
	if err := json.Unmarshal(reqs[0].Body, &send); err != nil || send.ChatID != 5123456789 || send.Text != "Rate us" ||
		len(send.Markup.Keyboard) != 1 || len(send.Markup.Keyboard[0]) != 2 ||
		send.Markup.Keyboard[0][1]["text"] != "★★" || send.Markup.Keyboard[0][1]["callback_data"] != "csat:2:SUP-1" {
		t.Fatalf("sendMessage %s", reqs[0].Body)
	}
	var answer map[string]string
	if err := json.Unmarshal(reqs[1].Body, &answer); err != nil || answer["callback_query_id"] != "4382bfdwdsb323b2d9" || answer["text"] != "Thanks" {
		t.Fatalf("answerCallbackQuery %s", reqs[1].Body)
	}
}
