// Package jira simulates a Jira Cloud site with Jira Service Management on
// the wire, so that the bridge talks to it exactly as to
// <site>.atlassian.net: the JSM and platform REST endpoints it uses, with
// Jira's answers and error shapes, and signed admin-webhook deliveries of
// Jira's JSON.
//
// # Faithful
//
//   - Every call needs the configured Authorization header (else 401 with
//     Jira's error JSON); the app account it maps to authors what the
//     bridge creates, and those comments fire webhooks like any other.
//   - JSM: create and read requests (issueId, issueKey, currentStatus with
//     an upper-case statusCategory, _links), comments {body, public},
//     attachments in two steps (attachTemporaryFile needs
//     X-Atlassian-Token: no-check, else 403 "XSRF check failed", and
//     X-ExperimentalApi: opt-in), customers, service desks, request types,
//     raiseOnBehalfOf and request participants.
//   - JSM's default "Transition on comment" rule: a customer's public
//     comment on a request "Waiting for customer" moves it to "Waiting for
//     support", the team's (the app's included) on "Waiting for support" to
//     "Waiting for customer", as "Automation for Jira" (Config.NoCommentRule
//     turns it off). Jira runs it moments after the comment; the simulator
//     at once.
//   - Platform: myself, issues with ?fields=, v3 comments with ADF bodies
//     (v2: wiki strings), visibility and the sd.public.comment property
//     (honoured as the comment's visibility, in webhooks too), properties
//     set in the creating call, comment listings (startAt, maxResults,
//     orderBy=[+-]created; expand=properties is ignored, as Jira documents
//     only renderedBody there), comments by id with their properties
//     (POST comment/list?expand=properties), comment properties at
//     /comment/{commentId}/properties/{key} and issue properties,
//     transitions, attachment metadata, and attachment content by 303 to
//     /secure/attachment/... (or the bytes with ?redirect=false).
//   - Search: POST /rest/api/{2,3}/search/jql with fields, properties,
//     maxResults and nextPageToken, for the JQL the bridge writes only:
//     project = "KEY", creator = currentUser() and created >= -<n>m|h|d
//     joined by AND, optionally ORDER BY created [ASC|DESC]. Any other query
//     is answered 400 as Jira answers one it cannot parse. The index is
//     never behind.
//   - Webhooks: comment_created and jira:issue_updated (issue_commented) for
//     every comment (Jira's double fire), comment_updated, jira:issue_created,
//     jira:issue_updated with changelog items for transitions (status and
//     resolution) and attachments; wiki-markup bodies and jsdPublic; signed
//     X-Hub-Signature: sha256=<hex HMAC-SHA256>; X-Atlassian-Webhook-Identifier;
//     retried on 408, 409, 425, 429, 5xx and timeouts with
//     X-Atlassian-Webhook-Retry: n and growing delays.
//   - Admin webhooks through the REST API (/rest/webhooks/1.0/webhook: POST
//     {name, url, events, filters{"issue-related-events-section": JQL},
//     excludeBody, secret} answering 201 with self, GET the list, GET and
//     DELETE /{id}), for an account with Administer Jira only (else 403;
//     Config.NotSiteAdmin); each delivers its events for the issues its JQL
//     selects, signed with its secret, beside the webhook entered in the
//     settings page (the control API's).
//   - A path or method Jira does not have answers as Jira Cloud does: 404
//     (405 with Allow for a served path) as an RFC 7807 problem document.
//   - Faults: any call may be made to answer 429 with Retry-After and
//     X-RateLimit-Reset, or 5xx; calls made inside a Retry-After window are
//     counted.
//
// # Simplified
//
// One project and service desk; a fixed workflow whose statuses may be
// entered from any other; wiki markup is stored, not rendered (ADF bodies
// are converted to wiki markup for webhooks and back as plain paragraphs);
// no permissions beyond the one Authorization and the site-admin switch;
// an admin webhook's JQL is only project = KEY or project in (KEY, ...); no pagination beyond one
// page; customers are created on first use by email (raiseOnBehalfOf,
// request participants) as well as by "Create customer"; customer
// notifications are kept in an outbox instead of mailed (customers.go). The control API is
// described in package sim.
package jira
