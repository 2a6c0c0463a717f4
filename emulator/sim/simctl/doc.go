// Package simctl is what the simulators' control APIs share: the
// fault-injection rules of /_sim/fail and strict JSON in and out.
//
// # Faults
//
// A rule names its service ("telegram" or "jira"), what it matches (a
// service-specific key such as a Bot API method name or
// "POST /rest/api/3/myself"; "*" matches every call, "PUT /rest/api/3/comment/*"
// every call with that prefix), the status to answer, for 429 the
// retry-after seconds, and how long to hold the call before answering
// (hold_seconds; a caller that goes away meanwhile ends the hold). Rules are tried in the order they
// were added; the first that matches is used and its count goes down by one.
// A count of -1 never runs out (until DELETE /_sim/fail).
package simctl
