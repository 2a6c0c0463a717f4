// Package channel defines what the bridge needs from a messenger: it turns an
// inbound webhook into neutral events and sends text and files back, so that
// Viber or WhatsApp can be added as new packages without touching the Jira side.
//
// # Contract
//
// A [Channel] is one bot of one Jira project (for the website widget,
// package web, the project's widget: it has no bot and no token, and sends
// through the realtime capability instead of a messenger's API). Its credentials live in the
// host's secrets and are used by reference ([Secrets] holds their names);
// a Channel never keeps a token in memory.
//
// Inbound: [Channel.Authenticate] checks that a webhook came from the
// messenger, [Channel.Parse] turns its body into [Inbound] events whose text
// is already Jira wiki markup. Outbound: [Channel.Render] turns Jira content
// into messages in the channel's own format, each within [Limits], which
// [Channel.SendText] sends as they are; [Channel.SendFile] sends a file as
// what it is where the messenger allows (a picture, a voice message), else
// as a document. Shared locations and contacts arrive as text
// ([LocationText], [ContactText]); reactions and deletions as [Reaction]
// and [Deleted] events.
//
// Optional interfaces add what only some messengers have: buttons
// ([Chooser], [Answerer]), longer menus ([Lister], WhatsApp's lists),
// approved templates outside a reply window ([Templater], [Windowed]),
// delivery receipts ([Receipted]), greetings ([Greeter]) and files by link
// ([LinkSender]).
//
// # Errors
//
// Channels report conditions the bridge acts on as errors that match the
// sentinels of this package with errors.Is ([ErrBlocked], [ErrUnauthorized],
// [ErrTooLarge], [ErrTemporary]); [RetryAfter] extracts a flood-control wait
// and [MigratedTo] a chat's new id.
package channel
