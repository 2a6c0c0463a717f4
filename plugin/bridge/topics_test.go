package bridge

import (
	"encoding/json"
	"strings"
	"testing"
)

// textIn is a text message in a topic of a private chat.
func textIn(h *harness, chat, thread int64, text string) []byte {
	var u map[string]any
	_ = json.Unmarshal(h.text(chat, text), &u)
	m := u["message"].(map[string]any)
	m["message_thread_id"], m["is_topic_message"] = thread, true
	b, _ := json.Marshal(u)
	return b
}

// topicRequests opens SUP-1 and, after /new, SUP-2 from annaChat with a bot
// in topic mode.
func topicRequests(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.tg.topics = map[int64]string{}
	h.configure(nil)
	var cfg Config
	if _, err := (store{h.env.Storage}).get(configKey(testProject), &cfg); err != nil || !cfg.Topics {
		t.Fatalf("config save did not keep the bot's topic mode: %+v %v", cfg.Topics, err)
	}
	h.send(h.text(annaChat64, "My parcel is late"))
	h.drain()
	h.send(command(h, annaChat64, "/new"))
	h.drain()
	h.send(h.text(annaChat64, "And my invoice is wrong"))
	h.drain()
	if h.jira.issueCount() != 2 {
		t.Fatalf("%d requests, want two", h.jira.issueCount())
	}
	if h.tg.topics[100] != "SUP-1: My parcel is late" || h.tg.topics[101] != "SUP-2: And my invoice is wrong" || len(h.tg.topics) != 2 {
		t.Fatalf("topics %v, want one per request named by key and text", h.tg.topics)
	}
	return h
}

func TestEachRequestHasItsTopicAndAnAgentsReplyLandsInIt(t *testing.T) {
	h := topicRequests(t)
	for _, c := range []struct {
		issue  string
		thread int64
	}{{"SUP-1", 100}, {"SUP-2", 101}} {
		var rev issueRecord
		if _, err := (store{h.env.Storage}).get(issueKey(c.issue), &rev); err != nil || rev.Thread != itoa(c.thread) {
			t.Fatalf("%s record %+v %v", c.issue, rev, err)
		}
	}
	h.event("comment_created_public.json") // on SUP-1, while the chat writes to SUP-2
	h.drain()
	h.event("comment_created_public.json", `"SUP-1"`, `"SUP-2"`, `"10042"`, `"10043"`, `"10101"`, `"10102"`)
	h.drain()
	var threads []int64
	for _, m := range h.tg.messages() {
		if strings.Contains(m.Text, "sorry about that") {
			threads = append(threads, m.Thread)
			if strings.Contains(m.Text, "[SUP-") {
				t.Errorf("a reply in its request's topic is headed with its key: %q", m.Text)
			}
		}
	}
	if len(threads) != 2 || threads[0] != 100 || threads[1] != 101 {
		t.Fatalf("replies went to threads %v, want SUP-1's 100 then SUP-2's 101", threads)
	}
}

