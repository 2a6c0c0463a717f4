// Package jira is the bridge's Jira Service Management client and webhook
// parser: it creates requests, adds public comments and internal notes,
// uploads attachments, reads statuses and comment visibility through the
// host's Jira capability, moves requests between statuses, and decodes the
// comment and issue events Jira sends.
//
// # Calls
//
// Every call goes through sdk.Jira with a path on the installation's site;
// the host adds the app's credentials (Forge's asApp). Requests created this
// way are raised by the app's account.
//
// # Errors
//
// A failed call is a [*StatusError]. A 429 carries the Retry-After seconds
// ([StatusError.RetryAfter]); 429 and 5xx are [StatusError.Temporary] and
// match [ErrTemporary]; a 404 matches [ErrNotFound]. Transport failures of
// the host (unavailable, timeout) match ErrTemporary too.
//
// # Marks
//
// [OpProperty] (chatbridge.op) marks what the bridge creates, so that a
// retry can tell whether an earlier call went through:
// [Client.AddMarkedComment] sets it (with sd.public.comment) in the creating
// call; [Client.MarkComment] and [Client.MarkIssue] set it afterwards on
// what the service desk API created without properties. [Client.Comments]
// lists an issue's comments and reads their marks through the documented
// comment/list call (an issue's comment listing documents no
// expand=properties), and [Client.RecentIssues]
// searches the app's recent requests of a project (JQL, through the
// enhanced search, whose index lags writes by a moment).
//
// # Webhooks
//
// [ParseWebhook] accepts both shapes Jira uses: admin webhooks
// (webhookEvent comment_created, comment_updated, jira:issue_updated; comment
// bodies in wiki markup) and Forge product events (avi:jira:commented:issue,
// avi:jira:updated:issue; bodies in ADF).
//
// # Errors
//
// Errors name a call's path by its shape ([PathShape]:
// /rest/api/3/issue/{key}/comment/{id}), never with an issue key, and leave
// Jira's error messages out of their text ([StatusError.Messages]), so that
// logs stay free of keys and content.
package jira
