// Package node starts one whole ChatBridge node: the sealed store on its
// backend, the runtime with the bundle loaded, the scheduler, the cluster
// membership when the store is etcd (lane claims; the member count by
// which the node paces its share of each outbound limit; its queue's
// counters published for the other nodes' admin API), and the HTTPS edge
// with its admin listener. `chatbridge serve`, the local emulator (emulator/stack), the
// end-to-end tests and the benchmarks all start a node through Start, so
// what they run is wired one way.
//
// On etcd the data backend has a read cache (host/storage/etcd, "Read
// cache"), which answers installation records, secrets and the bridge's
// CachedKeys; the key store has none.
//
// The node is the one package under host/ that imports the edge besides
// host/hostedge: it assembles the runtime and the edge, and belongs to
// neither.
package node
