// Package devca is a throwaway certificate authority for development and
// tests: the simulators present certificates for the real service host names
// (api.telegram.org, the Jira site) signed by it, and the host's outbound
// client trusts it in dev mode only, so the module and its manifest run
// unchanged against the simulators.
//
// Keys live in memory; nothing here is for production.
package devca
