// Package queue delivers Forge-style async events: a module pushes a payload
// to one of its queues with an optional delay, and the queue invokes the
// queue's consumer, retrying with back-off when the consumer fails or asks
// for a retry.
//
// # Order
//
// One installation's queue is consumed one message at a time, in the order
// its messages became due; installations and queues run in parallel. A
// retried message goes back to the end of its lane, so order holds only
// until a delivery fails (per-chat ordering through retries is the durable
// queue's job).
//
// # Durability
//
// Memory keeps pending events in process memory only: they are lost when
// the process stops. It is the runtime's stand-in until the durable queue
// on sealed storage replaces it; both satisfy the same Push contract.
package queue
