package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A write under a fence commits while the claim's key holds the revision it
// was created at, and fails with ErrFenced, writing nothing, once the key is
// gone with its lease or made again (a newer holding of the claim); a
// failed precondition under a fence that holds is still a conflict.
func TestFence_AWriteCommitsOnlyWhileItsClaimHolds(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openOn(t, c, Config{})
	ctx := t.Context()
	cli := d.Client()
	claim := d.cfg.Prefix + "claims/lane" // beside the records, as host/cluster's are
	take := func() (clientv3.LeaseID, storage.Fence) {
		t.Helper()
		g, err := cli.Grant(ctx, 60)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cli.Put(ctx, claim, "node", clientv3.WithLease(g.ID))
		if err != nil {
			t.Fatal(err)
		}
		return g.ID, storage.Fence{Key: claim, Revision: resp.Header.Revision}
	}
	lease, f := take()
	fctx := storage.WithFence(ctx, f)
	mustGet := func(key, want string) {
		t.Helper()
		rec, err := d.Get(ctx, key)
		switch {
		case want == "" && errors.Is(err, storage.ErrNotFound):
		case err != nil:
			t.Fatalf("Get(%s): %v", key, err)
		case string(rec.Value) != want:
			t.Fatalf("Get(%s) = %q, want %q", key, rec.Value, want)
		}
	}

	if err := d.Set(fctx, "k", []byte("held"), time.Time{}); err != nil {
		t.Fatalf("write while the claim holds: %v", err)
	}
	mustGet("k", "held")
	err := d.Apply(fctx, []storage.Write{{Key: "k", Value: []byte("x")}}, storage.Precondition{Key: "k", Absent: true})
	if !errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrFenced) {
		t.Fatalf("failed precondition under a holding fence: %v, want a conflict", err)
	}

	if _, err := cli.Revoke(ctx, lease); err != nil { // the claim lapses, as in a partition
		t.Fatal(err)
	}
	for name, write := range map[string]func() error{
		"set":    func() error { return d.Set(fctx, "k", []byte("stale"), time.Time{}) },
		"delete": func() error { return d.Delete(fctx, "k") },
		"apply": func() error {
			return d.Apply(fctx, []storage.Write{{Key: "k2", Value: []byte("stale")}}, storage.Precondition{Key: "k2", Absent: true})
		},
	} {
		if err := write(); !errors.Is(err, storage.ErrFenced) || errors.Is(err, storage.ErrConflict) {
			t.Errorf("%s after the claim lapsed: %v, want ErrFenced", name, err)
		}
	}
	mustGet("k", "held")
	mustGet("k2", "")

	_, f2 := take() // claimed again: a newer holding, which the old fence is not
	if err := d.Set(fctx, "k", []byte("stale"), time.Time{}); !errors.Is(err, storage.ErrFenced) {
		t.Errorf("write under the old fence after the claim was made again: %v, want ErrFenced", err)
	}
	if err := d.Set(storage.WithFence(ctx, f2), "k", []byte("new"), time.Time{}); err != nil {
		t.Fatalf("write under the new fence: %v", err)
	}
	mustGet("k", "new")
	if err := d.Set(context.WithoutCancel(ctx), "k", []byte("unfenced"), time.Time{}); err != nil {
		t.Fatalf("write without a fence: %v", err)
	}
}

// BenchmarkFence_Set compares a write with a fence, whose comparison rides
// in the write's own transaction, with one without.
func BenchmarkFence_Set(b *testing.B) {
	c := etcdtest.Start(b, 1)
	d := openOn(b, c, Config{})
	ctx := b.Context()
	claim := d.cfg.Prefix + "claims/lane"
	resp, err := d.Client().Put(ctx, claim, "node")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{
		{"unfenced", ctx},
		{"fenced", storage.WithFence(ctx, storage.Fence{Key: claim, Revision: resp.Header.Revision})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Set(bc.ctx, "k", []byte("value"), time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
