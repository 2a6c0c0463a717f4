// Package viber is a simulated Viber REST Bot API server: the calls the
// bridge makes (get_account_info, set_webhook, send_message), the signed
// callbacks Viber makes, and a control API to drive it from tests and tools.
//
// # Wire format
//
// Calls are POST https://chatapi.viber.com/pa/<method> with the header
// X-Viber-Auth-Token; every answer is HTTP 200 with {status, status_message}
// (status 0 is success; 2 invalid token, 3 bad data, 5 unknown receiver, 6
// receiver not subscribed, 12 too many messages). set_webhook posts an
// event "webhook" callback to the URL before it answers and fails with
// status 1 unless that callback gets 200. Callbacks carry
// X-Viber-Content-Signature, the lower-case hex HMAC-SHA256 of the body
// keyed with the token. send_message refuses a text over 7000 characters, a
// request over 30 KB and a sender name over 28 characters with status 3.
// Picture, video and file messages carry their media by https URL (a video
// also its size, at most 26 MB, and an optional duration of at most 180 s;
// a file its size and file_name): the simulator fetches the URL once before it
// answers, as Viber's servers do, and GET /_sim/viber/sent shows the
// fetch's status, size and SHA-256. Media of simulated customer messages is
// served at MediaURL.
//
// A message may carry a keyboard (Viber's keyboard documentation; the SDK
// passes it through): Buttons required, each with an ActionBody, an
// ActionType of reply, open-url, location-picker, share-phone or none,
// Columns 1 to 6, Rows 1 or 2, Text of at most 250 characters, and Text,
// Image, BgMedia or BgColor; anything else is status 3. POST
// /_sim/viber/press presses a reply button of the last keyboard a user got:
// a message callback whose text is its ActionBody.
//
// subscribed and unsubscribed callbacks carry no message_token (Viber's
// SDK, viber-bot-python 1.0.12, reads none on them), and a sticker may come
// by sticker_id alone (StickerIDOnly).
//
// The simulator serves only Routes, each an endpoint of Viber's SDK
// (testdata/specs/viber/bot-api.json); any other call is answered status 3
// (405 for a method other than POST) and counted as refused.
//
// Failed callbacks are not redelivered: the control API reports the status
// of the one attempt. The control API is described in package sim.
package viber
