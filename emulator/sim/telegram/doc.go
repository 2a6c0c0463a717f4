// Package telegram simulates the Telegram Bot API on the wire, so that the
// bridge talks to it exactly as to api.telegram.org: the same paths
// (/bot<token>/<method>, /file/bot<token>/<file_path>), parameters in any of
// Telegram's encodings, the same answers and error descriptions, and real
// webhook deliveries of Updates.
//
// # Faithful
//
//   - Tokens: unknown ones get 401 Unauthorized, unknown methods 404 Not
//     Found; method names are case-insensitive.
//   - Parameters from the query string, urlencoded or JSON bodies and
//     multipart parts; JSON-serialized objects inside form fields; numbers
//     and booleans as strings. Unknown parameters are ignored.
//   - sendMessage with parse_mode HTML parsed by Telegram's rules (tags,
//     attributes, entities, byte offsets in errors), text 1-4096 UTF-16 code
//     units after parsing and trimming, captions up to 1024; entities in the
//     returned Message.
//   - setWebhook checks (https, ports 443/80/88/8443, secret_token
//     charset and length, max_connections 1-100), getWebhookInfo with
//     pending_update_count and the last delivery error in Telegram's words.
//   - Deliveries with X-Telegram-Bot-Api-Secret-Token, retried on any
//     non-2xx or network error with back-off, in order per chat, at most
//     max_connections at a time, allowed_updates honoured (message_reaction
//     only when listed, as setWebhook documents); a webhook answer
//     carrying a "method" is run as a call.
//   - Uploads: photos decoded and resized into PhotoSize lists (largest
//     last), 413 over the size limits, getFile and file downloads, 20 MB
//     download limit. sendVoice plays OGG/Opus, MP3 and M4A up to 50 MB
//     and refuses other formats and users who forbid voice messages
//     (VOICE_MESSAGES_FORBIDDEN); sendVideo plays MPEG4 up to 50 MB.
//   - Users send text, photos, documents, voice notes, video notes,
//     locations, contacts and stickers, and react to messages with
//     Telegram's reaction emoji (message_reaction).
//   - Blocked users: 403 "Forbidden: bot was blocked by the user" and a
//     my_chat_member update; 429 with parameters.retry_after, flood control
//     (optional) and counting of calls made before retry_after passed.
//   - Forum topics in private chats (Bot API 9.3; Config.Topics): getMe's
//     has_topics_enabled, createForumTopic, message_thread_id on sends
//     ("message thread not found" for a topic the chat lacks, or without
//     topic mode) and on the user's messages, with is_topic_message.
//
// # Simplified
//
// Private chats only; MarkdownV2 and Markdown texts are taken unparsed;
// photos and documents by URL fail as an unreachable URL would; message
// entities are detected for bot commands only; getUpdates long-polls at
// most 50 s; the methods are those the bridge
// uses (getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo,
// sendMessage, sendPhoto, sendDocument, sendVoice, sendVideo, sendChatAction,
// getFile, setMyCommands, getMyCommands, deleteMyCommands, answerCallbackQuery,
// createForumTopic); users create no topics (allows_users_to_create_topics
// is false) and topic creation posts no service message. The control API is
// described in package sim.
package telegram