func TestAMessageInATopicGoesToThatTopicsRequest(t *testing.T) {
	h := topicRequests(t)
	before1, before2 := len(h.jira.issue("SUP-1").Comments), len(h.jira.issue("SUP-2").Comments)
	h.send(textIn(h, annaChat64, 100, "Any news on the parcel?"))
	h.drain()
	if got := h.jira.issue("SUP-1").Comments; len(got) != before1+1 || !strings.Contains(got[len(got)-1].Body, "Any news") {
		t.Fatalf("the message in SUP-1's topic did not reach SUP-1: %+v", got)
	}
	h.send(textIn(h, annaChat64, 101, "The invoice number is 42"))
	h.drain()
	if got := h.jira.issue("SUP-2").Comments; len(got) != before2+1 || !strings.Contains(got[len(got)-1].Body, "invoice number") {
		t.Fatalf("the message in SUP-2's topic did not reach SUP-2: %+v", got)
	}
	// Outside any topic: the current request, the last one written to.
	h.send(h.text(annaChat64, "Also, thanks"))
	h.drain()
	if got := h.jira.issue("SUP-2").Comments; len(got) != before2+2 {
		t.Fatalf("a message in the general thread did not reach the current request SUP-2: %+v", got)
	}
	if h.jira.issueCount() != 2 || len(h.tg.topics) != 2 {
		t.Errorf("%d requests, topics %v: a message in a topic opened something", h.jira.issueCount(), h.tg.topics)
	}
	// SUP-1 resolved: a message in its topic opens a new request there.
	h.event("issue_updated_done.json")
	h.drain()
	h.send(textIn(h, annaChat64, 100, "The parcel came, but damaged"))
	h.drain()
	if h.jira.issueCount() != 3 || !strings.Contains(h.jira.issue("SUP-3").Description, "damaged") {
		t.Fatalf("%d requests: a message in a resolved request's topic did not open one", h.jira.issueCount())
	}
	var rev issueRecord
	if _, err := (store{h.env.Storage}).get(issueKey("SUP-3"), &rev); err != nil || rev.Thread != "100" || len(h.tg.topics) != 2 {
		t.Fatalf("SUP-3 %+v %v, topics %v: want it kept in the topic it was written in", rev, err, h.tg.topics)
	}
	var chat chatRecord
	if _, err := (store{h.env.Storage}).get(chatKey(testProject, "telegram", annaChat), &chat); err != nil || chat.Issue != "SUP-3" || strings.Join(chat.Others, ",") != "SUP-2" {
		t.Fatalf("chat %+v %v", chat, err)
	}
}

func TestWithoutTopicModeNoTopicIsMade(t *testing.T) {
	h := twoRequests(t)
	if n := h.tg.count("createForumTopic"); n != 0 {
		t.Fatalf("%d topics made for a bot without topic mode", n)
	}
	for _, m := range h.tg.messages() {
		if m.Thread != 0 {
			t.Fatalf("a message sent into thread %d", m.Thread)
		}
	}
}

func TestARefusedTopicLeavesTheRequestInTheGeneralThread(t *testing.T) {
	h := newHarness(t)
	h.tg.topics = map[int64]string{}
	h.configure(map[string]any{"acknowledge": true})
	h.tg.fail("createForumTopic", `{"ok":false,"error_code":400,"description":"Bad Request: the chat is not a forum"}`)
	h.send(h.text(annaChat64, "My parcel is late"))
	h.drain()
	if h.jira.issueCount() != 1 || h.tg.count("createForumTopic") != 1 {
		t.Fatalf("%d requests, %d topic calls", h.jira.issueCount(), h.tg.count("createForumTopic"))
	}
	m := h.tg.messages()
	if len(m) == 0 || !strings.Contains(m[len(m)-1].Text, "SUP-1") || m[len(m)-1].Thread != 0 {
		t.Fatalf("acknowledgement %+v, want it in the general thread", m)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestACrashWhileOpeningMakesOneRequestWithOneTopic(t *testing.T) {
	for _, atWrite := range []bool{false, true} {
		h := newHarness(t)
		h.tg.topics = map[int64]string{}
		h.configure(nil)
		h.send(h.text(annaChat64, "My parcel is late"))
		h.crashAfter("POST", "/rest/servicedeskapi/request", atWrite)
		p := h.env.Pushed.Take()
		h.deliverCrashing(p[0], 1)
		h.advance(indexLag)
		h.redeliver(p[0], 2)
		if h.jira.creates != 1 || len(h.tg.topics) != 1 || h.tg.count("createForumTopic") != 1 {
			t.Fatalf("atWrite %v: %d requests, topics %v", atWrite, h.jira.creates, h.tg.topics)
		}
		h.event("comment_created_public.json")
		h.drain()
		if m := h.tg.messages(); len(m) == 0 || m[len(m)-1].Thread != 100 {
			t.Fatalf("atWrite %v: the reply %+v is not in the request's topic", atWrite, m)
		}
	}
}
