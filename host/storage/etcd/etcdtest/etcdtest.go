package etcdtest

import (
	"context"
	"os"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdlocal"
)

// InstallHint says how to get the etcd binary; a test that needs it fails
// with this message rather than skipping.
const InstallHint = "etcdtest: no etcd binary on PATH: run `make etcd` (apt-get install etcd-server)"

// Options change how Start runs the members. The zero value is plain HTTP.
type Options struct {
	// TLS makes the members serve clients over HTTPS with a certificate from
	// a CA of their own, and require client certificates from that CA
	// (Cluster.TLS names the files). Peers still talk plain HTTP on loopback.
	TLS bool
	// InMemory keeps the members' data on tmpfs (/dev/shm), where there is
	// one: an fsync costs nothing there, and the data still outlives a
	// killed member process (not the machine). For scenarios that load the
	// host nodes, whose three members would otherwise queue on one disk.
	InMemory bool
}

// TLSFiles are the PEM files of a cluster started with Options.TLS.
type TLSFiles = etcdlocal.TLSFiles

// Cluster is a running etcd cluster whose members listen on 127.0.0.1.
type Cluster struct {
	// Endpoints are the members' client URLs, in member order.
	Endpoints []string
	// TLS names the CA and certificates when Options.TLS is set.
	TLS TLSFiles

	t testing.TB
	c *etcdlocal.Cluster
}

// Binary returns the path of the etcd binary, or "" when there is none.
func Binary() string { return etcdlocal.Binary() }

// Start starts an n-member cluster in a temporary directory, waits until
// every member is healthy, and stops it when the test ends. It fails the
// test (not skips) when etcd is not installed.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartWith(t, n, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	if Binary() == "" {
		t.Fatal(InstallHint)
	}
	dir := t.TempDir()
	if opts.InMemory {
		if shm, err := os.MkdirTemp("/dev/shm", "etcdtest-"); err == nil {
			dir = shm
			t.Cleanup(func() { _ = os.RemoveAll(shm) })
		}
	}
	c, err := etcdlocal.Start(context.Background(), n, etcdlocal.Options{Dir: dir, TLS: opts.TLS})
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Logf("etcdtest: %v", err)
		}
	})
	return &Cluster{Endpoints: c.Endpoints, TLS: c.TLS, t: t, c: c}
}

// DataDir returns member i's data directory (its bbolt database is
// member/snap/db, its write-ahead log member/wal).
func (c *Cluster) DataDir(i int) string { return c.c.DataDir(i) }

// Kill stops member i with SIGKILL and waits until it has exited.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	c.c.Kill(i)
}

// Restart starts a killed member i again on its data and waits until it is
// healthy.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if err := c.c.Restart(context.Background(), i); err != nil {
		c.t.Fatal(err)
	}
}
