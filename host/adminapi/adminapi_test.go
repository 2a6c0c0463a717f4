package adminapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
)

func TestQueueEndpointsNeedTheTokenAndAnswerForMissingLetters(t *testing.T) {
	h, err := host.New(context.Background(), host.Config{Store: memstore.New(), Trust: bundle.NewTrust(nil, nil),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	srv := httptest.NewServer(Handler(h, "s3cret", Node{}))
	defer srv.Close()
	call := func(method, path, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/admin/queue"}, {"POST", "/admin/queue/dead/x/replay"}, {"DELETE", "/admin/queue/dead/x"},
	} {
		if resp := call(c.method, c.path, "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d", c.method, c.path, resp.StatusCode)
		}
	}
	resp := call("GET", "/admin/queue", "s3cret")
	var v QueueView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK || v.DeadLetters == nil || v.Stats.Pending != 0 {
		t.Fatalf("GET /admin/queue: %d %+v %v", resp.StatusCode, v, err)
	}
	if resp := call("POST", "/admin/queue/dead/nope/replay", "s3cret"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("replay of a missing letter: %d", resp.StatusCode)
	}
	if resp := call("DELETE", "/admin/queue/dead/nope", "s3cret"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("discard of a missing letter: %d", resp.StatusCode)
	}
}
