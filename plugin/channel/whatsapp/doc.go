// Package whatsapp is the WhatsApp Cloud API channel: it verifies Meta's
// webhook, authenticates and parses its signed deliveries, fetches media by
// id and sends text, images, audio, video and documents with the access
// token by reference (media.go: Meta's supported types and sizes).
//
// # Credentials
//
// An admin enters one string, PHONE_NUMBER_ID:WABA_ID:APP_SECRET:ACCESS_TOKEN.
// [StoreToken] keeps its parts as separate host secrets: the access token
// under the configured name, and the app secret, phone number id and
// business account id under that name with the suffixes of [Derived]. The
// ids are not secret, but keeping them there lets requests name them by
// reference ("/v23.0/{{secret:NAME.phone}}/messages", [GraphVersion]) without any other
// storage.
//
// # Webhooks
//
// Register subscribes the business account's webhook to the bridge's URL
// with a verify token; Meta checks it at once, and may again later, with a
// GET that [Handshake] answers with hub.challenge when hub.verify_token
// matches (compared by the host) the token of the registration under way or
// the saved configuration's webhook secret, which is the token it
// registered. Deliveries carry X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
// raw body keyed with the app secret>. One delivery may hold several
// entries and messages; each message is one event, its id (a wamid, which
// holds characters storage keys do not allow) hashed into the dedupe id.
//
// # Statuses and customers without a number
//
// A send is answered with the message's id (a wamid); whether it arrived is
// reported later in a statuses webhook. A failed status becomes a
// channel.Undelivered event naming the wamid, with the error code and its
// meaning ([FailureReason]); sent, delivered and read give no event. The
// channel implements channel.Receipted so that the bridge learns the wamid.
// A customer who hides their number is known by a business-scoped user id
// ([ValidUserID]), which is then the chat id and is addressed by
// "recipient". An edit is an Edited event with the new text; a reaction a
// Reaction event and a revoke a Deleted one, naming the message; a message
// the Cloud API delivers without content is an Unreadable one.
//
// # The 24-hour window
//
// Free-form messages reach a customer only within 24 hours of their last
// message; later sends fail with error 131047, which matches
// [ErrWindowClosed] and is permanent: the bridge does not retry and tells
// the agents in an internal note. The channel declares the window
// (channel.Windowed), so the bridge, which remembers when each customer last
// wrote, does not even try a reply it knows is too late; 131047 stays the
// fallback for what the bridge cannot know (a clock apart, a lost record).
// Outside the window only an approved message template is delivered
// (template.go, channel.Templater); Meta refuses an unknown one with
// 132001 and wrong parameters with 132000.
//
// # Buttons and lists
//
// Reply buttons (choice.go, channel.Chooser) carry up to 3 choices; a list
// message (list.go, channel.Lister) up to 10 rows behind one button. A
// press or a chosen row is a Chosen event with the choice's data.
package whatsapp
