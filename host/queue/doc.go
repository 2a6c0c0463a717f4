// Package queue delivers Forge-style async events durably: a module pushes
// a payload to one of its queues with an optional delay and an order key,
// and the queue invokes the queue's consumer, retrying with back-off when
// the consumer fails or asks for a retry, until a bounded number of
// attempts turns the message into a dead letter that an operator can
// replay.
//
// # Durability
//
// Push returns once the message is a sealed record in its installation's
// Queue keyspace (storage.Queue), with an expiry as a safety net. A
// consumed message's record is deleted; a retry rewrites it with its next
// attempt and due time; a dead letter moves to a record of its own. On
// Open the schedule is rebuilt from the records, so a message in flight
// when the process died is delivered again: delivery is at least once, and
// the consumer's idempotency makes its effects happen once.
//
// # Order
//
// Messages with the same order key are a lane: consumed one at a time in
// push order, and the first one blocks the rest through all of its
// retries, so one chat's messages are applied in order. Messages without a
// key share one lane per installation and queue. Different lanes run in
// parallel on Config.Workers workers. A dead letter leaves its lane, so a
// message that can never succeed does not stop its chat; a replayed one
// joins the end of its lane.
//
// # Several nodes
//
// With Config.Cluster, host nodes share one store (etcd) and its messages:
// each lane is consumed by the one node that claims it (Claims; host/cluster
// implements them on etcd leases). A push reads its lane's records and
// orders itself after all of them, stores its record, then consumes the
// lane here if it holds or can claim it, and otherwise nudges the node that
// does. A node gives up a lane a second after emptying it and then reads the
// lane once more, so a nudge that came too late loses nothing. A dead node's
// claims lapse with its lease; the others, told that a member left, and
// every SweepInterval anyway, sweep the records for lanes no node consumes
// and claim them, counting an attempt for a head that may have been in
// flight. Lane claims are named by the store's keyed fingerprints, never by
// installation or order key.
//
// A node that consumes a lane after its claim lapsed (a partition) could
// apply a message's effects after the lane's new consumer applied later
// ones. With Claims that are Fencing, every write for a lane, the
// consumer's (through the context it is given) and the queue's own (the
// record's delete, retry or burial), is made under the claim's
// storage.Fence, so it fails with storage.ErrFenced once the claim is
// lost; the queue then forgets the lane and leaves the message to the new
// consumer. When the node learns that its claims lapsed it also cancels
// its attempts in flight.
package queue
