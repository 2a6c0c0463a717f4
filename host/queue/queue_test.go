package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder is a consumer that records every attempt; fail decides, per
// payload and attempt, whether an attempt fails.
type recorder struct {
	mu    sync.Mutex
	got   []Message
	ok    []bool // per attempt in got: whether it succeeded
	fail  func(m Message) bool
	retry time.Duration // asked for instead of failing, when set
	// inFlight counts attempts running now, per order key, to prove a lane
	// never runs two at once.
	inFlight map[string]int
	overlap  bool
}

func (r *recorder) consume(_ context.Context, m Message) (time.Duration, error) {
	r.mu.Lock()
	if r.inFlight == nil {
		r.inFlight = map[string]int{}
	}
	r.inFlight[m.OrderKey]++
	if m.OrderKey != "" && r.inFlight[m.OrderKey] > 1 {
		r.overlap = true
	}
	failing := r.fail != nil && r.fail(m)
	r.got = append(r.got, m)
	r.ok = append(r.ok, !failing)
	r.mu.Unlock()
	time.Sleep(time.Millisecond) // long enough for another worker to collide
	r.mu.Lock()
	r.inFlight[m.OrderKey]--
	r.mu.Unlock()
	if failing {
		if r.retry > 0 {
			return r.retry, nil
		}
		return 0, errors.New("consumer failed")
	}
	return 0, nil
}

// succeeded lists the payloads whose attempt succeeded, in order.
func (r *recorder) succeeded(orderKey string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, m := range r.got {
		if m.OrderKey == orderKey && r.ok[i] {
			out = append(out, string(m.Payload))
		}
	}
	return out
}

func (r *recorder) attempts() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func open(t *testing.T, st storage.Store, installations []string, cfg Config, c Consumer) *Queue {
	t.Helper()
	q, err := Open(context.Background(), st, installations, cfg, c, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	return q
}

func stored(t *testing.T, st storage.Store, installation, prefix string) int {
	t.Helper()
	page, err := st.Query(context.Background(), installation, storage.Queue, prefix, "", storage.MaxQueryLimit)
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Entries)
}

func TestPushIsStoredUntilConsumedAndWaitsForItsDelay(t *testing.T) {
	st := memstore.New()
	r := &recorder{}
	q := open(t, st, nil, Config{}, r.consume)
	start := time.Now()
	if err := q.Push(context.Background(), "inst", "deliveries", "chat-1", []byte("p"), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := stored(t, st, "inst", pendingPrefix); n != 1 {
		t.Fatalf("%d pending records after Push, want 1", n)
	}
	q.Start()
	waitfor.Until(t, 0, "delivery", waitfor.True(func() bool { return len(r.attempts()) == 1 }))
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("delivered after %v, before its delay", waited)
	}
	m := r.attempts()[0]
	if m.Installation != "inst" || m.Queue != "deliveries" || m.OrderKey != "chat-1" || string(m.Payload) != "p" || m.Attempt != 1 || m.MaxAttempts != 40 {
		t.Fatalf("message %+v", m)
	}
	waitfor.Until(t, 0, "record deleted", waitfor.True(func() bool { return q.Pending() == 0 && stored(t, st, "inst", pendingPrefix) == 0 }))
}

