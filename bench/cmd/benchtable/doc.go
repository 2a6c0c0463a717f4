// Command benchtable is `make bench`: it builds what it measures, runs each
// measurement of issue #10 on loopback, bounded in time, and prints one
// table of ChatBridge's figure, the peer's figure from the same run, the
// ratio and the goal.
//
// Rows: (1) an inbound Telegram text update end to end through the HTTPS
// edge, the wasm bridge, sealed storage, the queue and the Jira simulator;
// (2) the same with the plugin compiled natively; (3) one invocation with
// fuel deadline checks against none; (4) an echo export against Extism's Go
// SDK (bench/extism, its own module); (5) the edge against nginx
// (proxy/cmd/edgebench); (6) sealed against plain BuntDB; (7) cold start of
// `chatbridge dev` with and without a warm compilation cache; (8) resident
// memory per warm instance and with 10,000 installations; (9, issue #11)
// the etcd backend on a three-member loopback cluster, which it starts from
// the etcd binary on PATH, beside BuntDB: raw Get, Set and Scan, and a
// sealed Get; (10, issue #11) Telegram updates end to end through one and
// then two host nodes on such a cluster; (11, issue #20) the storage calls
// per first message, follow-up and agent reply (the host's sealed store's
// counts; for etcd the members' gRPC requests and the read cache's hits
// and misses), with the CPU time of the host and of etcd, on BuntDB and on
// etcd with its data on disk and on tmpfs; (12, issue #20) etcd with its
// members' data on disk beside tmpfs: row 9's raw Set and Get and row 10's
// one node end to end, with etcd's CPU per operation, to tell the disk's
// cost from the CPU's.
// (13, issue #24) an agent's comment to 1,000 website widget subscriptions
// (Server-Sent Events) on one host, latency p50 and p99.
//
// Run it from the repository root: go run ./bench/cmd/benchtable.
package main
