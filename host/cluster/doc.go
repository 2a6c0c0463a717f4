// Package cluster makes a host one node of several that share an etcd
// cluster: it implements queue.Claims, so that each lane of the durable
// queue is consumed by one node at a time.
//
// A node joins with a session: an etcd lease it keeps alive, and a member
// key on it. A claim is a key on the session's lease, created only if
// absent, so it is held by one node; when a node dies its lease expires
// after Config.TTL, its claims and member key go with it, and the other
// nodes, which watch the members, sweep for the lanes it left. A nudge is a
// key written for a lane, which the nodes watch, so that the node claiming
// the lane reads it again.
//
// Members counts the live member keys by a watch, so that nodes sharing a
// limit (ratelimit.Config.Nodes) each take their share without a round
// trip per request, and take more when a node leaves.
//
// Keys name lanes only by the store's fingerprints (storage.Fingerprinter):
// etcd's coordination keys reveal no installation, chat or message.
//
// If this node's session lapses (a partition longer than the TTL), its
// claims may already be another node's: the node reports
// queue.ClaimEvent{Lapsed: true} as soon as it sees the lapse, and joins
// again with a new session. Until it sees it, it may go on consuming a
// lane beside the lane's new consumer, so each claim carries a fence
// (queue.Fencing, storage.Fence): the claim key's creation revision. The
// queue makes every write for the lane, its consumer's and its own, under
// it, and the etcd backend compares it in the write's own transaction: a
// node whose claim lapsed gets storage.ErrFenced, whether it knows of the
// lapse or not, and nothing of the write is applied.
package cluster
