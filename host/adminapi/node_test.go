package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

// sealed opens a sealed BuntDB store in dir under keys.
func sealed(t *testing.T, dir string, keys ...*seal.MasterKey) *seal.Store {
	t.Helper()
	db, err := bunt.Open(filepath.Join(dir, "chatbridge.db"), bunt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.Open(t.Context(), db, keys, seal.Config{})
	if err != nil {
		_ = db.Close()
		t.Fatal(err)
	}
	return s
}

func newKey(t *testing.T) *seal.MasterKey {
	t.Helper()
	k, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// nodeServer serves the API over s with n, and returns its URL.
func nodeServer(t *testing.T, s *seal.Store, n Node) string {
	t.Helper()
	h, err := host.New(t.Context(), host.Config{Store: s, Trust: bundle.NewTrust(nil, nil),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	n.Store = s
	srv := httptest.NewServer(Handler(h, "s3cret", n))
	t.Cleanup(srv.Close)
	return srv.URL
}

func send(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// fill writes n records for installation "inst" (which makes its data
// key) and returns their values by key.
func fill(t *testing.T, s *seal.Store, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		k, v := fmt.Sprintf("k%03d", i), fmt.Sprintf("value %d", i)
		if err := s.Set(t.Context(), "inst", storage.KVS, k, []byte(v), 0); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	return want
}

func readAll(t *testing.T, s *seal.Store, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, err := s.Get(t.Context(), "inst", storage.KVS, k)
		if err != nil || string(got) != v {
			t.Fatalf("%s after the rotation: %q, %v", k, got, err)
		}
	}
}

func TestMasterKeyRotationWithKeysFromTheEnvironmentTakesTheOperatorsKeyAndKeepsTheOldUntilNothingUsesIt(t *testing.T) {
	dir := t.TempDir()
	old := newKey(t)
	s := sealed(t, dir, old)
	want := fill(t, s, 20)
	url := nodeServer(t, s, Node{})

	if code, body := send(t, "POST", url+"/admin/keys/rotate", "wrong", RotateRequest{}); code != http.StatusUnauthorized {
		t.Fatalf("a rotation without the token: %d %s", code, body)
	}
	code, body := send(t, "POST", url+"/admin/keys/rotate", "s3cret", RotateRequest{})
	if code != http.StatusBadRequest || !strings.Contains(string(body), "chatbridge keys new -out -") {
		t.Fatalf("a rotation without a key on an environment node: %d %s", code, body)
	}
	if code, body := send(t, "POST", url+"/admin/keys/rotate", "s3cret", RotateRequest{Key: "not a key"}); code != http.StatusBadRequest {
		t.Fatalf("a malformed key: %d %s", code, body)
	}
	readAll(t, s, want) // a refused rotation changed nothing

	next := newKey(t)
	code, body = send(t, "POST", url+"/admin/keys/rotate", "s3cret", RotateRequest{Key: next.Secret()})
	var rot KeyRotation
	if err := json.Unmarshal(body, &rot); code != http.StatusOK || err != nil {
		t.Fatalf("rotation: %d %s", code, body)
	}
	if rot.Primary != next.ID() || len(rot.InUse) != 1 || rot.InUse[0] != next.ID() || rot.KeyFile != "" {
		t.Fatalf("rotation answered %+v, want %s alone in use", rot, next.ID())
	}
	readAll(t, s, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The next start has the new key alone, as the environment will.
	s = sealed(t, dir, next)
	defer s.Close()
	readAll(t, s, want)
}

func TestMasterKeyRotationWithAKeyFileRewritesItAndRefusesAKeyFromOutside(t *testing.T) {
	dir, keyDir := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(keyDir, "master.key")
	old := newKey(t)
	if err := seal.CreateKeyFile(keyFile, []*seal.MasterKey{old}); err != nil {
		t.Fatal(err)
	}
	s := sealed(t, dir, old)
	want := fill(t, s, 20)
	url := nodeServer(t, s, Node{MasterKeyFile: keyFile})

	if code, body := send(t, "POST", url+"/admin/keys/rotate", "s3cret", RotateRequest{Key: newKey(t).Secret()}); code != http.StatusBadRequest {
		t.Fatalf("a key sent to a key-file node: %d %s", code, body)
	}
	code, body := send(t, "POST", url+"/admin/keys/rotate", "s3cret", RotateRequest{})
	var rot KeyRotation
	if err := json.Unmarshal(body, &rot); code != http.StatusOK || err != nil {
		t.Fatalf("rotation: %d %s", code, body)
	}
	keys, err := seal.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID() != rot.Primary || rot.Primary == old.ID() || rot.KeyFile != keyFile {
		t.Fatalf("the key file holds %v after rotating to %+v", keys, rot)
	}
	readAll(t, s, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = sealed(t, dir, keys...)
	defer s.Close()
	readAll(t, s, want)
}

func TestBackupStreamsASealedSnapshotThatRestoresEveryRecord(t *testing.T) {
	key := newKey(t)
	s := sealed(t, t.TempDir(), key)
	want := fill(t, s, 50)
	url := nodeServer(t, s, Node{})
	if code, _ := send(t, "GET", url+"/admin/backup", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("a backup without the token: %d", code)
	}
	code, snap := send(t, "GET", url+"/admin/backup", "s3cret", nil)
	if code != http.StatusOK {
		t.Fatalf("backup: %d %s", code, snap)
	}
	if bytes.Contains(snap, []byte("value 1")) {
		t.Fatal("the backup holds a value in the clear")
	}
	dir := t.TempDir()
	if err := bunt.Restore(t.Context(), filepath.Join(dir, "chatbridge.db"), bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	r := sealed(t, dir, key)
	defer r.Close()
	readAll(t, r, want)
	// Cut short, it is refused.
	if err := bunt.Restore(t.Context(), filepath.Join(t.TempDir(), "chatbridge.db"), bytes.NewReader(snap[:len(snap)-10])); err == nil {
		t.Fatal("a truncated backup was restored")
	}
}

func TestNodeOperationsAnswer501WhereTheNodeCannot(t *testing.T) {
	h, err := host.New(t.Context(), host.Config{Store: sealed(t, t.TempDir(), newKey(t)), Trust: bundle.NewTrust(nil, nil),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	srv := httptest.NewServer(Handler(h, "s3cret", Node{}))
	defer srv.Close()
	for _, c := range []struct{ method, path string }{
		{"GET", "/admin/backup"}, {"POST", "/admin/keys/rotate"}, {"POST", "/admin/bundle/reload"},
	} {
		if code, body := send(t, c.method, srv.URL+c.path, "s3cret", struct{}{}); code != http.StatusNotImplemented {
			t.Errorf("%s %s without its part: %d %s", c.method, c.path, code, body)
		}
	}
}
