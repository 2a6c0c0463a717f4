package seal

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Two hosts over one backend, as two nodes over one etcd cluster: each is a
// Store of its own on the same records.
func twoHosts(t *testing.T) (*Store, *Store) {
	e := newEnv(t)
	other, err := Open(context.Background(), e.db, e.keys, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return e.s, other
}

func TestFingerprint_IsTheSameOnEveryHostAndRevealsNothing(t *testing.T) {
	a, b := twoHosts(t)
	ctx := context.Background()
	fa, err := a.Fingerprint(ctx, "inst-1", storage.Queue, "m:chat:SUP:telegram:42")
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.Fingerprint(ctx, "inst-1", storage.Queue, "m:chat:SUP:telegram:42")
	if err != nil || fb != fa {
		t.Fatalf("host b's fingerprint %q, %v; host a's %q", fb, err, fa)
	}
	others := map[string][3]string{
		"another key":          {"inst-1", "m:chat:SUP:telegram:43", ""},
		"another installation": {"inst-2", "m:chat:SUP:telegram:42", ""},
	}
	for what, in := range others {
		f, err := a.Fingerprint(ctx, in[0], storage.Queue, in[1])
		if err != nil || f == fa {
			t.Errorf("%s: fingerprint %q, %v", what, f, err)
		}
	}
	if f, _ := a.Fingerprint(ctx, "inst-1", storage.KVS, "m:chat:SUP:telegram:42"); f == fa {
		t.Error("another keyspace has the same fingerprint")
	}
	if strings.Contains(fa, "42") && strings.Contains(fa, "SUP") || len(fa) != 32 {
		t.Errorf("fingerprint %q", fa)
	}
	if _, err := a.Fingerprint(ctx, "inst-1", storage.Queue, "bad key!"); err == nil {
		t.Error("an invalid key was fingerprinted")
	}
}

// Two hosts that write a new installation's first record at the same
// moment must agree on its keys, or one host's records are unreadable to
// the other.
func TestNewInstallation_TwoHostsAgreeOnItsKeys(t *testing.T) {
	for round := range 20 {
		a, b := twoHosts(t)
		ctx := context.Background()
		inst := "race-" + string(rune('a'+round))
		var wg sync.WaitGroup
		for i, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Set(ctx, inst, storage.KVS, "k"+string(rune('0'+i)), []byte("v"), 0); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for _, s := range []*Store{a, b} {
			for _, k := range []string{"k0", "k1"} {
				if _, err := s.Get(ctx, inst, storage.KVS, k); err != nil {
					t.Fatalf("round %d: %s: %v", round, k, err)
				}
			}
		}
	}
}

// Hosts that cache keys for a while: what one host creates, rotates or
// purges, the other sees within KeyCacheTTL, and a rotation does not retire
// a key the other host may still write with.
func TestKeyCacheTTL_KeysOfOneHostReachTheOther(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const ttl = 300 * time.Millisecond
	open := func() *Store {
		s, err := Open(ctx, e.db, e.keys, Config{KeyCacheTTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()

	// b looks before a creates: b caches "no keys" only for a while.
	if _, err := b.Get(ctx, "inst", storage.KVS, "k1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("before: %v", err)
	}
	if err := a.Set(ctx, "inst", storage.KVS, "k1", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl)
	if v, err := b.Get(ctx, "inst", storage.KVS, "k1"); err != nil || string(v) != "v1" {
		t.Fatalf("b after the TTL: %q, %v", v, err)
	}

	// a rotates; b still holds the old key and writes with it.
	if err := a.RotateDataKey(ctx, "inst"); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "inst", storage.KVS, "k2", []byte("v2"), 0); err != nil {
		t.Fatal(err)
	}
	// A record under the new key reads on b at once: the unknown version
	// makes b read the keys again.
	if err := a.Set(ctx, "inst", storage.KVS, "k3", []byte("v3"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, "inst", storage.KVS, "k3"); err != nil || string(v) != "v3" {
		t.Fatalf("b reads a's new record: %q, %v", v, err)
	}
	if err := a.WaitReseal(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		for k, want := range map[string]string{"k1": "v1", "k2": "v2", "k3": "v3"} {
			if v, err := s.Get(ctx, "inst", storage.KVS, k); err != nil || string(v) != want {
				t.Fatalf("after the rotation: %s = %q, %v", k, v, err)
			}
		}
	}
	n := 0
	for _, rec := range e.raw() {
		if rec.Key[:1] == prefixKeys && rec.Key[1+tagSize] == 'd' && rec.Key[1:1+tagSize] == tagOf(a.hostKey, "inst") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d data keys after the rotation, want 1", n)
	}

	// a purges; b forgets within the TTL.
	if err := a.Purge(ctx, "inst"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl)
	if _, err := b.Get(ctx, "inst", storage.KVS, "k1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("b after a's purge: %v", err)
	}
}
