// Package jirasite checks a Jira Cloud site and the credentials an
// installation is given before the host accepts them: it finds the app's
// account with GET /rest/api/3/myself (so the account id is never typed in,
// and never empty) and checks with JSM's GET /rest/servicedeskapi/servicedesk
// that the account can see a service desk. It also registers, finds and
// deletes the installation's admin webhook (/rest/webhooks/1.0/webhook),
// which only an account with Administer Jira may do.
//
// # Errors
//
// Each failure matches one sentinel and says what to do about it:
// [ErrCredentials] (Jira refused the Authorization), [ErrNoServiceDesk] (the
// account sees no service desk), [ErrNotAdmin] (the account may not manage
// admin webhooks), [ErrUnreachable] (no answer, or not Jira's).
package jirasite
