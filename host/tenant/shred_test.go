package tenant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

// An index record of the older format (the whole installation under the
// host's keys) is moved to the installation's own keys by Open.
func TestOpen_MovesAnOlderIndexRecordUnderTheInstallationsKeys(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	old, _ := json.Marshal(Installation{ID: "inst-1", SiteURL: "https://old.atlassian.net", AppAccountID: "app", Routes: map[string]string{JiraEventsRoute: "r1"}})
	if err := st.Set(ctx, storage.HostInstallation, storage.Registry, recordPrefix+"inst-1", old, 0); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if in, ok := r.Get("inst-1"); !ok || in.SiteURL != "https://old.atlassian.net" {
		t.Fatalf("Get = %+v, %v", in, ok)
	}
	idx, err := st.Get(ctx, storage.HostInstallation, storage.Registry, recordPrefix+"inst-1")
	if err != nil || strings.Contains(string(idx), "atlassian") {
		t.Fatalf("index record after Open = %s, %v; want the id only", idx, err)
	}
	if r, err = Open(ctx, st); err != nil {
		t.Fatal(err)
	}
	if t2, ok := r.Lookup("r1"); !ok || t2.Installation != "inst-1" {
		t.Fatalf("after a second Open the route resolves to %+v, %v", t2, ok)
	}
}

func openApart(t *testing.T, data, keys string) *seal.Store {
	t.Helper()
	db, err := bunt.Open(data, bunt.Config{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	kdb, err := bunt.Open(keys, bunt.Config{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.ParseMasterKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.Open(t.Context(), db, []*seal.MasterKey{k}, seal.Config{KeyStore: kdb})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A backup restored after an uninstall, beside the live key store, lists
// only the installations still installed, and keeps nothing of the other.
func TestOpen_DropsAnInstallationShreddedSinceTheBackup(t *testing.T) {
	dir := t.TempDir()
	data, keys := filepath.Join(dir, "chatbridge.db"), filepath.Join(dir, "keys.db")
	s := openApart(t, data, keys)
	r, err := Open(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := r.Create(t.Context(), Site{URL: "https://gone.atlassian.net", Authorization: "Basic gone", AppAccountID: "app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kept, _, err := r.Create(t.Context(), Site{URL: "https://kept.atlassian.net", Authorization: "Basic kept", AppAccountID: "app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if err := s.Backup(t.Context(), &backup); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Remove(t.Context(), gone.ID)
	if err != nil || !rep.Apart || len(rep.Keys) != 2 {
		t.Fatalf("Remove = %+v, %v", rep, err)
	}
	s.Close()
	restored := filepath.Join(dir, "restored.db")
	if err := bunt.Restore(t.Context(), restored, &backup); err != nil {
		t.Fatal(err)
	}
	s = openApart(t, restored, keys)
	defer s.Close()
	r, err = Open(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if list := r.List(); len(list) != 1 || list[0].ID != kept.ID {
		t.Fatalf("installations after the restore: %+v, want only the kept one", list)
	}
	if _, err := s.Get(t.Context(), storage.HostInstallation, storage.Registry, recordPrefix+gone.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the shredded installation's index record: %v", err)
	}
	if _, err := s.Get(t.Context(), gone.ID, storage.Secret, secretJiraAuth); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the shredded installation's credentials: %v", err)
	}
	if base, auth, err := r.JiraBase(t.Context(), kept.ID); err != nil || base != "https://kept.atlassian.net" || auth != "Basic kept" {
		t.Fatalf("the kept installation: %q %q %v", base, auth, err)
	}
}
