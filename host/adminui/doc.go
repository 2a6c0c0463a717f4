// Package adminui is the production admin web UI, served on the admin
// listener under /admin/ui/: an operator signs in with the admin token and
// configures each installation's projects (service desk and request type
// by name, the channel and its bot token, texts and language, attachments,
// retention), watches deliveries (the queue's counters, dead letters with
// replay and discard), manages stored data (a project's mappings,
// forgetting one chat, the inventory) and each installation: its health
// (Jira webhook, last Jira delivery, credentials), its Jira webhook secret
// shown again or rotated (behind a ticked box), and its uninstall (behind
// the installation id typed), whose signed receipt is shown escaped and
// offered for download byte for byte as the host signed it.
//
// It is a client of the admin API (package adminapi), called in process
// with the admin token: it holds no state of the bridge and no rule of its
// own about settings; the module's resolvers validate, and their messages
// are shown beside the fields they name.
//
// # Security
//
//   - Sign-in: the admin token, compared in constant time, starts a
//     server-side session; the browser holds only a random session id in a
//     cookie that is HttpOnly, SameSite=Strict, Path=/admin/ui/, Secure on
//     TLS. A session ends after IdleTimeout without a request, after MaxAge
//     in all, at sign-out, or when the process restarts.
//   - CSRF: every POST carries a token tied to its session (the sign-in
//     form, before any session, one tied to a short-lived sign-in cookie by
//     an HMAC under a per-process key); a missing or wrong one is 403.
//   - Origin: every POST must come with an Origin equal to the listener's
//     own origin, and Sec-Fetch-Site, if sent, same-origin (403 otherwise).
//     The admin listener's proxy.LocalGuard also refuses host names it
//     does not serve (421), against DNS rebinding.
//   - Content-Security-Policy: default-src 'none', the one stylesheet from
//     the same origin, no script at all, forms posted only to the same
//     origin, no framing. The pages load nothing from elsewhere.
//
// The pages are plain HTML forms with labels; they need no JavaScript.
package adminui
