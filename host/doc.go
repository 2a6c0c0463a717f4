// Package host is the Forge stand-in: it loads a signed bundle, runs its
// module in the sandbox (package engine) with the capabilities of package
// capability over sealed storage, keeps the installations (package tenant),
// and turns web-trigger requests, Jira webhooks, queue deliveries, schedules
// and admin resolver calls into invocations of the module.
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
