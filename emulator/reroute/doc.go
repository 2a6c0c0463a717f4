// Package reroute is the emulator's outbound HTTP client: a connection to a
// real service's name (api.telegram.org, the Jira site) goes to the local
// simulator serving that name instead, with TLS still verified for the real
// name against the dev CA. The module and its manifest keep the real names,
// so dev mode runs the bundle that production runs.
package reroute
