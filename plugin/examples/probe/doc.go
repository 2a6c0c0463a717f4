// Command probe is the example plugin: one web trigger that runs a named
// operation against a capability and reports the outcome as JSON. The host's
// tests drive it to prove every capability, every refusal, and the sandbox's
// limits (runaway loops, memory, per-installation globals, files).
package main
