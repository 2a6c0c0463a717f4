package bridge

import (
	"errors"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// Topics in private chats (issue 18, item 8): where the bot has them
// (channel.Bot.Topics, asked at every config save and kept in
// Config.Topics or ExtraBot.Topics), a request opened from a private chat
// gets its own topic, named with its key and the start of the customer's
// first message (channel.Topics, Telegram's createForumTopic), and every
// reply and notice on it goes there. The topic's thread id is kept in the
// request's issue record (issueRecord.Thread), so nothing new is stored:
// a customer's message in a topic goes to the open request of the chat
// whose record names that thread, which becomes the chat's current one. A
// message in a topic of no open request (its request was resolved) opens
// a new request in that topic. A message outside any topic (the general
// thread) goes to the current request as without topics, and /new and
// /requests work as without them; replies in a topic are not headed with
// their request's key, since the topic says it.

// topicName is a new request's topic: its key and the start of the first
// message.
func topicName(key, text string) string {
	text = oneLine(text)
	if text == "" {
		return key
	}
	const room = 60
	if r := []rune(text); len(r) > room {
		text = string(r[:room-1]) + "…"
	}
	return key + ": " + text
}

// topicsOf reports whether the bot of route has topics in private chats.
func (c *Config) topicsOf(route string) bool {
	if route == c.Channel {
		return c.Topics
	}
	for i := range c.Bots {
		if c.Bots[i].Route == route {
			return c.Bots[i].Topics
		}
	}
	return false
}

// topics is the event's channel's Topics where the chat may have them: a
// private chat of a bot with topic mode.
func (w *inbound) topics() (channel.Topics, bool) {
	if w.job.Event.Group || !w.cfg.topicsOf(w.job.Channel) {
		return nil, false
	}
	t, ok := w.ch.(channel.Topics)
	return t, ok
}

// topicRequest makes the request whose topic the customer wrote in the
// chat's current one; in a topic of no open request, the message opens a
// new one there (mapIssue keeps its thread).
func (w *inbound) topicRequest() error {
	ev := &w.job.Event
	if _, ok := w.topics(); !ok || ev.Thread == "" || w.prog.Issue != "" {
		return nil
	}
	return w.step("topic", func() error {
		for _, k := range w.chat.openRequests() {
			var rev issueRecord
			found, err := w.st.get(issueKey(k), &rev)
			if err != nil {
				return err
			}
			if !found || rev.Thread != ev.Thread || rev.Chat != ev.ChatID || rev.Channel != w.job.Channel || rev.Resolved {
				continue
			}
			if w.chat.Issue == k {
				return nil
			}
			w.chat.Others = addKey(w.chat.Others, w.chat.Issue)
			dropKey(&w.chat.Others, k)
			w.chat.Issue, w.chat.IssueID = k, rev.IssueID
			w.log.Info("inbound: a message in a request's topic")
			return w.saveChat()
		}
		if ev.Edited || w.chat.Issue == "" {
			return nil // an edit opens nothing; without a current request one opens anyway
		}
		w.log.Info("inbound: a message in a topic of no open request; opening one there")
		w.chat.Others = addKey(w.chat.Others, w.chat.Issue)
		w.chat.Issue, w.chat.IssueID = "", ""
		return w.saveChat()
	})
}

// eventThread is the thread a request this event creates is kept in: the
// topic the customer wrote in, where the chat has topics.
func (w *inbound) eventThread() string {
	if _, ok := w.topics(); !ok {
		return ""
	}
	return w.job.Event.Thread
}

// intoTopic sends the rest of the event's replies into its request's
// topic, creating it for a request this event opened outside any topic. A
// topic Telegram refuses leaves the request in the general thread; a
// temporary failure retries the event, which finds the topic if it was
// made and recorded.
func (w *inbound) intoTopic() error {
	t, ok := w.topics()
	if !ok || w.prog.Issue == "" {
		return nil
	}
	var rev issueRecord
	found, err := w.st.get(issueKey(w.prog.Issue), &rev)
	if err != nil || !found {
		return err
	}
	if rev.Thread == "" {
		if !w.prog.Created || w.job.Event.Thread != "" || w.prog.has("topic-made") {
			return nil // a request from before topics stays in the general thread
		}
		thread, err := t.CreateTopic(w.job.Event.ChatID, topicName(w.prog.Issue, w.job.Event.Plain))
		if err != nil {
			if errors.Is(err, channel.ErrTemporary) {
				return err
			}
			w.log.Warn("inbound: the messenger refused the request's topic; it stays in the general thread", "err", err)
			return w.step("topic-made", func() error { return nil })
		}
		rev.Thread = thread
		if err := w.st.put(issueKey(w.prog.Issue), &rev, 0); err != nil {
			return err
		}
		w.log.Info("inbound: the request has its topic")
	}
	if rev.Thread != w.job.Event.Thread {
		w.ch = t.InTopic(rev.Thread)
	}
	return nil
}

// inTopic sends an agent's reply or a notice into its request's topic.
func (o *outbound) inTopic() {
	if o.rev.Thread == "" || !o.cfg.topicsOf(o.rev.Channel) {
		return
	}
	if t, ok := o.ch.(channel.Topics); ok {
		o.ch = t.InTopic(o.rev.Thread)
	}
}
