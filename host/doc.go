// Package host is the runtime of the Forge stand-in: it loads a signed
// bundle, runs its module in the sandbox (package engine) with the
// capabilities of package capability over sealed storage, keeps the
// installations (package tenant), and runs one Invoke for every way in.
// The ways in are packages of their own that import this one (web
// triggers, Jira events, resolvers under host/trigger); the queue's
// deliveries are the one way in the runtime consumes itself, since it opens
// the queue and knows when a bundle is loaded.
//
// # Invocations
//
// Every invocation runs under its own deadline, taken from the manifest for
// its kind (never from the caller's transport), on an instance that belongs
// to the calling installation, with a Call that scopes every capability to
// that installation.
//
// # Reload
//
// Load may be called again with a new bundle: new invocations use the new
// module at once; invocations already running finish on the old one, which
// is closed when the last of them returns. Storage and queued work are
// untouched.
package host
