// Package viber is the Viber REST Bot API channel: it authenticates and
// parses Viber's callbacks and sends text back with the token by reference.
//
// # Calls
//
// Every call is a POST of JSON to https://chatapi.viber.com/pa/<method> with
// the header X-Viber-Auth-Token: {{secret:<name>}}, which the host fills in.
// Validate uses get_account_info, Register set_webhook (Viber then posts an
// event "webhook" check, answered with 200 by [Handshake]), SendText
// send_message.
//
// # Callbacks
//
// X-Viber-Content-Signature is the lower-case hex HMAC-SHA256 of the raw body
// keyed with the bot token; the host checks it in constant time. Events
// message, subscribed, unsubscribed and conversation_started become bridge
// events, deduplicated on message_token; delivered, seen and failed carry no
// content and give none.
//
// # Chat ids
//
// Viber user ids are standard base64 ("01234567890A="), whose '+', '/' and
// '=' storage keys do not allow: a chat id is the user id with those mapped
// to '-', '_' and '.', and mapped back before sending.
//
// # Limits
//
// A text is at most 7000 characters and a whole request at most 30 KB: Render
// splits so that both hold after JSON escaping. Viber sends media by URL only;
// the bridge has no public file links, so an agent's file becomes a text
// notice naming it.
package viber
