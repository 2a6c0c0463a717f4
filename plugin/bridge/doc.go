// Package bridge is the conversation logic between customers in a messenger
// and Jira Service Management: it handles the plugin's web trigger, Jira
// events, queue consumers and admin resolvers.
//
// # Flow
//
// The website widget (channel web, web.go) comes in through its own web
// trigger: the page's origin must be one of the project's allowed origins;
// a session, a realtime token with the history read from Jira, a message
// or a press of one of its buttons (queued as a messenger's) or an upload (attached at once) is asked for;
// replies go out through the realtime capability.
//
// Customer to Jira: the web trigger authenticates a messenger webhook,
// drops duplicates by event id, queues each event on "inbound" and answers
// at once. An event too large for the queue (abi.MaxQueuePayloadLen) is
// answered 200 and dropped, as is such a Jira comment: no retry would fit.
// The inbound consumer opens a JSM request for a chat's first
// message and comments on it afterwards; commands (/start, /help, /new,
// /status) are answered by the bot; files travel as request attachments.
// An edit is a new comment marked "(edited)"; a deletion the messenger
// reports (WhatsApp's revoke), and a reaction when the project relays them
// (relayReactions), is an internal note (media.go).
// After a customer's comment the request is moved back to "Waiting for
// support" if it waits for the customer: JSM counts the app's comments as
// the team's (RATIONALE.md, "Why does a customer's message move the
// request, and how?").
//
// Jira to customer: the event handler picks public agent comments (never
// internal ones, never the app's own, each comment once), edits of them
// (each edit once, sent as a correction marked in the bot's language) and
// resolutions, and queues them on "outbound"; the outbound consumer renders
// and sends them, paced to about one message a second per chat.
//
// # Logs
//
// The bridge logs attributes of a fixed vocabulary only (project, channel,
// event and queue message ids, numeric comment and attachment ids, kinds,
// steps, counts, errors) and never an issue key, chat id, token or message
// text; errors name Jira paths by their shape and quote no decoded input.
//
// # Storage
//
// Only configuration, the chat-to-request mapping and expiring delivery
// records are stored; see the key layout in store.go. Messengers that
// report deliveries later (WhatsApp) add, for a while, the hashed id of each
// reply message sent (receipts.go), so that a failure becomes one note for
// the agents. Message text exists
// only in queue payloads, which the host deletes once delivered.
//
// RecordKinds (privacy.go) names every kind of record, its holdings and
// lifetime; the inventory resolver counts by it and the privacy tests
// accept nothing else. The admin lists a project's mappings without chat
// ids and forgets one chat (mappings.forget, or the customer's /forget):
// its mappings and every record derived from them go, Jira is untouched.
// A resolved request's mapping expires after the project's retention
// period (retentionDays, default 90), swept daily by the "retention"
// scheduled trigger, a bounded batch per project and run.
//
// # Idempotency
//
// Webhooks and queue deliveries arrive at least once. Every unit of work
// has a progress record (dedupe:...) owned by a random nonce carried in its
// queue payload: a duplicate delivery with another nonce does nothing, and
// a retried one skips the steps it already completed. A created request is
// recorded before anything else happens, so a retry after a later failure
// never opens a second one.
//
// A step is recorded after its call, so a host killed between the two (or
// a call whose answer was lost) leaves an effect the record does not know.
// The host then delivers the message again with Attempt > 1 (a replayed
// dead letter starts at 1 again, but its progress record shows an earlier
// run), and the consumers ask Jira, which keeps a mark of everything they
// create: the entity property chatbridge.op = {"id": "<nonce>.<step>"} (no
// content, no chat id). A first delivery reads nothing: nothing was done
// before it.
//
//   - Internal notes go through the platform API (POST
//     /rest/api/2/issue/{key}/comment) with sd.public.comment and
//     chatbridge.op among the properties of the creating call: the note never
//     exists unmarked. A redelivery lists the request's comments with
//     expand=properties, newest first, and records a step whose mark it finds
//     without calling again.
//   - Customer text goes through the service desk API (POST
//     /rest/servicedeskapi/request/{key}/comment), which takes no properties,
//     and files through JSM's attach call with its additionalComment: each
//     answer names the comment, which is then marked in a second call. A
//     redelivery accepts the mark, or, for a host killed between the two
//     calls, an unmarked comment by the app's account, created after the
//     progress record's last save (less two minutes of clock skew), with
//     exactly the step's text (a file: naming the file, after its caption);
//     it marks what it adopts.
//   - Creating a request (POST /rest/servicedeskapi/request, no properties)
//     saves its intent, the time, in the progress record first: the one
//     extra write of a conversation. The new request is then marked with an
//     issue property before the progress records it. A redelivery that finds
//     an intent searches the app's requests of the project created since
//     (JQL on project, creator = currentUser() and created): one marked with
//     its op is its own; an unmarked one is its own only with exactly the
//     summary and description the event makes and no chat mapped to it. A
//     creation Jira refused (4xx, 429, 503) clears the intent; other 5xx and
//     timeouts leave it, as the request may exist.
//
// Remaining windows: Jira's search lags writes, so a redelivery less than
// 10 s after the intent that finds nothing retries once 10 s have passed
// instead of creating (on the host's last attempt it creates); a lag beyond
// that, or a host killed between creating and marking a request whose
// summary or description Jira stored altered, still opens a second one. An
// unmarked customer comment is recognized only by its text, so a comment
// Jira stored altered is repeated, and an identical unmarked comment that
// an earlier delivery of the same chat left between its two calls, less
// than two minutes before this one's last save, would be taken for this
// one's. The progress record's own write failing without a crash is an
// ordinary retry and covered the same way.
//
// Messenger sends (Telegram sendMessage, sendPhoto, sendDocument, Viber and
// WhatsApp messages) stay at least once: they take no idempotency key and
// the bot cannot read back what it sent, so a host killed between a send
// and its progress write sends that part again.
//
// # Configuration
//
// Resolvers config.set, config.get, config.delete and config.list manage
// one [Config] per Jira project. The bot token is write-only: it goes to
// the host's secrets and is used by reference from then on.
// servicedesks.list names the site's service desks and their request types
// (so that an admin picks them by name), and config.options the channels,
// languages and attachment kinds config.set accepts.
//
// # Hours, language and abuse control
//
// hours.go answers a chat's first message in each period outside the
// project's business hours; texts.go speaks the customer's language where
// the messenger names it, else the project's, with per-language overrides;
// abuse.go drops a blocked chat's messages and those over a chat's flood
// limit; every request the bridge raises carries its channel's label
// (ChannelLabel).
//
// # Customer identity
//
// identity.go links a chat to a JSM customer once the chat proves it reads
// the customer's email (/link, a code JSM's own notification carries,
// derived and never stored); a linked chat's requests are raised on the
// customer's behalf, and a project may require the link (Config.Identity).
// linklimit.go bounds the codes one chat can make JSM email: one per
// address a quarter hour, three addresses an hour.
//
// # Several requests per chat
//
// requests.go keeps a chat's other open requests when /new starts another,
// lets the customer choose with /requests which one they write to, and
// heads an agent's reply with its request's key while several are open.
// topics.go gives each request its own topic in a private chat where the
// bot has Telegram's topic mode, and routes both ways by the topic.
//
// # Routing and the reply window
//
// routing.go offers a chat's first message a menu of request types
// (Config.RequestTypeMenu) and holds the message in the queue, not in
// storage, until the customer chooses or the default type applies after 5
// minutes. template.go holds an agent's reply outside WhatsApp's 24-hour
// window (a reference to the comment, never its text), sends an approved
// template (Config.Templates) and releases the reply when the customer
// answers. bots.go lets more bots or numbers serve a project, each under a
// route name of its own, routed by the bot an update came through.
package bridge
