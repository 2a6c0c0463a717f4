// Package stacktest is the end-to-end harness: a whole emulator (one
// emulator/stack with the bridge plugin built to wasm) per test or shared
// by the tests that do not interfere, driven only as the outside world
// drives it: the simulators' control API on the admin listener, the public
// web trigger URLs and the admin API. It waits for effects through the
// simulators' and the host's own counters (Settle), never for a fixed
// time, and at the end holds every Jira and messenger call the stack made
// against the services' specifications.
//
// The end-to-end tests of host/cmd/chatbridge use it; so can any test that
// needs the whole system.
package stacktest
