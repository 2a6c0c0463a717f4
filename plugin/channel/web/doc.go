// Package web is the website chat widget as a channel: the customer writes
// in a widget on the company's own site, and agents' public replies reach
// the page live through the realtime capability.
//
// # Sessions
//
// A visitor is anonymous: the widget asks for a session (NewSession) and
// keeps it in the page's storage, never in a cookie. A session is 32
// random bytes (256 bits) in URL-safe base64; the chat id is a hash of it
// (ChatOf), so the bridge stores no session and a chat id cannot be turned
// back into the credential that writes to it. Whoever holds the session
// writes to its chat and subscribes to its realtime channel; nobody else
// can, since the session cannot be guessed. See RATIONALE.md, "Why is a
// widget session a random secret, not a signed one?".
//
// # Requests
//
// The widget POSTs JSON with Content-Type text/plain (a CORS simple
// request: no preflight) to the web trigger with ?project=KEY. The bridge
// checks the page's Origin against the project's allowed origins before
// anything else. Parse reads a "send" request as one message event and a
// "choose" request (a press of a button, with the button's data) as one
// channel.Chosen event, which the bridge checks against the chat as it
// checks a messenger's button presses; the "session", "connect", "upload"
// and "attach" requests are the bridge's (plugin/bridge/web.go). A send or
// a press carries the browser's language as its primary subtag ("de"),
// where the bridge has texts in it; the bridge uses it as Telegram's
// language_code.
//
// # Files
//
// A customer's file never passes through the module: "upload" (the file's
// name, type and size, at most MaxUpload) gets a single-use upload link of
// the host for the page's origin, the page POSTs the file to it, the host
// streams it to the service desk's temporary attachments, and "attach"
// attaches what the link received to the chat's request. The link's
// subject (UploadSubject, a hash of the chat and the file id) makes sure a
// session attaches only its own file.
//
// # Delivery
//
// SendText publishes {"type":"reply","text":...} to the chat's realtime
// channel (RealtimeChannel); SendFileURL publishes a single-use download
// link to an agent's file; SendChoices (channel.Chooser) publishes a bot
// question with its buttons ({"type":"choices","text":...,"choices":
// [{"label":...,"data":...}]}), which the widget shows as buttons. Nothing
// is stored: a page that is not connected reads the replies from Jira when
// it connects (a bot question is not in Jira, so it does not show then).
package web
