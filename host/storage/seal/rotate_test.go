package seal

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

func TestRotation_KeysRotateUnderLoadWithoutAFailedOperation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	sites := []string{inst, storage.HostInstallation, "second-site"}
	for _, site := range sites {
		for i := 0; i < 100; i++ {
			e.set(site, storage.KVS, fmt.Sprintf("seed:%03d", i), "seed")
		}
	}
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		ops      atomic.Int64
		failures atomic.Int64
	)
	failf := func(format string, args ...any) {
		failures.Add(1)
		t.Errorf(format, args...)
	}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			site := sites[g%len(sites)]
			latest := map[string]string{}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("g%d:k%02d", g, n%40)
				val := fmt.Sprintf("g%d n%d", g, n)
				if err := e.s.Set(ctx, site, storage.KVS, key, []byte(val), 0); err != nil {
					failf("Set: %v", err)
					return
				}
				latest[key] = val
				got, err := e.s.Get(ctx, site, storage.KVS, key)
				if err != nil || string(got) != val {
					failf("Get %s = %q, %v; want %q", key, got, err, val)
					return
				}
				if v, err := e.s.Get(ctx, site, storage.KVS, fmt.Sprintf("seed:%03d", n%100)); err != nil || string(v) != "seed" {
					failf("Get seed: %q, %v", v, err)
					return
				}
				if n%10 == 0 {
					p, err := e.s.Query(ctx, site, storage.KVS, fmt.Sprintf("g%d:", g), "", 100)
					if err != nil || len(p.Entries) != len(latest) {
						failf("Query: %d entries, %v; want %d", len(p.Entries), err, len(latest))
						return
					}
					for _, en := range p.Entries {
						if latest[en.Key] != string(en.Value) {
							failf("Query: %s = %q, want %q", en.Key, en.Value, latest[en.Key])
							return
						}
					}
				}
				ops.Add(4)
			}
		}()
	}
	var lastMaster *MasterKey
	for round := 0; round < 3; round++ {
		for _, site := range sites {
			if err := e.s.RotateDataKey(ctx, site); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
		k, err := GenerateMasterKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.RotateMasterKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		lastMaster = k
		time.Sleep(20 * time.Millisecond)
	}
	if err := e.s.WaitReseal(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d failed operations out of %d", failures.Load(), ops.Load())
	}
	t.Logf("%d operations during 3 data key and 3 master key rotations, none failed", ops.Load())

	// Afterwards: one data key per installation, every record under it,
	// one master key in use, and the store opens with that key alone.
	current := map[string]uint32{}
	for _, site := range sites {
		_, r, err := e.s.ring(ctx, site, false)
		if err != nil || r == nil {
			t.Fatal(err)
		}
		if len(r.aeads) != 1 {
			t.Fatalf("installation keeps %d data keys", len(r.aeads))
		}
		current[r.tag] = r.current
	}
	for _, rec := range e.raw() {
		switch rec.Key[:1] {
		case prefixRecords:
			tag := rec.Key[1 : 1+tagSize]
			if v, _ := recordVersion(rec.Value); v != current[tag] {
				t.Fatalf("a record is sealed under retired key version %d (current %d)", v, current[tag])
			}
		case prefixKeys:
			if rec.Key[1+tagSize] == 'd' && rec.Key != dataKeyKey(rec.Key[1:1+tagSize], current[rec.Key[1:1+tagSize]]) {
				t.Fatal("a retired data key is still stored")
			}
		}
	}
	inUse, err := e.s.MasterKeysInUse(ctx)
	if err != nil || !slices.Equal(inUse, []string{lastMaster.ID()}) {
		t.Fatalf("master keys in use %v, %v; want only %s", inUse, err, lastMaster.ID())
	}
	e.keys = []*MasterKey{lastMaster}
	e.reopen()
	e.want(inst, storage.KVS, "seed:042", "seed")
	e.want("second-site", storage.KVS, "seed:099", "seed")
}

