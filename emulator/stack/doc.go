// Package stack starts the local emulator: one node (host/node) with a
// development signing key, certificate and master key under its data
// directory, the simulators standing in for Telegram, Viber, WhatsApp and
// the Jira site, the dev console on the admin listener, the dev site
// installed and, for the bridge, a configured project. `chatbridge dev`,
// the end-to-end tests and the benchmarks start it the same way.
package stack
