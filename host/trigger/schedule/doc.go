// Package schedule fires the running bundle's scheduled triggers
// (modules.scheduledTrigger in the manifest) for every installation, once
// per interval across all the host nodes that share a store, and keeps
// doing so across restarts.
//
// It is a way into the module: it imports the runtime (host) and the
// runtime imports nothing of it. Start takes a Runtime, which ForHost
// makes of a *host.Host; the command that builds the host starts the
// schedule after the bundle is loaded and stops it before closing the host.
//
// # Intervals
//
// Forge's intervals: fiveMinute, hour, day and week
// (bundle.IntervalPeriod). As on Forge, a trigger fires first shortly after
// it appears (a new installation, a bundle that declares it, a changed
// interval), then once per interval. Config.Intervals shortens the
// intervals for tests and development only.
//
// # Records
//
// The last firing of each installation's trigger is a sealed record in the
// installation's storage.Dedupe keyspace, under storage.SchedulePrefix and
// the trigger's key: the time of the interval it fired for and the
// interval's length, nothing else. It expires two intervals and a minute
// after that firing, and goes with the installation's other records when
// it is uninstalled. A node reads the record when the trigger falls due and
// writes it after the invocation, so a restarted node does not fire an
// interval that already fired. After downtime the trigger fires once, not
// once per missed interval, and its intervals start again from that firing.
//
// # Several nodes
//
// With Config.Claims (host/cluster's claims on etcd), a node fires a trigger
// only while it holds the trigger's claim, named by the record key's keyed
// fingerprint (storage.Fingerprinter), and it reads the record under the
// claim: a node that claims after another released finds the interval
// already fired. A single node (BuntDB, whose file one process holds)
// needs no claims.
//
// # Failures
//
// A firing is at least once. The module's failure (an error code, a trap,
// its deadline) counts as a firing and is not retried, as on Forge. A node
// that dies during an invocation leaves the interval unrecorded: it fires
// again on restart, or on another node once the dead node's claims lapse.
// An installation or bundle that is gone, and a store that is unavailable,
// fire nothing and are tried again shortly.
package schedule
