// Package channeltest is the conformance suite every channel package runs:
// authentic and forged deliveries, dedupe ids usable as storage keys,
// rendering within the messenger's limits, and the messenger's failures
// mapped onto the errors of package channel. A new channel proves itself by
// describing its messenger in a [Suite] and calling [Run].
package channeltest
