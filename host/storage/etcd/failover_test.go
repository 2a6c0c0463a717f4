package etcd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
)

// TestDB_WritesAndReadsContinueWhenAMemberDies kills one member of three,
// whichever the client happens to use, in the middle of a stream of writes:
// the other two keep a quorum, the client moves to them, and every write
// acknowledged before or after is read back.
func TestDB_WritesAndReadsContinueWhenAMemberDies(t *testing.T) {
	c := etcdtest.Start(t, 3)
	d := openOn(t, c, Config{RequestTimeout: 2 * time.Second})
	ctx := t.Context()
	acked := map[string]string{}
	write := func(i int) error {
		k, v := fmt.Sprintf("k%04d", i), fmt.Sprintf("v%d", i)
		if err := d.Set(ctx, k, []byte(v), time.Time{}); err != nil {
			return err
		}
		acked[k] = v
		return nil
	}
	for i := 0; i < 50; i++ {
		if err := write(i); err != nil {
			t.Fatal(err)
		}
	}
	for victim := range c.Endpoints {
		if victim > 0 {
			c.Restart(victim - 1)
		}
		c.Kill(victim)
		// A write in flight to the dead member fails (its outcome unknown);
		// the client then moves on. Count how long the service was
		// interrupted, and insist it comes back within the election time.
		start := time.Now()
		failures := 0
		base := 1000 * (victim + 1)
		for i := 0; i < 50; i++ {
			for {
				err := write(base + i)
				if err == nil {
					break
				}
				failures++
				if time.Since(start) > 10*time.Second {
					t.Fatalf("member %d killed: writes still fail after %v: %v", victim, time.Since(start), err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		t.Logf("member %d killed: 50 writes in %v, %d failed attempts", victim, time.Since(start).Round(time.Millisecond), failures)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		for k, v := range acked {
			rec, err := d.Get(rctx, k)
			if err != nil || string(rec.Value) != v {
				cancel()
				t.Fatalf("member %d killed: Get %s = %q, %v; want %q", victim, k, rec.Value, err, v)
			}
		}
		cancel()
		recs, err := d.Scan(ctx, "", "", 1000)
		if err != nil || len(recs) != len(acked) {
			t.Fatalf("member %d killed: scan %d records, %v; want %d", victim, len(recs), err, len(acked))
		}
	}
}
