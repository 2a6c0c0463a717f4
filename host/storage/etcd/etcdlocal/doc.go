// Package etcdlocal starts throwaway etcd clusters on loopback from the etcd
// binary on PATH (Debian's etcd-server package: `make etcd`), for tests
// (through etcdtest) and for `make bench`.
//
// Every member listens on 127.0.0.1 on ports chosen at random, keeps its
// data and log in a directory of its own under a new temporary directory,
// and is stopped, with that directory removed, by Cluster.Stop.
package etcdlocal
