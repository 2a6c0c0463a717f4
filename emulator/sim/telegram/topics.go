package telegram

import (
	"context"
	"unicode/utf8"
)

// Forum topics in private chats, as Bot API 9.3 added them: a bot with
// forum topic mode (getMe's has_topics_enabled; Config.Topics) creates a
// topic in a private chat with createForumTopic ("a topic in a forum
// supergroup chat or a private chat with a user") and sends into it with
// message_thread_id ("for forum supergroups and private chats of bots with
// forum topic mode enabled only"); a user's message in a topic carries
// message_thread_id and is_topic_message. Topic creation's service message
// (forum_topic_created) is not modelled.

// ForumTopic is what createForumTopic returns.
type ForumTopic struct {
	MessageThreadID int64  `json:"message_thread_id"`
	Name            string `json:"name"`
	IconColor       int64  `json:"icon_color"`
}

// topicColors are the icon colours createForumTopic takes.
var topicColors = []int64{0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F}

func createForumTopic(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	id, e := a.requireChatID()
	if e != nil {
		return nil, "", e
	}
	name, _, e := a.str("name")
	if e != nil {
		return nil, "", e
	}
	if n := utf8.RuneCountInString(name); n < 1 || n > 128 {
		return nil, "", badRequest("TOPIC_TITLE_EMPTY")
	}
	color, given, e := a.integer("icon_color")
	if e != nil {
		return nil, "", e
	}
	if !given {
		color = topicColors[0]
	} else if !containsInt(topicColors, color) {
		return nil, "", badRequest("invalid icon_color specified")
	}
	if _, _, e := a.str("icon_custom_emoji_id"); e != nil {
		return nil, "", e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, e := b.target(id)
	if e != nil {
		return nil, "", e
	}
	if b.user.HasTopicsEnabled == nil || !*b.user.HasTopicsEnabled {
		return nil, "", badRequest("the chat is not a forum")
	}
	// A topic's id is the id of its creation's service message.
	c.nextMessageID++
	if c.topics == nil {
		c.topics = map[int64]string{}
	}
	c.topics[c.nextMessageID] = name
	return ForumTopic{MessageThreadID: c.nextMessageID, Name: name, IconColor: color}, "", nil
}

// checkThread refuses a message_thread_id that is no topic of the chat, and
// any where the bot has no topic mode; s.mu is held.
func (b *bot) checkThread(c *chat, thread int64) *apiError {
	if thread == 0 {
		return nil
	}
	if b.user.HasTopicsEnabled == nil || !*b.user.HasTopicsEnabled || c.topics[thread] == "" {
		return badRequest("message thread not found")
	}
	return nil
}

func containsInt(list []int64, v int64) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
