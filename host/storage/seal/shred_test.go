package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
)

// apartStore opens a sealed store whose records are in dataPath and whose
// keys are in keysPath, both BuntDB files.
func apartStore(t *testing.T, dataPath, keysPath string) (*Store, error) {
	t.Helper()
	db, err := bunt.Open(dataPath, bunt.Config{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	kdb, err := bunt.Open(keysPath, bunt.Config{CompactEvery: -1})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	s, err := Open(t.Context(), db, []*MasterKey{testKeys()}, Config{KeyStore: kdb})
	if err != nil {
		db.Close()
		kdb.Close()
	}
	return s, err
}

func mustApart(t *testing.T, dataPath, keysPath string) *Store {
	t.Helper()
	s, err := apartStore(t, dataPath, keysPath)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func get(t *testing.T, s *Store, inst, key string) (string, error) {
	t.Helper()
	v, err := s.Get(t.Context(), inst, storage.KVS, key)
	return string(v), err
}

// rawRecords reads every raw record of a BuntDB file.
func rawRecords(t *testing.T, path string) []storage.Record {
	t.Helper()
	db, err := bunt.Open(path, bunt.Config{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Scan(t.Context(), "", "", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func seedTwoSites(t *testing.T, s *Store) {
	t.Helper()
	for _, site := range []string{"site-a", "site-b"} {
		for _, k := range []string{"mapping:1", "mapping:2", "config:SD"} {
			if err := s.Set(t.Context(), site, storage.KVS, k, []byte(site+" "+k), 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Set(t.Context(), site, storage.Secret, "token", []byte(site+" secret"), 0); err != nil {
			t.Fatal(err)
		}
	}
}

// The acceptance of crypto-shredding at the storage layer: a backup taken
// before a site's keys are destroyed, restored beside the live key store,
// opens nothing of that site and everything of the other.
func TestShred_ABackupTakenBeforeOpensNothingOfTheSiteAndEverythingOfTheOthers(t *testing.T) {
	dir := t.TempDir()
	data, keys := filepath.Join(dir, "chatbridge.db"), filepath.Join(dir, "keys", "keys.db")
	if err := os.MkdirAll(filepath.Dir(keys), 0o700); err != nil {
		t.Fatal(err)
	}
	s := mustApart(t, data, keys)
	seedTwoSites(t, s)
	var backup bytes.Buffer
	if err := s.Backup(t.Context(), &backup); err != nil {
		t.Fatal(err)
	}
	for _, rec := range rawRecordsOfSnapshot(t, backup.Bytes()) {
		if rec.Key[0] == prefixKeys[0] || rec.Key[0] == prefixHost[0] {
			t.Fatalf("the backup holds a key record (%q...): keys must live apart", rec.Key[:1])
		}
	}
	tag := tagOf(s.hostKey, "site-a")
	wrapped, err := s.kb.Scan(t.Context(), prefixKeys+tag, storage.PrefixEnd(prefixKeys+tag), 10)
	if err != nil || len(wrapped) != 2 {
		t.Fatalf("site-a's wrapped keys: %d, %v", len(wrapped), err)
	}
	rep, err := s.Shred(t.Context(), "site-a")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Apart || len(rep.Keys) != 2 || rep.Keys[0].Kind != "data" || rep.Keys[0].Version != 1 || rep.Keys[1].Kind != "name" || rep.At.IsZero() {
		t.Fatalf("report = %+v, want the name key and data key 1, apart", rep)
	}
	if gone, err := s.Shredded(t.Context(), "site-a"); err != nil || !gone {
		t.Fatalf("Shredded(site-a) = %v, %v", gone, err)
	}
	if gone, err := s.Shredded(t.Context(), "site-b"); err != nil || gone {
		t.Fatalf("Shredded(site-b) = %v, %v", gone, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The key file keeps no copy of the destroyed keys: compacted.
	kraw, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrapped {
		if bytes.Contains(kraw, w.Value) {
			t.Fatal("the key file still holds a destroyed wrapped key")
		}
	}
	// Restore the old backup beside the live key store.
	restored := filepath.Join(dir, "restored.db")
	if err := bunt.Restore(t.Context(), restored, bytes.NewReader(backup.Bytes())); err != nil {
		t.Fatal(err)
	}
	s2 := mustApart(t, restored, keys)
	defer s2.Close()
	for _, k := range []string{"mapping:1", "mapping:2", "config:SD"} {
		if v, err := get(t, s2, "site-a", k); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the shredded site's %s opened from the old backup: %q, %v", k, v, err)
		}
		if v, err := get(t, s2, "site-b", k); err != nil || v != "site-b "+k {
			t.Fatalf("the other site's %s = %q, %v", k, v, err)
		}
	}
	if p, err := s2.Query(t.Context(), "site-a", storage.KVS, "", "", 100); err != nil || len(p.Entries) != 0 {
		t.Fatalf("query of the shredded site: %d entries, %v", len(p.Entries), err)
	}
	if v, err := s2.Get(t.Context(), "site-b", storage.Secret, "token"); err != nil || string(v) != "site-b secret" {
		t.Fatalf("the other site's secret = %q, %v", v, err)
	}
}

func rawRecordsOfSnapshot(t *testing.T, b []byte) []storage.Record {
	t.Helper()
	var out []storage.Record
	if err := storage.ReadSnapshot(bytes.NewReader(b), func(r storage.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// A data file of the older layout (keys among the records) opens with a key
// store: its keys move there and leave the data file; it opens again after.
func TestKeyStore_AStoreOfTheOlderLayoutMovesItsKeysOut(t *testing.T) {
	dir := t.TempDir()
	data, keys := filepath.Join(dir, "chatbridge.db"), filepath.Join(dir, "keys.db")
	db, s, err := openRaw(t, data, []*MasterKey{testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	_ = db
	seedTwoSites(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for pass := 0; pass < 2; pass++ {
		s = mustApart(t, data, keys)
		for _, site := range []string{"site-a", "site-b"} {
			if v, err := get(t, s, site, "mapping:2"); err != nil || v != site+" mapping:2" {
				t.Fatalf("pass %d: %s mapping:2 = %q, %v", pass, site, v, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for _, rec := range rawRecords(t, data) {
			if strings.ContainsRune("hkx", rune(rec.Key[0])) {
				t.Fatalf("pass %d: a key record (%q) stayed among the records", pass, rec.Key[:1])
			}
		}
		if n := len(rawRecords(t, keys)); n != 1+2*2 {
			t.Fatalf("pass %d: key store holds %d records, want the host key and 2 per site", pass, n)
		}
	}
	// The older layout without a key store still opens its own files.
	if _, s, err := openRaw(t, filepath.Join(t.TempDir(), "fresh.db"), []*MasterKey{testKeys()}); err != nil {
		t.Fatal(err)
	} else {
		s.Close()
	}
}

// A backup of the older layout carries the keys; restored beside a key
// store in which the site was shredded since, those keys stay destroyed.
func TestKeyStore_AnOlderLayoutBackupDoesNotBringShreddedKeysBack(t *testing.T) {
	dir := t.TempDir()
	data, keys := filepath.Join(dir, "chatbridge.db"), filepath.Join(dir, "keys.db")
	_, s, err := openRaw(t, data, []*MasterKey{testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	seedTwoSites(t, s)
	var backup bytes.Buffer
	if err := s.Backup(t.Context(), &backup); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustApart(t, data, keys)
	if _, err := s.Shred(t.Context(), "site-a"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	restored := filepath.Join(dir, "restored.db")
	if err := bunt.Restore(t.Context(), restored, bytes.NewReader(backup.Bytes())); err != nil {
		t.Fatal(err)
	}
	s = mustApart(t, restored, keys)
	defer s.Close()
	if v, err := get(t, s, "site-a", "mapping:1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the shredded site opened from an older-layout backup: %q, %v", v, err)
	}
	if v, err := get(t, s, "site-b", "mapping:1"); err != nil || v != "site-b mapping:1" {
		t.Fatalf("the other site = %q, %v", v, err)
	}
}

// Records restored beside another (or an empty) key store are refused, not
// read as if nothing were stored.
func TestKeyStore_RecordsBesideAnotherKeyStoreAreRefused(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chatbridge.db")
	s := mustApart(t, data, filepath.Join(dir, "keys.db"))
	seedTwoSites(t, s)
	s.Close()
	if _, err := apartStore(t, data, filepath.Join(dir, "empty.db")); !errors.Is(err, ErrKeyStoreMismatch) {
		t.Fatalf("beside an empty key store: %v, want ErrKeyStoreMismatch", err)
	}
	other := filepath.Join(dir, "other.db")
	s = mustApart(t, filepath.Join(dir, "other-data.db"), other)
	s.Close()
	if _, err := apartStore(t, data, other); !errors.Is(err, ErrKeyStoreMismatch) {
		t.Fatalf("beside another host's key store: %v, want ErrKeyStoreMismatch", err)
	}
	s = mustApart(t, data, filepath.Join(dir, "keys.db"))
	s.Close()
}