func TestRotation_InterruptedDataKeyRotationResumesOnOpen(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 20; i++ {
		e.set(inst, storage.KVS, fmt.Sprintf("k%d", i), "v")
	}
	// A new data key stored, nothing re-sealed yet: the state a crash right
	// after RotateDataKey leaves.
	_, r, _ := e.s.ring(t.Context(), inst, false)
	if _, err := e.s.addDataKey(t.Context(), r, 2); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	if err := e.s.WaitReseal(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, r, _ = e.s.ring(t.Context(), inst, false)
	if r.current != 2 || len(r.aeads) != 1 {
		t.Fatalf("after resuming: current %d, %d keys", r.current, len(r.aeads))
	}
	e.want(inst, storage.KVS, "k7", "v")
}

func TestRotation_RotateKeyFileReplacesTheKeyInTheFile(t *testing.T) {
	e := newEnv(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := WriteKeyFile(keyFile, e.keys); err != nil {
		t.Fatal(err)
	}
	e.set(inst, storage.KVS, "k", "v")
	k, err := RotateKeyFile(t.Context(), e.s, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ReadKeyFile(keyFile)
	if err != nil || len(keys) != 1 || keys[0].ID() != k.ID() {
		t.Fatalf("key file holds %v, %v; want only %s", keys, err, k.ID())
	}
	e.keys = keys
	e.reopen()
	e.want(inst, storage.KVS, "k", "v")
	e.set("new-site", storage.KVS, "k", "w")

	t.Run("the old key no longer opens the store", func(t *testing.T) {
		e.close()
		e.keys = []*MasterKey{testKeys()}
		db, s, err := openRaw(t, e.path, e.keys)
		if s != nil {
			s.Close()
		} else if db != nil {
			db.Close()
		}
		if !errors.Is(err, ErrUnknownMasterKey) {
			t.Fatalf("open with the retired key: %v, want ErrUnknownMasterKey", err)
		}
	})
}

func TestRotation_MasterKeyStaysWhileAnyKeyUsesIt(t *testing.T) {
	e := newEnv(t)
	e.set(inst, storage.KVS, "k", "v")
	k, _ := GenerateMasterKey()
	old := testKeys()
	// A damaged wrapped key cannot be re-wrapped: the old master must stay.
	tag := tagOf(e.s.hostKey, inst)
	rec, err := e.db.Get(t.Context(), nameKeyKey(tag))
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), rec.Value...)
	bad[len(bad)-3] ^= 1
	if err := e.db.Set(t.Context(), nameKeyKey(tag), bad, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RotateMasterKey(t.Context(), k); !errors.Is(err, storage.ErrIntegrity) {
		t.Fatalf("rotate over a damaged key: %v, want ErrIntegrity", err)
	}
	inUse, _ := e.s.MasterKeysInUse(t.Context())
	if !slices.Contains(inUse, old.ID()) {
		t.Fatalf("in use %v: the old key was dropped while a record still needs it", inUse)
	}
}

func TestRotation_AReaderRacingARotationRetriesWithTheNewKey(t *testing.T) {
	for _, op := range []string{"get", "query"} {
		t.Run(op, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			e.set(inst, storage.KVS, "chat:1", "before")
			once := sync.Once{}
			e.s.testHookRead = func() {
				// The reader holds the old keyring; a record sealed under a
				// key it does not know lands before it reads.
				once.Do(func() {
					if err := e.s.RotateDataKey(ctx, inst); err != nil {
						t.Error(err)
					}
					e.set(inst, storage.KVS, "chat:1", "after")
				})
			}
			var got string
			if op == "get" {
				v, err := e.s.Get(ctx, inst, storage.KVS, "chat:1")
				if err != nil {
					t.Fatal(err)
				}
				got = string(v)
			} else {
				p, err := e.s.Query(ctx, inst, storage.KVS, "chat:", "", 10)
				if err != nil || len(p.Entries) != 1 {
					t.Fatalf("%+v, %v", p, err)
				}
				got = string(p.Entries[0].Value)
			}
			if got != "after" {
				t.Fatalf("read %q, want the value written under the new key", got)
			}
		})
	}
}
