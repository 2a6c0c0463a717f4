package telegram

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// Topics in private chats (Bot API 9.3): where the bot has forum topic mode
// (getMe's has_topics_enabled, channel.Bot.Topics), createForumTopic makes
// a topic "in a forum supergroup chat or a private chat with a user", a
// send with message_thread_id goes into it, and a user's message in it
// carries message_thread_id and is_topic_message.

var _ channel.Topics = (*Channel)(nil)

// maxTopicName is createForumTopic's limit on a name: 1-128 characters.
const maxTopicName = 128

// CreateTopic implements channel.Topics with createForumTopic; a name
// over 128 characters is shortened.
func (c *Channel) CreateTopic(chatID, name string) (string, error) {
	id, err := chatIDParam(chatID)
	if err != nil {
		return "", err
	}
	if utf8.RuneCountInString(name) > maxTopicName {
		name = string([]rune(name)[:maxTopicName-1]) + "…"
	}
	var topic struct {
		MessageThreadID int64 `json:"message_thread_id"`
	}
	if err := c.client.Call("createForumTopic", map[string]any{"chat_id": id, "name": name}, &topic); err != nil {
		return "", err
	}
	if topic.MessageThreadID == 0 {
		return "", fmt.Errorf("telegram: createForumTopic gave no thread id")
	}
	return strconv.FormatInt(topic.MessageThreadID, 10), nil
}

// InTopic implements channel.Topics: a copy of the channel whose sends
// carry message_thread_id. A thread that is not a positive number is the
// general thread.
func (c *Channel) InTopic(thread string) channel.Channel {
	cp := *c
	cp.thread, _ = strconv.ParseInt(thread, 10, 64)
	if cp.thread < 0 {
		cp.thread = 0
	}
	return &cp
}

// send calls a send method in the channel's topic. A topic the chat no
// longer has (ErrThread: the user deleted it, or turned the bot's topics
// off) gets the message in the general thread rather than lose it.
func (c *Channel) send(method string, params map[string]any) error {
	if c.thread == 0 {
		return c.client.Call(method, params, nil)
	}
	params["message_thread_id"] = c.thread
	err := c.client.Call(method, params, nil)
	delete(params, "message_thread_id")
	if errors.Is(err, ErrThread) {
		err = c.client.Call(method, params, nil)
	}
	return err
}

// sendFile is send for a multipart method.
func (c *Channel) sendFile(method string, fields [][2]string, f Upload) error {
	if c.thread == 0 {
		return c.client.CallMultipart(method, fields, f, nil)
	}
	in := append(slices.Clone(fields), [2]string{"message_thread_id", strconv.FormatInt(c.thread, 10)})
	err := c.client.CallMultipart(method, in, f, nil)
	if errors.Is(err, ErrThread) {
		err = c.client.CallMultipart(method, fields, f, nil)
	}
	return err
}

// topicOf is the topic of a private chat a message is in, "" for none. A
// forum supergroup's topics are not followed: a group shares one request.
func topicOf(m *Message) string {
	if m == nil || m.Chat.Type != "private" || !m.IsTopicMessage || m.MessageThreadID <= 0 {
		return ""
	}
	return strconv.FormatInt(m.MessageThreadID, 10)
}
