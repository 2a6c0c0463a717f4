// Package ratelimit paces the module's outbound requests per destination,
// by rules the bundle declares, so that the bridge slows down before a
// service tells it to.
//
// # Use
//
//	table, err := ratelimit.NewTable(specs) // from bundle.Manifest.Pacing
//	l := ratelimit.New(ratelimit.Config{})
//	d := table.For(installation, req.Method, req.URL, req.Header, body)
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
// a "blocked until" for the destination, honoured by every later Wait,
// also by those already sleeping.
//
// # Rules
//
// The package knows no service. A Spec, declared in the bundle's manifest
// (permissions.external.fetch.pacing, see package bundle), applies to the
// requests to its host that match its method, its path pattern
// ("/bot{bot}/{method}": literal segments and one {capture} per segment at
// most) and its conditions on request values. It gives each such request a
// key made of the installation, the host, the rule and the values it names:
// path captures, request parameters (the query's, else a JSON object's
// top-level member, a form field or a multipart text field; "123" and 123
// are one value) or headers. A rule whose values a request lacks does not
// apply to it. The key is paced by the rule's rate: Every apart, bursts of
// Burst after a quiet spell (GCRA).
//
// Every rule that applies gives the request a key, and the request waits
// until all of them allow it: a Telegram message counts against its bot and
// its chat. The first rule that applies owns the request: a 429 or 503
// blocks its key (the bot, so that every chat waits), read from the JSON
// member it names (Telegram's parameters.retry_after), then Retry-After
// (seconds or an HTTP date), then X-RateLimit-Reset (RFC 3339), then, for
// a 429 naming no time, the rule's default; and the 429 the host answers
// in place of a held-back request carries the rule's body, so that the
// module reads the service's own refusal.
//
// A request no rule applies to (a file download, a Jira site: Jira's
// limits are cost based and announced, never fixed) counts against one
// unpaced key of its installation and host, which answers only blocks
// learned from Retry-After or X-RateLimit-Reset, and whose refusal is a
// 429 with Retry-After and the Jira REST API's error body.
//
// Keys are per installation: one installation's traffic never slows
// another's, even on the same bot. A learned block is capped at
// Config.MaxBlock (15 minutes, the longest queue delay).
//
// # Several nodes
//
// Nodes of one cluster pace the same keys, each in its own memory. With
// Config.Nodes (the live member count, which host/cluster keeps by a
// watch), each node paces a key at its share: n nodes space their turns n
// times Every apart and burst Burst / n (at least 1), so that together they
// keep the key's rate in any window, and a node that leaves gives its share
// back within the cluster's TTL. A learned block stays on the node that
// learned it. No request costs a round trip to etcd.
//
// # Secrets and memory
//
// A key is a truncated SHA-256 of the installation, host, rule and the
// values that name it (token, chat id, phone number id); the limiter holds
// only the hash and never logs. Keys nobody used for Config.Idle (1
// minute), with nothing pending, are dropped as new requests come; at most
// Config.MaxKeys (100 000) are held, the least recently used going first.
// A request whose Wait is canceled keeps its turn taken: the pace errs
// slow.
package ratelimit
