package telegram

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

func TestAMessageInATopicOfAPrivateChatNamesItsThread(t *testing.T) {
	for name, tc := range map[string]struct {
		body, thread string
	}{
		"private topic":  {`{"update_id":1,"message":{"message_id":9,"date":1,"message_thread_id":7,"is_topic_message":true,"chat":{"id":51,"type":"private"},"from":{"id":51,"is_bot":false,"first_name":"A"},"text":"hi"}}`, "7"},
		"general thread": {`{"update_id":2,"message":{"message_id":9,"date":1,"chat":{"id":51,"type":"private"},"from":{"id":51,"is_bot":false,"first_name":"A"},"text":"hi"}}`, ""},
		// A reply in a private chat without topics carries a thread id but no is_topic_message.
		"reply thread, no topic": {`{"update_id":3,"message":{"message_id":9,"date":1,"message_thread_id":4,"chat":{"id":51,"type":"private"},"from":{"id":51,"is_bot":false,"first_name":"A"},"text":"hi"}}`, ""},
		"supergroup topic":       {`{"update_id":4,"message":{"message_id":9,"date":1,"message_thread_id":7,"is_topic_message":true,"chat":{"id":-100,"type":"supergroup"},"from":{"id":51,"is_bot":false,"first_name":"A"},"text":"hi"}}`, ""},
		"button in a topic":      {`{"update_id":5,"callback_query":{"id":"q","from":{"id":51,"is_bot":false,"first_name":"A"},"message":{"message_id":1,"date":1,"message_thread_id":7,"is_topic_message":true,"chat":{"id":51,"type":"private"}},"chat_instance":"1","data":"req:SUP-1"}}`, "7"},
	} {
		evs, err := ParseUpdate([]byte(tc.body))
		if err != nil || len(evs) != 1 || evs[0].Thread != tc.thread {
			t.Errorf("%s: %v %+v, want thread %q", name, err, evs, tc.thread)
		}
	}
}

func TestValidateReportsTopicModeAndTopicsCarryTheThread(t *testing.T) {
	f := newFakeBot(t)
	f.replies["getMe"] = []string{`{"ok":true,"result":{"id":7000000001,"is_bot":true,"first_name":"B","username":"b_bot","has_topics_enabled":true}}`}
	f.replies["createForumTopic"] = []string{`{"ok":true,"result":{"message_thread_id":42,"name":"x","icon_color":7322096}}`}
	c := f.channel()
	bot, err := c.Validate()
	if err != nil || !bot.Topics {
		t.Fatalf("Validate %+v %v, want topics", bot, err)
	}
	thread, err := c.CreateTopic("5123456789", "SUP-1: "+strings.Repeat("é", 200))
	if err != nil || thread != "42" {
		t.Fatalf("CreateTopic %q %v", thread, err)
	}
	in := c.InTopic(thread)
	if err := in.SendText("5123456789", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := in.(channel.Chooser).SendChoices("5123456789", "Rate", []channel.Choice{{Label: "1", Data: "csat:1:SUP-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := in.SendFile("5123456789", channel.File{Name: "a.txt", MIME: "text/plain", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := c.SendText("5123456789", "general"); err != nil {
		t.Fatal(err)
	}
	reqs := f.env.HTTP.Requests()
	if len(reqs) != 6 {
		t.Fatalf("requests %+v", reqs)
	}
	var create struct {
		ChatID int64  `json:"chat_id"`
		Name   string `json:"name"`
	}
	if err := json.Unmarshal(reqs[1].Body, &create); err != nil || create.ChatID != 5123456789 ||
		utf8.RuneCountInString(create.Name) != 128 || !strings.HasPrefix(create.Name, "SUP-1: ") {
		t.Errorf("createForumTopic %s", reqs[1].Body)
	}
	for i, want := range []int64{42, 42, 0} {
		var p struct {
			Thread int64 `json:"message_thread_id"`
		}
		if err := json.Unmarshal(reqs[2+[]int{0, 1, 3}[i]].Body, &p); err != nil || p.Thread != want {
			t.Errorf("send %d: %s, want thread %d", i, reqs[2+[]int{0, 1, 3}[i]].Body, want)
		}
	}
	if !strings.Contains(string(reqs[4].Body), `name="message_thread_id"`) || !strings.Contains(string(reqs[4].Body), "42") {
		t.Errorf("sendDocument without the thread: %s", reqs[4].Body)
	}
}

func TestASendIntoATopicTheChatNoLongerHasGoesToTheGeneralThread(t *testing.T) {
	f := newFakeBot(t)
	gone := `{"ok":false,"error_code":400,"description":"Bad Request: message thread not found"}`
	f.replies["sendMessage"] = []string{gone, `{"ok":true,"result":{"message_id":1,"date":1,"chat":{"id":5123456789,"type":"private"}}}`}
	f.replies["sendDocument"] = []string{gone, `{"ok":true,"result":{"message_id":2,"date":1,"chat":{"id":5123456789,"type":"private"}}}`}
	in := f.channel().InTopic("42")
	if err := in.SendText("5123456789", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := in.SendFile("5123456789", channel.File{Name: "a.txt", MIME: "text/plain", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	reqs := f.env.HTTP.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want each send tried in the topic and then without it", len(reqs))
	}
	for i, want := range []bool{true, false, true, false} {
		if got := strings.Contains(string(reqs[i].Body), "message_thread_id"); got != want {
			t.Errorf("request %d names the thread: %v, want %v: %s", i, got, want, reqs[i].Body)
		}
	}
}
