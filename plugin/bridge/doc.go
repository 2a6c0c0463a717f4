// Package bridge is the conversation logic between customers in a messenger
// and Jira Service Management: it handles the plugin's web trigger, Jira
// events, queue consumers and admin resolvers.
//
// # Flow
//
// Customer to Jira: the web trigger authenticates a messenger webhook,
// drops duplicates by event id, queues each event on "inbound" and answers
// at once. The inbound consumer opens a JSM request for a chat's first
// message and comments on it afterwards; commands (/start, /help, /new,
// /status) are answered by the bot; files travel as request attachments.
//
// Jira to customer: the event handler picks public agent comments (never
// internal ones, never the app's own, each comment once) and resolutions,
// and queues them on "outbound"; the outbound consumer renders and sends
// them, paced to about one message a second per chat.
//
// # Storage
//
// Only configuration, the chat-to-request mapping and expiring delivery
// records are stored; see the key layout in store.go. Message text exists
// only in queue payloads, which the host deletes once delivered.
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
// # Configuration
//
// Resolvers config.set, config.get, config.delete and config.list manage
// one [Config] per Jira project. The bot token is write-only: it goes to
// the host's secrets and is used by reference from then on.
package bridge