func TestOneKeyIsConsumedInPushOrderThroughRetriesWhileOtherKeysGoOn(t *testing.T) {
	r := &recorder{
		// The second message of chat A fails twice: the rest of A waits.
		fail: func(m Message) bool { return string(m.Payload) == "A2" && m.Attempt <= 2 },
	}
	q := open(t, memstore.New(), nil, Config{BaseBackoff: 200 * time.Millisecond, Workers: 4}, r.consume)
	ctx := context.Background()
	var want []string
	for i := 1; i <= 6; i++ {
		p := fmt.Sprintf("A%d", i)
		want = append(want, p)
		if err := q.Push(ctx, "inst", "inbound", "A", []byte(p), 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 6; i++ {
		if err := q.Push(ctx, "inst", "inbound", "B", []byte(fmt.Sprintf("B%d", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	q.Start()
	waitfor.Until(t, 0, "everything consumed", waitfor.True(func() bool { return q.Pending() == 0 }))
	if got := r.succeeded("A"); !slices.Equal(got, want) {
		t.Fatalf("chat A applied %v, want %v", got, want)
	}
	if got := r.succeeded("B"); len(got) != 6 || got[0] != "B1" || got[5] != "B6" {
		t.Fatalf("chat B applied %v", got)
	}
	// B did not wait for A's retries: all of B ran before A2's last attempt.
	var lastA2, lastB int
	for i, m := range r.attempts() {
		switch {
		case string(m.Payload) == "A2":
			lastA2 = i
		case m.OrderKey == "B":
			lastB = i
		}
	}
	if lastB > lastA2 {
		t.Errorf("chat B waited for chat A's retries: %v", r.attempts())
	}
	if r.overlap {
		t.Fatal("two messages of one order key were consumed at once")
	}
	if s := q.Stats(); s.Retried != 2 || s.Delivered != 12 {
		t.Fatalf("stats %+v", s)
	}
}

func TestARetryThatNamesItsDelayWaitsForIt(t *testing.T) {
	r := &recorder{fail: func(m Message) bool { return m.Attempt == 1 }, retry: 400 * time.Millisecond}
	q := open(t, memstore.New(), nil, Config{}, r.consume)
	q.Start()
	if err := q.Push(context.Background(), "inst", "outbound", "", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 0, "second attempt", waitfor.True(func() bool { return len(r.attempts()) == 2 }))
	a := r.attempts()
	if a[1].Attempt != 2 {
		t.Fatalf("attempts %+v", a)
	}
}

func TestKeylessMessagesOfOneQueueShareALane(t *testing.T) {
	r := &recorder{}
	q := open(t, memstore.New(), nil, Config{Workers: 4}, r.consume)
	for i := range 20 {
		if err := q.Push(context.Background(), "inst", "q", "", []byte(fmt.Sprint(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	q.Start()
	waitfor.Until(t, 0, "consumed", waitfor.True(func() bool { return q.Pending() == 0 }))
	for i, m := range r.attempts() {
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("order %v", r.attempts())
		}
	}
}

func TestAfterTheLastAttemptAMessageIsADeadLetterAndReplays(t *testing.T) {
	st := memstore.New()
	var broken sync.Map
	broken.Store("poison", true)
	r := &recorder{fail: func(m Message) bool { _, bad := broken.Load(string(m.Payload)); return bad }}
	q := open(t, st, nil, Config{MaxAttempts: 3, BaseBackoff: 20 * time.Millisecond}, r.consume)
	q.Start()
	ctx := context.Background()
	for _, p := range []string{"poison", "next"} {
		if err := q.Push(ctx, "inst", "inbound", "chat", []byte(p), 0); err != nil {
			t.Fatal(err)
		}
	}
	waitfor.Until(t, 0, "dead letter", waitfor.True(func() bool { return q.Stats().DeadLetters == 1 && q.Pending() == 0 }))
	if got := r.succeeded("chat"); !slices.Equal(got, []string{"next"}) {
		t.Fatalf("the chat's next message was not delivered after the dead letter: %v", got)
	}
	dl := q.DeadLetters()
	if len(dl) != 1 || dl[0].Attempts != 3 || dl[0].Installation != "inst" || dl[0].Queue != "inbound" || !strings.Contains(dl[0].LastError, "consumer failed") || dl[0].FailedAt.IsZero() {
		t.Fatalf("dead letters %+v", dl)
	}
	if n := stored(t, st, "inst", deadPrefix); n != 1 {
		t.Fatalf("%d dead-letter records", n)
	}
	if n := stored(t, st, "inst", pendingPrefix); n != 0 {
		t.Fatalf("%d pending records left", n)
	}

	// Reopened, the dead letter is still listed.
	q.Close()
	q = open(t, st, []string{"inst"}, Config{MaxAttempts: 3, BaseBackoff: 20 * time.Millisecond}, r.consume)
	q.Start()
	if dl := q.DeadLetters(); len(dl) != 1 {
		t.Fatalf("after reopening: %+v", dl)
	}
	broken.Delete("poison")
	if err := q.Replay(ctx, dl[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := q.Replay(ctx, dl[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second replay: %v", err)
	}
	waitfor.Until(t, 0, "replayed", waitfor.True(func() bool { return q.Pending() == 0 && len(r.succeeded("chat")) == 2 }))
	if s := q.Stats(); s.DeadLetters != 0 {
		t.Fatalf("stats %+v", s)
	}
	if n := stored(t, st, "inst", deadPrefix); n != 0 {
		t.Fatalf("%d dead-letter records after replay", n)
	}
}

func TestDiscardDeletesADeadLetter(t *testing.T) {
	st := memstore.New()
	r := &recorder{fail: func(Message) bool { return true }}
	q := open(t, st, nil, Config{MaxAttempts: 1}, r.consume)
	q.Start()
	if err := q.Push(context.Background(), "inst", "q", "", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 0, "dead letter", waitfor.True(func() bool { return len(q.DeadLetters()) == 1 }))
	if err := q.Discard(context.Background(), q.DeadLetters()[0].ID); err != nil {
		t.Fatal(err)
	}
	if len(q.DeadLetters()) != 0 || stored(t, st, "inst", deadPrefix) != 0 {
		t.Fatal("discarded dead letter still there")
	}
	if err := q.Discard(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("discard of a missing letter: %v", err)
	}
}

func TestReopenedQueueResumesInOrderOnTheSealedStore(t *testing.T) {
	dir := t.TempDir()
	key, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	openStore := func() *seal.Store {
		db, err := bunt.Open(filepath.Join(dir, "data.db"), bunt.Config{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := seal.Open(context.Background(), db, []*seal.MasterKey{key}, seal.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	st := openStore()
	ctx := context.Background()
	r := &recorder{}
	q := open(t, st, nil, Config{}, r.consume)
	for i := range 30 {
		chat := fmt.Sprintf("chat-%d", i%3)
		if err := q.Push(ctx, "inst", "inbound", chat, []byte(fmt.Sprintf("%s/%02d", chat, i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Never started: the process "dies" with everything pending.
	q.Close()
	raw, err := os.ReadFile(filepath.Join(dir, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("chat-1/")) {
		t.Fatal("a queued payload is in the data file in the clear")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openStore()
	defer st.Close()
	q = open(t, st, []string{"inst"}, Config{Workers: 4}, r.consume)
	if q.Pending() != 30 {
		t.Fatalf("resumed %d messages, want 30", q.Pending())
	}
	q.Start()
	waitfor.Until(t, 0, "resumed messages consumed", waitfor.True(func() bool { return q.Pending() == 0 }))
	for c := range 3 {
		chat := fmt.Sprintf("chat-%d", c)
		got := r.succeeded(chat)
		if len(got) != 10 || !slices.IsSorted(got) {
			t.Fatalf("%s resumed as %v", chat, got)
		}
	}
	if len(r.attempts()) != 30 {
		t.Fatalf("%d deliveries, want 30", len(r.attempts()))
	}
	// The first message of each chat may have been in flight: its attempt
	// counts, so the consumer knows to check for unrecorded effects.
	for _, m := range r.attempts() {
		first := strings.HasSuffix(string(m.Payload), "/00") || strings.HasSuffix(string(m.Payload), "/01") || strings.HasSuffix(string(m.Payload), "/02")
		if want := map[bool]int{true: 2, false: 1}[first]; m.Attempt != want {
			t.Fatalf("%s resumed as attempt %d, want %d", m.Payload, m.Attempt, want)
		}
	}
	// A further push orders after the resumed ones.
	if err := q.Push(ctx, "inst", "inbound", "chat-0", []byte("chat-0/99"), 0); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 0, "the new push", waitfor.True(func() bool { return q.Pending() == 0 && len(r.succeeded("chat-0")) == 11 }))
	if n := stored(t, st, "inst", pendingPrefix); n != 0 {
		t.Fatalf("%d records left", n)
	}
}

func TestForgetDropsAnInstallationsMessages(t *testing.T) {
	st := memstore.New()
	r := &recorder{}
	q := open(t, st, nil, Config{}, r.consume)
	for _, in := range []string{"gone", "kept"} {
		if err := q.Push(context.Background(), in, "q", "k", []byte(in), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	q.Start()
	q.Forget("gone")
	if q.Pending() != 1 {
		t.Fatalf("pending %d after Forget, want 1", q.Pending())
	}
}

func TestPushAfterCloseFails(t *testing.T) {
	q := open(t, memstore.New(), nil, Config{}, (&recorder{}).consume)
	q.Close()
	if err := q.Push(context.Background(), "i", "q", "", nil, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after close: %v", err)
	}
}

func TestRecordRoundTripsAndRejectsDamage(t *testing.T) {
	now := time.UnixMilli(time.Now().UnixMilli())
	in := record{ID: "abc", Queue: "inbound", OrderKey: "chat:SUP:telegram:1", Payload: []byte{0, 1, 2}, Attempt: 7, Seq: 42,
		Due: now.Add(time.Minute), Pushed: now, LastError: "jira: 503"}
	b := in.encode()
	var out record
	if err := out.decode(b); err != nil {
		t.Fatal(err)
	}
	if out.ID != in.ID || out.Queue != in.Queue || out.OrderKey != in.OrderKey || !bytes.Equal(out.Payload, in.Payload) ||
		out.Attempt != 7 || out.Seq != 42 || !out.Due.Equal(in.Due) || !out.Pushed.Equal(in.Pushed) || !out.FailedAt.IsZero() || out.LastError != in.LastError {
		t.Fatalf("round trip: %+v", out)
	}
	for n := range len(b) {
		if err := new(record).decode(b[:n]); err == nil {
			t.Fatalf("a record cut at %d bytes decoded", n)
		}
	}
	if err := new(record).decode(append(slices.Clone(b), 0)); err == nil {
		t.Fatal("trailing bytes accepted")
	}
}

func TestARecordAtItsPreLaneKeyIsMovedAndConsumed(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	old := record{ID: "0123456789abcdef01234567", Queue: "inbound", OrderKey: "chat-1", Payload: []byte("early"),
		Attempt: 1, Seq: 7, Pushed: time.Now(), Due: time.Now().Add(time.Hour)}
	if err := st.Set(ctx, "inst", storage.Queue, "m:"+old.ID, old.encode(), time.Hour); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	q := open(t, st, []string{"inst"}, Config{}, r.consume)
	if q.Pending() != 1 {
		t.Fatalf("pending %d, want 1", q.Pending())
	}
	if _, err := st.Get(ctx, "inst", storage.Queue, "m:"+old.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the record is still at its old key: %v", err)
	}
	if _, err := st.Get(ctx, "inst", storage.Queue, old.pendingKey()); err != nil {
		t.Fatalf("the record is not at its lane's key: %v", err)
	}
}
