package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
)

// TestE2E_ASignedUpdateTooLargeToQueueIsAnswered200AndCounted: a correctly
// signed Telegram update the edge accepts (under 1 MiB) but the queue
// cannot hold (over 200 KiB) is answered 200, so Telegram does not retry it
// forever; it is dropped, counted in /metrics, and the chat goes on
// (issue 21, item 2).
func TestE2E_ASignedUpdateTooLargeToQueueIsAnswered200AndCounted(t *testing.T) {
	t.Parallel()
	s := stacktest.Shared(t)
	chat := stacktest.NewChat()
	hook := s.TelegramWebhook(t)
	before := tooLargeCount(t, s)

	huge := stacktest.TelegramUpdate(7_770_001, 1, chat, "oversize "+strings.Repeat("x", 900<<10))
	if st := s.PostPublic(t, hook.URL, huge, map[string]string{tgSecretHeader: hook.SecretToken}); st != http.StatusOK {
		t.Fatalf("an oversize signed update got %d, want 200", st)
	}
	if n := tooLargeCount(t, s); n != before+1 {
		t.Fatalf("chatbridge_queue_push_too_large_total went from %d to %d, want one more", before, n)
	}
	r := s.Opened(t, chat, "after the oversize one lark21")
	if strings.Contains(r.Description, "xxxxxxxx") {
		t.Fatal("the oversize text reached Jira")
	}
	if rs := s.RequestsWith(t, "oversize xxxx"); len(rs) != 0 {
		t.Fatalf("the oversize update opened %s", rs[0].Key)
	}
}

// tooLargeCount reads chatbridge_queue_push_too_large_total from /metrics.
func tooLargeCount(t *testing.T, s *stacktest.Stack) int64 {
	t.Helper()
	resp, err := s.Control.Get(s.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 1<<20))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "chatbridge_queue_push_too_large_total "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("/metrics has no chatbridge_queue_push_too_large_total")
	return 0
}
