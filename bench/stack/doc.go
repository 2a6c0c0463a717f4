// Package stack starts the whole bridge in-process on loopback for
// measurements: sealed BuntDB storage, the Telegram and Jira simulators, the
// HTTPS edge, and the bridge either as the signed wasm bundle in the host or
// as the same plugin code compiled natively (the InProcess mode), behind the
// same edge, storage and queue. It also holds the small HTTP load generator
// the table's end-to-end rows use.
//
// # InProcess mode
//
// The native adapter (native.go) implements plugin/sdk's interfaces on the
// host's own backends: storage.Store, the tenant registry, the outbound
// client and the queue. It mirrors the capability checks that matter for the
// work done (key validation, secret substitution, the installation's Jira
// site and credentials), not the sandbox, which is what the wasm/native
// ratio prices.
package stack
