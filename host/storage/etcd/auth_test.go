package etcd

import (
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestOpen_AuthenticatesWithAnEtcdUser turns etcd's auth on, with a user
// whose role may read and write only the host's prefix: the backend works
// through it, a wrong password fails Open, and Compact (root only) fails
// unless DisableCompact leaves it to the operator.
func TestOpen_AuthenticatesWithAnEtcdUser(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx := t.Context()
	admin, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const prefix = "hosts/a/"
	steps := []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "root-secret"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "chatbridge"); return err },
		func() error {
			_, err := admin.RoleGrantPermission(ctx, "chatbridge", prefix, storage.PrefixEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := admin.UserAdd(ctx, "host", "host-secret"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "host", "chatbridge"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}

	if _, err := Open(ctx, Config{Endpoints: c.Endpoints, Prefix: prefix, Username: "host", Password: "wrong"}); err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	if _, err := Open(ctx, Config{Endpoints: c.Endpoints, Prefix: "hosts/b/", Username: "host", Password: "host-secret"}); err == nil {
		t.Fatal("Open under a prefix the user may not read succeeded")
	}
	d, err := Open(ctx, Config{Endpoints: c.Endpoints, Prefix: prefix, Username: "host", Password: "host-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Set(ctx, "k", []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Set with a lease as a prefix user: %v", err)
	}
	if err := d.Apply(ctx, []storage.Write{{Key: "j", Value: []byte("w")}}, storage.Precondition{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatalf("Apply as a prefix user: %v", err)
	}
	if rec, err := d.Get(ctx, "j"); err != nil || string(rec.Value) != "w" {
		t.Fatalf("Get = %+v, %v", rec, err)
	}
	if err := d.Compact(ctx); err == nil {
		t.Fatal("Compact as a user without the root role succeeded")
	}
	d.cfg.DisableCompact = true
	if err := d.Compact(ctx); err != nil {
		t.Fatalf("Compact with DisableCompact: %v", err)
	}

	root, err := Open(ctx, Config{Endpoints: c.Endpoints, Prefix: prefix, Username: "root", Password: "root-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.Compact(ctx); err != nil {
		t.Fatalf("Compact as root: %v", err)
	}
	if rec, err := root.Get(ctx, "j"); err != nil || string(rec.Value) != "w" {
		t.Fatalf("Get after compaction = %+v, %v", rec, err)
	}
}

// TestOpen_ConnectsWithATLSClientCertificate runs against members that
// serve HTTPS and require a client certificate from their CA: Open with the
// certificate works, without it fails.
func TestOpen_ConnectsWithATLSClientCertificate(t *testing.T) {
	c := etcdtest.StartWith(t, 3, etcdtest.Options{TLS: true})
	ctx := t.Context()
	cfg := Config{Endpoints: c.Endpoints, CAFile: c.TLS.CAFile, DialTimeout: 2 * time.Second}
	if _, err := Open(ctx, cfg); err == nil {
		t.Fatal("Open without a client certificate succeeded")
	}
	cfg.CertFile, cfg.KeyFile = c.TLS.ClientCertFile, c.TLS.ClientKeyFile
	d, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Set(ctx, "k", []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if rec, err := d.Get(ctx, "k"); err != nil || string(rec.Value) != "v" {
		t.Fatalf("Get = %+v, %v", rec, err)
	}
	// Compact dials each member on its own: with the same certificate.
	if err := d.Compact(ctx); err != nil {
		t.Fatalf("Compact over TLS: %v", err)
	}
}
