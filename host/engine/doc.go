// Package engine runs a plugin module in wazero: it compiles the module once,
// keeps pools of initialised instances keyed by installation, runs one call
// per instance at a time, and stops runaway calls at their deadline.
//
// # Isolation
//
// An instance only ever serves the key (installation) it was created for,
// so no global of the module crosses from one installation to another.
// After a trap or a timeout the instance is discarded, never reused.
//
// # Deadlines
//
// By default the module is rewritten before compile (package fuel) so that
// every loop header counts down a quantum and then asks the host whether the
// call's context is done; this stops an infinite loop at its deadline for
// about 1.1x the cost of an unchecked call. wazero's WithCloseOnContextDone
// is the alternative (about 6x on Go guests); Deadline selects.
//
// # Sandbox
//
// Instances get no files, no environment, no arguments and no sockets;
// they do get the real clocks and crypto/rand, without which the Go guest's
// garbage collector stalls.
package engine
