package stack

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
)

func TestMain(m *testing.M) { os.Exit(bundletest.Main(m, new(string))) }

func manifest(t *testing.T) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "plugin", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Both modes carry a Telegram update through the same edge, sealed storage
// and queue to the Jira simulator: the first update of a chat opens a
// request, the next becomes its comment. The Wasm mode is the emulator's
// stack, as `chatbridge dev` starts it.
func TestNativeStackCarriesUpdatesToJira(t *testing.T) {
	carriesUpdatesToJira(t, Config{Dir: t.TempDir(), Mode: InProcess, Manifest: manifest(t)})
}

func TestWasmStackCarriesUpdatesToJira(t *testing.T) {
	module := bundletest.Module(t, "./plugin")
	s := carriesUpdatesToJira(t, Config{Dir: t.TempDir(), Mode: Wasm, Manifest: manifest(t), Module: module})
	if s.Host() == nil {
		t.Fatal("a Wasm stack without a host")
	}
}

func carriesUpdatesToJira(t *testing.T, cfg Config) *Stack {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	u := NewUpdates(s, 1)
	for range 2 {
		req, err := u.Request(ctx)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("webhook answered %d, want 200", resp.StatusCode)
		}
		if err := s.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	requests, comments, err := s.JiraTotals()
	if err != nil {
		t.Fatal(err)
	}
	if requests != 1 || comments < 1 {
		t.Fatalf("Jira holds %d requests and %d comments, want 1 request with the follow-up as a comment", requests, comments)
	}
	return s
}

// The open-loop generator sends what it was asked and times every answer.
func TestOpenLoopSendsAtTheRateAsked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Config{Dir: t.TempDir(), Mode: InProcess, Manifest: manifest(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := Open(ctx, s.Client, NewUpdates(s, 3).Request, 50, 200*time.Millisecond, 16)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 10 || res.OK != 10 || len(res.Latencies) != 10 || res.Quantile(0.99) <= 0 {
		t.Fatalf("sent %d, ok %d, %d latencies; want 10 answered", res.Sent, res.OK, len(res.Latencies))
	}
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if requests, _, _ := s.JiraTotals(); requests != 3 {
		t.Fatalf("Jira holds %d requests, want one per chat (3)", requests)
	}
}
