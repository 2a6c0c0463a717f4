// Package realtime holds the browsers subscribed to an installation's
// realtime channels and delivers what the module publishes to them: the
// host's half of the realtime capability (Forge Realtime).
//
// # Tokens
//
// A browser subscribes with a token the module signs (Hub.Sign): the
// installation, the channel, the page's origin and an expiry, MACed with
// HMAC-SHA256 under the installation's signing key. The key is 32 random
// bytes kept in the sealed store under the installation (created once,
// conditionally, so every node of a cluster signs and verifies with the
// same key) and destroyed with the installation's other records on
// uninstall, which voids every token it signed.
//
// # Delivery
//
// Nothing published is stored. Publish hands the payload to the
// subscriptions of the channel connected to this Hub at that moment; a
// subscriber whose buffer is full is dropped (its browser reconnects and
// reads what it missed from the system of record: for the web channel,
// Jira). On a cluster each node has its own Hub: a publish reaches the
// subscribers on the node that ran the publishing invocation only (see
// RATIONALE.md, "Why realtime is node-local").
//
// # Limits
//
// The running bundle's app.realtime (Hub.SetLimits): payload size,
// operations (publishes and signings) per second per installation,
// subscribers per installation and per client address per installation.
// A refusal is one of the package's errors, which the capability maps to
// the contract's codes and the edge to HTTP statuses.
package realtime
