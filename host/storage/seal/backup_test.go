package seal

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
)

func TestBackup_OfALiveStoreRestoresEveryAcknowledgedRecord(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for i := 0; i < 100; i++ {
		e.set(fmt.Sprintf("site-%d", i%2), storage.KVS, fmt.Sprintf("chat:%d", i), fmt.Sprintf("issue %d", i))
	}
	e.set("site-0", storage.Secret, "bot-token", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
	if err := e.s.Set(ctx, "site-1", storage.Dedupe, "update:1", []byte("seen"), time.Hour); err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		written = map[string]string{} // acknowledged while the backup ran
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("live:%d:%d", g, n)
				if err := e.s.Set(ctx, "site-0", storage.KVS, k, []byte(k), 0); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				written[k] = k
				mu.Unlock()
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	before := len(written)
	mu.Unlock()
	var backup bytes.Buffer
	if err := e.s.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if bytes.Contains(backup.Bytes(), []byte("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")) || bytes.Contains(backup.Bytes(), []byte("chat:1")) {
		t.Fatal("the backup is not sealed")
	}

	check := func(t *testing.T, s *Store) {
		t.Helper()
		for i := 0; i < 100; i++ {
			v, err := s.Get(ctx, fmt.Sprintf("site-%d", i%2), storage.KVS, fmt.Sprintf("chat:%d", i))
			if err != nil || string(v) != fmt.Sprintf("issue %d", i) {
				t.Fatalf("chat:%d: %q, %v", i, v, err)
			}
		}
		if v, err := s.Get(ctx, "site-0", storage.Secret, "bot-token"); err != nil || len(v) == 0 {
			t.Fatalf("secret: %v", err)
		}
		if _, err := s.Get(ctx, "site-1", storage.Dedupe, "update:1"); err != nil {
			t.Fatalf("record with a TTL: %v", err)
		}
		n := 0
		for g := 0; g < 2; g++ {
			keys := 0
			cursor := ""
			for {
				p, err := s.Query(ctx, "site-0", storage.KVS, fmt.Sprintf("live:%d:", g), cursor, 100)
				if err != nil {
					t.Fatal(err)
				}
				for _, en := range p.Entries {
					if string(en.Value) != en.Key {
						t.Fatalf("%s holds %q", en.Key, en.Value)
					}
				}
				keys += len(p.Entries)
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			n += keys
		}
		if n < before {
			t.Fatalf("restored %d live records, but %d were acknowledged before the backup began", n, before)
		}
		rep, err := s.Check(ctx, false)
		if err != nil || len(rep.Damaged) != 0 {
			t.Fatalf("Check: %+v, %v", rep, err)
		}
	}

	t.Run("into a new BuntDB file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "restored.db")
		if err := bunt.Restore(ctx, path, bytes.NewReader(backup.Bytes())); err != nil {
			t.Fatal(err)
		}
		db, s, err := openRaw(t, path, e.keys)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_ = db
		check(t, s)
	})
	t.Run("into an empty backend", func(t *testing.T) {
		db, err := bunt.Open(filepath.Join(t.TempDir(), "empty.db"), bunt.Config{CompactEvery: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := Restore(ctx, bytes.NewReader(backup.Bytes()), db); err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, db, e.keys, Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s)
	})
	t.Run("never over existing records", func(t *testing.T) {
		if err := Restore(ctx, bytes.NewReader(backup.Bytes()), e.db); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("err %v, want ErrNotEmpty", err)
		}
	})
	t.Run("not without the master key", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "restored.db")
		if err := bunt.Restore(ctx, path, bytes.NewReader(backup.Bytes())); err != nil {
			t.Fatal(err)
		}
		other, _ := GenerateMasterKey()
		db, s, err := openRaw(t, path, []*MasterKey{other})
		if s != nil {
			s.Close()
		} else {
			db.Close()
		}
		if !errors.Is(err, ErrUnknownMasterKey) {
			t.Fatalf("err %v, want ErrUnknownMasterKey", err)
		}
	})
}
