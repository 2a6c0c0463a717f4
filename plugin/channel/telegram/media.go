package telegram

import (
	"strconv"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// Location is a point on the map.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// MessageReactionUpdated is a user's change of their reactions to a
// message. Telegram sends it only to a bot that lists "message_reaction"
// in allowed_updates (and, in groups, is an administrator); never for
// reactions set by bots.
type MessageReactionUpdated struct {
	Chat        Chat           `json:"chat"`
	MessageID   int64          `json:"message_id"`
	User        *User          `json:"user"`
	Date        int64          `json:"date"`
	OldReaction []ReactionType `json:"old_reaction"`
	NewReaction []ReactionType `json:"new_reaction"`
}

// ReactionType is one reaction: "emoji", "custom_emoji" or "paid".
type ReactionType struct {
	Type          string `json:"type"`
	Emoji         string `json:"emoji"`
	CustomEmojiID string `json:"custom_emoji_id"`
}

// customEmoji stands for a custom emoji, which the bridge cannot show.
const customEmoji = "(custom emoji)"

// reactionEvent turns a private chat's reaction change into a Reaction
// event: the first reaction of the new list, or "" when the customer took
// theirs back. Reactions in groups are left out: several people share a
// request there, and an anonymous reaction names nobody.
func reactionEvent(id string, r *MessageReactionUpdated) (channel.Inbound, bool) {
	if r.Chat.ID == 0 || r.Chat.Type != "private" || r.User == nil || r.MessageID == 0 {
		return channel.Inbound{}, false
	}
	ev := channel.Inbound{ID: id, Kind: channel.Reaction, ChatID: strconv.FormatInt(r.Chat.ID, 10),
		MessageID: strconv.FormatInt(r.MessageID, 10), Sender: displayName(r.User), Lang: r.User.LanguageCode}
	for _, t := range r.NewReaction {
		switch t.Type {
		case "emoji":
			if t.Emoji != "" {
				ev.Reaction = truncate(t.Emoji, 8)
			}
		case "custom_emoji":
			ev.Reaction = customEmoji
		default:
			continue // a paid star: no emoji the agents would read
		}
		if ev.Reaction != "" {
			break
		}
	}
	return ev, true
}

// isVoice reports whether an agent's audio file can be a voice message:
// sendVoice takes OGG/Opus, MP3 and M4A ("other formats may be sent as
// Audio or Document").
func isVoice(mime string) bool {
	switch channel.BaseMIME(mime) {
	case "audio/ogg", "audio/opus", "audio/mpeg", "audio/mp3", "audio/mp4", "audio/x-m4a", "audio/m4a":
		return true
	}
	return false
}
