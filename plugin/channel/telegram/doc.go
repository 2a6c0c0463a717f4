// Package telegram is the Telegram Bot API channel: it parses and
// authenticates webhook updates and sends messages and files through the
// host's fetch, naming the bot token only by reference.
//
// # Token by reference
//
// Every call goes to https://api.telegram.org/bot{{secret:NAME}}/<method>;
// the host substitutes the secret, so the token never enters the module
// after it was saved. File downloads use the same placeholder.
//
// # Wire details
//
// Ids are int64 (chat and user ids exceed 32 bits). Entity offsets count
// UTF-16 code units; the conversion to Jira wiki happens in package format.
// A failed call is an [*Error] carrying error_code, description,
// parameters.retry_after and parameters.migrate_to_chat_id; it matches the
// sentinels of package channel (a 403 is channel.ErrBlocked, a 429 is
// channel.ErrTemporary with a RetryAfter).
//
// Files leave as what they are where Telegram plays them (sendPhoto,
// sendVoice for OGG/Opus, MP3 and M4A, sendVideo for MP4), else and on any
// refusal as a document. The webhook asks for message_reaction updates;
// a private chat's reaction is a Reaction event (media.go).
//
// Where the bot has topics in private chats (getMe's has_topics_enabled,
// Bot API 9.3), CreateTopic makes one with createForumTopic, InTopic sends
// with message_thread_id, and a message or button press in a private
// chat's topic carries its Thread (topics.go).
//
// Webhook deliveries are authenticated by comparing the
// X-Telegram-Bot-Api-Secret-Token header with the stored secret through the
// host's constant-time Compare.
package telegram
