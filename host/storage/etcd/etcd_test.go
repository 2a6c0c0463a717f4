package etcd

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	"github.com/chatbridge/chatbridge/host/storage/storagetest"
)

var prefixes atomic.Int64

// openOn opens a DB on cluster c under a prefix no other test uses, and
// closes it when the test ends.
func openOn(t testing.TB, c *etcdtest.Cluster, cfg Config) *DB {
	t.Helper()
	cfg.Endpoints = c.Endpoints
	if cfg.Prefix == "" {
		cfg.Prefix = fmt.Sprintf("test/%d/", prefixes.Add(1))
	}
	d, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestBackendContract runs the suite every storage.Backend passes against a
// three-member cluster, each subtest under its own prefix.
func TestBackendContract(t *testing.T) {
	c := etcdtest.Start(t, 3)
	storagetest.Run(t, func(t *testing.T) storage.Backend { return openOn(t, c, Config{}) })
}

// TestTransactContract runs storage.Transactor's suite on a sealed store
// over a three-member cluster.
func TestTransactContract(t *testing.T) {
	c := etcdtest.Start(t, 3)
	storagetest.RunTransact(t, func(t *testing.T) storage.Backend { return openOn(t, c, Config{}) })
}

func TestOpen_RefusesAConfigurationItCannotUse(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no endpoints", Config{}},
		{"certificate without key", Config{Endpoints: []string{"http://127.0.0.1:1"}, CertFile: "c.pem"}},
		{"missing CA file", Config{Endpoints: []string{"http://127.0.0.1:1"}, CAFile: "/nonexistent/ca.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(t.Context(), tt.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
	t.Run("unreachable cluster fails within the dial timeout", func(t *testing.T) {
		start := time.Now()
		_, err := Open(t.Context(), Config{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: 300 * time.Millisecond})
		if err == nil {
			t.Fatal("Open of an unreachable cluster succeeded")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Open took %v", d)
		}
	})
}

func TestDB_PrefixesKeepDBsApart(t *testing.T) {
	c := etcdtest.Start(t, 1)
	a := openOn(t, c, Config{Prefix: "a/"})
	b := openOn(t, c, Config{Prefix: "b/"})
	if err := a.Set(t.Context(), "k", []byte("from a"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("b sees a's record: %v", err)
	}
	if recs, err := b.Scan(t.Context(), "", "", 10); err != nil || len(recs) != 0 {
		t.Fatalf("b's scan: %d records, %v", len(recs), err)
	}
	recs, err := a.Scan(t.Context(), "", "", 10)
	if err != nil || len(recs) != 1 || recs[0].Key != "k" {
		t.Fatalf("a's scan: %+v, %v", recs, err)
	}
}

func TestDB_WritesExpiringInTheSameSecondShareALease(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openOn(t, c, Config{})
	exp := time.Now().Add(time.Hour)
	for i := 0; i < 50; i++ {
		if err := d.Set(t.Context(), fmt.Sprintf("k%d", i), []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.Leases(); n != 1 {
		t.Fatalf("%d leases for 50 records expiring together, want 1", n)
	}
	// A TTL of a day goes to a bucket of 24 minutes: writes spread over a
	// few seconds share it too.
	for i := 0; i < 5; i++ {
		if err := d.Set(t.Context(), fmt.Sprintf("day%d", i), []byte("v"), time.Now().Add(24*time.Hour+time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.Leases(); n > 3 {
		t.Fatalf("%d leases, want at most 3", n)
	}
}

func TestDB_LeasesDeleteExpiredRecordsFromTheCluster(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openOn(t, c, Config{})
	if err := d.Set(t.Context(), "short", []byte("v"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := d.client.Get(t.Context(), d.cfg.Prefix+"short")
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired record is still in etcd after 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDB_ALeaseEtcdNoLongerKnowsIsGrantedAgain(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openOn(t, c, Config{})
	exp := time.Now().Add(time.Hour)
	if err := d.Set(t.Context(), "a", []byte("1"), exp); err != nil {
		t.Fatal(err)
	}
	// Revoke the cached lease behind the DB's back (as a restored cluster
	// would lose it): the next write with that expiry must still succeed.
	id, _, err := d.leases.forExpiry(t.Context(), ceilUnix(exp), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.client.Revoke(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(t.Context(), "b", []byte("2"), exp); err != nil {
		t.Fatalf("Set after the lease was revoked: %v", err)
	}
	if rec, err := d.Get(t.Context(), "b"); err != nil || string(rec.Value) != "2" {
		t.Fatalf("Get b = %+v, %v", rec, err)
	}
}

func TestApply_APreconditionedBatchTooLargeForOneTransactionIsRefused(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openOn(t, c, Config{MaxTxnOps: 4})
	var ws []storage.Write
	for i := 0; i < 5; i++ {
		ws = append(ws, storage.Write{Key: fmt.Sprintf("k%d", i), Value: []byte("v")})
	}
	err := d.Apply(t.Context(), ws, storage.Precondition{Key: "x", Absent: true})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
	if recs, _ := d.Scan(t.Context(), "", "", 10); len(recs) != 0 {
		t.Fatalf("%d records written by a refused batch", len(recs))
	}
}

func TestDB_AValueItDidNotWriteReadsAsDamaged(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openOn(t, c, Config{})
	if _, err := d.client.Put(t.Context(), d.cfg.Prefix+"foreign", "not ours"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(t.Context(), "foreign"); !errors.Is(err, storage.ErrIntegrity) {
		t.Fatalf("Get: %v, want ErrIntegrity", err)
	}
	recs, err := d.Scan(t.Context(), "", "", 10)
	if err != nil || len(recs) != 1 || !recs[0].Damaged {
		t.Fatalf("Scan: %+v, %v; want one damaged record", recs, err)
	}
}

func TestCompact_DeletedValuesLeaveTheHistory(t *testing.T) {
	c := etcdtest.Start(t, 3)
	d := openOn(t, c, Config{})
	ctx := t.Context()
	if err := d.Set(ctx, "k", []byte("secret-one"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	resp, err := d.client.Get(ctx, d.cfg.Prefix+"k")
	if err != nil {
		t.Fatal(err)
	}
	oldRev := resp.Kvs[0].ModRevision
	if err := d.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	// Before compaction, etcd still serves the deleted value at its revision.
	old, err := d.client.Get(ctx, d.cfg.Prefix+"k", clientRev(oldRev))
	if err != nil || len(old.Kvs) != 1 || !strings.Contains(string(old.Kvs[0].Value), "secret-one") {
		t.Fatalf("history before compaction: %v, %v", old, err)
	}
	if err := d.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.client.Get(ctx, d.cfg.Prefix+"k", clientRev(oldRev)); err == nil {
		t.Fatal("the deleted value is still readable at its revision after Compact")
	}
}

func TestLeaseBucket_StaysPutAsATTLCountsDown(t *testing.T) {
	tests := []struct {
		ttl  time.Duration
		want int64
	}{
		{time.Second, 1}, {119 * time.Second, 1}, {2 * time.Minute, 2}, {time.Hour, 32}, {time.Hour - time.Second, 32},
		{24 * time.Hour, 1024}, {30 * 24 * time.Hour, 2048}, {-time.Second, 1},
	}
	for _, tt := range tests {
		if got := leaseBucket(tt.ttl); got != tt.want {
			t.Errorf("leaseBucket(%v) = %d, want %d", tt.ttl, got, tt.want)
		}
	}
}

// TestDB_ARecordPastItsExpiryIsNotServedBeforeEtcdDeletesIt reads right
// after a record's expiry, while its lease still holds it in etcd: Get, Scan
// and an Absent precondition all treat it as gone.
func TestDB_ARecordPastItsExpiryIsNotServedBeforeEtcdDeletesIt(t *testing.T) {
	c := etcdtest.Start(t, 1)
	d := openOn(t, c, Config{})
	ctx := t.Context()
	exp := time.Now().Add(time.Second)
	if err := d.Set(ctx, "k", []byte("v"), exp); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(ceilUnix(exp), 0)) + 10*time.Millisecond)
	resp, err := d.client.Get(ctx, d.cfg.Prefix+"k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatal("etcd deleted the record at its expiry already: the lease is not longer than the TTL")
	}
	if _, err := d.Get(ctx, "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of an expired record: %v, want ErrNotFound", err)
	}
	if recs, err := d.Scan(ctx, "", "", 10); err != nil || len(recs) != 0 {
		t.Fatalf("Scan: %d records, %v", len(recs), err)
	}
	err = d.Apply(ctx, []storage.Write{{Key: "k", Value: []byte("new")}}, storage.Precondition{Key: "k", Absent: true})
	if err != nil {
		t.Fatalf("Absent precondition on an expired record: %v", err)
	}
	if rec, err := d.Get(ctx, "k"); err != nil || string(rec.Value) != "new" || !rec.Expires.IsZero() {
		t.Fatalf("Get after the write = %+v, %v", rec, err)
	}
	// The new record has no expiry: it outlives the old record's lease.
	leases, err := d.client.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases.Leases {
		if _, err := d.client.Revoke(ctx, l.ID); err != nil {
			t.Fatal(err)
		}
	}
	if rec, err := d.Get(ctx, "k"); err != nil || string(rec.Value) != "new" {
		t.Fatalf("Get after the old lease ended = %+v, %v", rec, err)
	}
}
