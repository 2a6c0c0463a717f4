package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/node"
	"github.com/chatbridge/chatbridge/host/receipt"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/tenant"
)

// The acceptance of issue 23's crypto-shredding, through the CLI and the
// admin API on real BuntDB files: two sites, a backup, one uninstalled with
// a receipt; the receipt verifies offline and a tampered one does not; the
// old backup, restored beside the live key store, yields nothing of the
// uninstalled site and every record of the other.
func TestUninstall_ReceiptVerifiesAndTheOldBackupYieldsNothingOfTheSite(t *testing.T) {
	t.Setenv(masterKeyEnv, "")
	ctx := context.Background()
	data, etc := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(etc, "master.key")
	if code := run([]string{"keys", "new", "-out", keyFile}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatal("keys new failed")
	}
	store, err := openStore(ctx, data, keyFile, false, storeFlags{})
	if err != nil {
		t.Fatal(err)
	}
	rk, err := receipt.LoadOrCreate(node.ReceiptKeyFile(data))
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(ctx, host.Config{Store: store, Trust: bundle.NewTrust(nil, nil), ReceiptKey: rk})
	if err != nil {
		t.Fatal(err)
	}
	const token = "test-admin-token"
	srv := httptest.NewServer(adminapi.Handler(h, token, adminapi.Node{Store: store}))
	defer srv.Close()
	var sites [2]tenant.Installation
	for i, name := range []string{"gone", "kept"} {
		in, _, err := h.Registry().Create(ctx, tenant.Site{URL: "https://" + name + ".atlassian.net", Authorization: "Basic " + name + "-credentials", AppAccountID: "app"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		sites[i] = *in
		for _, k := range []string{"mapping:SUP-1", "config:SUP"} {
			if err := store.Set(ctx, in.ID, storage.KVS, k, []byte(name+" "+k), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	gone, kept := sites[0], sites[1]
	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		c := commandNamed(args[0])
		err := c.run(args[1:], &out, &errb)
		if err != nil {
			return out.String() + errb.String(), err
		}
		return out.String(), nil
	}
	backup := filepath.Join(etc, "before.snap")
	if out, err := cli("backup", "-admin", srv.URL, "-token", token, "-out", backup); err != nil {
		t.Fatalf("backup: %v %s", err, out)
	}
	rcFile := filepath.Join(etc, "receipt.json")
	out, err := cli("uninstall", "-admin", srv.URL, "-token", token, "-receipt", rcFile, gone.ID)
	if err != nil || !strings.Contains(out, gone.ID) {
		t.Fatalf("uninstall: %v %s", err, out)
	}
	pub := node.ReceiptKeyFile(data) + ".pub"
	if out, err := cli("receipt", "verify", "-pub", pub, rcFile); err != nil || !strings.Contains(out, "valid: installation "+gone.ID) ||
		!strings.Contains(out, "2 key records destroyed") || !strings.Contains(out, "earlier backups shredded: true") {
		t.Fatalf("receipt verify: %v %s", err, out)
	}
	raw, err := os.ReadFile(rcFile)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(etc, "tampered.json")
	if err := os.WriteFile(tampered, bytes.Replace(raw, []byte(gone.ID), []byte(kept.ID), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := cli("receipt", "verify", "-pub", pub, tampered); err == nil {
		t.Fatalf("a tampered receipt verified: %s", out)
	}
	srv.Close()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// Restore the backup taken before the uninstall beside the live keys.
	if err := os.Rename(node.DataFile(data), filepath.Join(etc, "after.db")); err != nil {
		t.Fatal(err)
	}
	if out, err := cli("restore", "-data", data, "-master-key", keyFile, "-in", backup); err != nil || !strings.Contains(out, "1 installations") {
		t.Fatalf("restore: %v %s", err, out)
	}
	store, err = openStore(ctx, data, keyFile, false, storeFlags{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, k := range []string{"mapping:SUP-1", "config:SUP"} {
		if v, err := store.Get(ctx, gone.ID, storage.KVS, k); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the uninstalled site's %s opened from the old backup: %q, %v", k, v, err)
		}
		if v, err := store.Get(ctx, kept.ID, storage.KVS, k); err != nil || string(v) != "kept "+k {
			t.Fatalf("the other site's %s = %q, %v", k, v, err)
		}
	}
	reg, err := tenant.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if l := reg.List(); len(l) != 1 || l[0].ID != kept.ID {
		t.Fatalf("installations after the restore: %+v", l)
	}
	if _, auth, err := reg.JiraBase(ctx, kept.ID); err != nil || auth != "Basic kept-credentials" {
		t.Fatalf("the kept site's credentials: %q, %v", auth, err)
	}
	// Nothing of the uninstalled site is in the restored file in the clear,
	// and its sealed records no longer open under any key of the host.
	file, err := os.ReadFile(node.DataFile(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"gone.atlassian.net", "gone-credentials", gone.ID} {
		if bytes.Contains(file, []byte(s)) {
			t.Fatalf("the restored file holds %q", s)
		}
	}
	rep, err := store.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Damaged {
		if !d.Orphan {
			t.Fatalf("a record of a live installation fails: %+v", d)
		}
	}
}

// commandNamed finds a top-level command.
func commandNamed(name string) command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	panic("no command " + name)
}
