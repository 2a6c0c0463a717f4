package etcd

import (
	"bytes"
	"errors"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

// On etcd the key store is a prefix of its own beside the records' (as
// chatbridge's -etcd-prefix and its "-keys/" sibling): a backup of the
// records' prefix holds no key, so shredding a site leaves a backup taken
// before it unreadable for that site and readable for the others.
func TestShred_OverEtcdABackupTakenBeforeOpensNothingOfTheSite(t *testing.T) {
	c := etcdtest.Start(t, 1)
	key, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	open := func(prefix string) *DB {
		d, err := Open(ctx, Config{Endpoints: c.Endpoints, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	s, err := seal.Open(ctx, open("cb/"), []*seal.MasterKey{key}, seal.Config{KeyStore: open("cb-keys/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, site := range []string{"site-a", "site-b"} {
		if err := s.Set(ctx, site, storage.KVS, "mapping:1", []byte(site), 0); err != nil {
			t.Fatal(err)
		}
	}
	var backup bytes.Buffer
	if err := s.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Shred(ctx, "site-a")
	if err != nil || !rep.Apart || len(rep.Keys) != 2 {
		t.Fatalf("Shred = %+v, %v", rep, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	restored := open("restored/")
	if err := seal.Restore(ctx, bytes.NewReader(backup.Bytes()), restored); err != nil {
		t.Fatal(err)
	}
	s, err = seal.Open(ctx, restored, []*seal.MasterKey{key}, seal.Config{KeyStore: open("cb-keys/")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Get(ctx, "site-a", storage.KVS, "mapping:1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the shredded site opened from the old backup: %q, %v", v, err)
	}
	if v, err := s.Get(ctx, "site-b", storage.KVS, "mapping:1"); err != nil || string(v) != "site-b" {
		t.Fatalf("the other site = %q, %v", v, err)
	}
}
