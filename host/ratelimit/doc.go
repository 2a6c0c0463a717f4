// Package ratelimit paces the module's outbound requests per destination,
// so that the bridge slows down before a service tells it to.
//
// # Use
//
//	l := ratelimit.New(ratelimit.Config{})
//	d := ratelimit.For(installation, req.URL, req.Header, body)
//	if err := l.Wait(ctx, d); err != nil {
//		var we *ratelimit.WaitError // longer than MaxWait: answer d.TooManyRequests(we.Seconds())
//	}
//	resp := send(req)
//	l.Observe(d, resp.StatusCode, resp.Header, respBody)
//
// Wait sleeps when the request's turn is at most Config.MaxWait (2 s)
// away; a longer wait is refused without calling the destination, and the
// caller answers the module with a 429 it already reads as "retry after N
// seconds", so the work goes back to the queue with at least that delay
// instead of holding an instance. Observe learns from 429 and 503 answers
// (Telegram's parameters.retry_after, Retry-After, X-RateLimit-Reset) a
// "blocked until" for the bot or site, honoured by every later Wait, also
// by those already sleeping.
//
// # Rule table
//
// Keys are per installation: one installation's traffic never slows
// another's, even on the same bot.
//
//	host                 key                                  pace
//	api.telegram.org     bot (path /bot<token>/<method>)      20/s, bursts of 5
//	                     + private chat (chat_id)             1 per 1.1 s, no burst
//	                     + group or channel (chat_id < 0, @)  1 per 3 s, no burst
//	chatapi.viber.com    bot (X-Viber-Auth-Token)             10/s, bursts of 10
//	graph.facebook.com   phone number (/<v>/<id>/messages)    20/s, bursts of 10
//	any other host       installation and host                none: blocks only
//
// Why these values:
//
//   - Telegram documents about 30 messages/s per bot and about 1/s per chat,
//     20/minute per group, "short bursts" allowed but unspecified. 20/s with
//     a burst of 5 never puts more than 25 in one second, leaving room for
//     jitter. A chat gets no burst: the simulator's flood control (like
//     Telegram, when it chooses) refuses a second message within 1 s, and
//     the 0.1 s margin covers a first request delayed by its TLS handshake
//     arriving close to the next. A spaced reply costs a sleep of at most
//     1.1 s, below MaxWait, never a retry. sendChatAction is not a message
//     and counts against the bot only; file downloads (/file/bot...) fall to
//     the default. chat_id is read from the query, a JSON, form or
//     multipart body ("123" and 123 are one chat).
//   - Viber publishes no rate for the REST Bot API (only status 12, 100
//     messages an hour to a user who has not replied, which the bridge
//     handles); 10/s is a conservative default for a help desk.
//   - The WhatsApp Cloud API allows a business number 80 messages/s by
//     default (Meta's documentation, not in PROTOCOLS.md); 20/s stays well
//     below it.
//   - Jira sites and every other host have no fixed rate: Atlassian's
//     limits are cost based and announced by 429 or 503 with Retry-After
//     and X-RateLimit-Reset, which block the site's key.
//
// A Telegram 429 blocks the whole bot, not just its chat: Telegram does
// not say which limit was hit, and retrying earlier extends the wait. A
// 429 without retry_after counts as 1 s, as the bridge reads it. A learned
// block is capped at Config.MaxBlock (15 minutes, the longest queue delay).
//
// # Secrets and memory
//
// A key is a truncated SHA-256 of the installation, host and the parts
// that name it (token, chat id, phone number id); the limiter holds only
// the hash and never logs. Keys nobody used for Config.Idle (1 minute),
// with nothing pending, are dropped as new requests come; at most
// Config.MaxKeys (100 000) are held, the least recently used going first.
// A request whose Wait is canceled keeps its turn taken: the pace errs
// slow.
package ratelimit
