package telegram

import "encoding/json"

// The Bot API objects the simulator sends and receives, with the field
// names of the real API (a test checks them against the published spec).
// Optional fields are omitted when empty, as Telegram does.

// User is a Telegram user or bot.
type User struct {
	ID                      int64  `json:"id"`
	IsBot                   bool   `json:"is_bot"`
	FirstName               string `json:"first_name"`
	LastName                string `json:"last_name,omitempty"`
	Username                string `json:"username,omitempty"`
	LanguageCode            string `json:"language_code,omitempty"`
	CanJoinGroups           *bool  `json:"can_join_groups,omitempty"`
	CanReadAllGroupMessages *bool  `json:"can_read_all_group_messages,omitempty"`
	SupportsInlineQueries   *bool  `json:"supports_inline_queries,omitempty"`
	CanConnectToBusiness    *bool  `json:"can_connect_to_business,omitempty"`
	HasMainWebApp           *bool  `json:"has_main_web_app,omitempty"`
	// Forum topic mode in private chats (getMe only; topics.go).
	HasTopicsEnabled          *bool `json:"has_topics_enabled,omitempty"`
	AllowsUsersToCreateTopics *bool `json:"allows_users_to_create_topics,omitempty"`
}

// Chat is a chat; the simulator has private chats only.
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Username  string `json:"username,omitempty"`
}

// MessageEntity is a formatting or detected entity; Offset and Length count
// UTF-16 code units.
type MessageEntity struct {
	Type          string `json:"type"`
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	URL           string `json:"url,omitempty"`
	Language      string `json:"language,omitempty"`
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// PhotoSize is one size of a photo.
type PhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Document is a general file.
type Document struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// LinkPreviewOptions is how a link preview is shown.
type LinkPreviewOptions struct {
	IsDisabled       bool   `json:"is_disabled,omitempty"`
	URL              string `json:"url,omitempty"`
	PreferSmallMedia bool   `json:"prefer_small_media,omitempty"`
	PreferLargeMedia bool   `json:"prefer_large_media,omitempty"`
	ShowAboveText    bool   `json:"show_above_text,omitempty"`
}

// Message is a message of a chat.
type Message struct {
	MessageID          int64               `json:"message_id"`
	MessageThreadID    int64               `json:"message_thread_id,omitempty"`
	IsTopicMessage     bool                `json:"is_topic_message,omitempty"`
	From               *User               `json:"from,omitempty"`
	Date               int64               `json:"date"`
	Chat               Chat                `json:"chat"`
	ReplyToMessage     *Message            `json:"reply_to_message,omitempty"`
	EditDate           int64               `json:"edit_date,omitempty"`
	MediaGroupID       string              `json:"media_group_id,omitempty"`
	Text               string              `json:"text,omitempty"`
	Entities           []MessageEntity     `json:"entities,omitempty"`
	LinkPreviewOptions *LinkPreviewOptions `json:"link_preview_options,omitempty"`
	Document           *Document           `json:"document,omitempty"`
	Photo              []PhotoSize         `json:"photo,omitempty"`
	Caption            string              `json:"caption,omitempty"`
	CaptionEntities    []MessageEntity     `json:"caption_entities,omitempty"`
	// Voice, VideoNote, Location, Contact and Sticker are media.go's.
	Voice     *Voice     `json:"voice,omitempty"`
	VideoNote *VideoNote `json:"video_note,omitempty"`
	Video     *Video     `json:"video,omitempty"`
	Location  *Location  `json:"location,omitempty"`
	Contact   *Contact   `json:"contact,omitempty"`
	Sticker   *Sticker   `json:"sticker,omitempty"`
	// ReplyMarkup is the message's inline keyboard (buttons.go).
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// ChatMember is a member's status in a chat (the "member" and "kicked"
// variants: all a private chat with a bot has).
type ChatMember struct {
	Status    string `json:"status"`
	User      User   `json:"user"`
	UntilDate *int64 `json:"until_date,omitempty"`
}

// ChatMemberUpdated is a change of a member's status.
type ChatMemberUpdated struct {
	Chat          Chat       `json:"chat"`
	From          User       `json:"from"`
	Date          int64      `json:"date"`
	OldChatMember ChatMember `json:"old_chat_member"`
	NewChatMember ChatMember `json:"new_chat_member"`
}

// Update is one incoming update.
type Update struct {
	UpdateID      int64              `json:"update_id"`
	Message       *Message           `json:"message,omitempty"`
	EditedMessage *Message           `json:"edited_message,omitempty"`
	MyChatMember  *ChatMemberUpdated `json:"my_chat_member,omitempty"`
	CallbackQuery *CallbackQuery     `json:"callback_query,omitempty"`
	// MessageReaction is media.go's.
	MessageReaction *MessageReactionUpdated `json:"message_reaction,omitempty"`
}

// kind is the update's type as allowed_updates names it.
func (u *Update) kind() string {
	switch {
	case u.Message != nil:
		return "message"
	case u.EditedMessage != nil:
		return "edited_message"
	case u.CallbackQuery != nil:
		return "callback_query"
	case u.MessageReaction != nil:
		return "message_reaction"
	default:
		return "my_chat_member"
	}
}

// WebhookInfo is the answer of getWebhookInfo.
type WebhookInfo struct {
	URL                  string   `json:"url"`
	HasCustomCertificate bool     `json:"has_custom_certificate"`
	PendingUpdateCount   int      `json:"pending_update_count"`
	LastErrorDate        int64    `json:"last_error_date,omitempty"`
	LastErrorMessage     string   `json:"last_error_message,omitempty"`
	MaxConnections       int      `json:"max_connections,omitempty"`
	AllowedUpdates       []string `json:"allowed_updates,omitempty"`
}

// File is the answer of getFile.
type File struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileSize     int64  `json:"file_size,omitempty"`
	FilePath     string `json:"file_path,omitempty"`
}

// BotCommand is one command of setMyCommands.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// ReplyParameters says which message a sent message replies to.
type ReplyParameters struct {
	MessageID                int64           `json:"message_id"`
	ChatID                   json.RawMessage `json:"chat_id,omitempty"`
	AllowSendingWithoutReply bool            `json:"allow_sending_without_reply,omitempty"`
	Quote                    string          `json:"quote,omitempty"`
	QuoteParseMode           string          `json:"quote_parse_mode,omitempty"`
	QuotePosition            int             `json:"quote_position,omitempty"`
}

// ResponseParameters is the "parameters" of an error answer.
type ResponseParameters struct {
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
	RetryAfter      int   `json:"retry_after,omitempty"`
}

// response is every answer of the Bot API.
type response struct {
	OK          bool                `json:"ok"`
	Result      any                 `json:"result,omitempty"`
	ErrorCode   int                 `json:"error_code,omitempty"`
	Description string              `json:"description,omitempty"`
	Parameters  *ResponseParameters `json:"parameters,omitempty"`
}
