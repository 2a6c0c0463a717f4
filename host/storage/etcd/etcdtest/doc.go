// Package etcdtest starts throwaway etcd clusters on loopback for tests, from
// the etcd binary on PATH (Debian's etcd-server package: `make etcd`). The
// processes are etcdlocal's; this package ties them to a test's life.
package etcdtest
