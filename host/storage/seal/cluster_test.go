package seal

import (
	"context"
	"strings"
	"sync"
	"testing"

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
