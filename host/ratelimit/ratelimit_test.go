package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for tests that check the arithmetic, not sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestLimiter(cfg Config) (*Limiter, *clock) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	l := New(cfg)
	l.now = c.now
	return l, c
}

const token = "123456:AAH-secret_token-value"

func tgURL(method string) *url.URL {
	u, _ := url.Parse("https://api.telegram.org/bot" + token + "/" + method)
	return u
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

func tgSend(installation, chat string) Destination {
	return For(installation, tgURL("sendMessage"), jsonHeader(), []byte(`{"chat_id":`+chat+`,"text":"hi"}`))
}

func TestReserveSpacesRequestsByTheRule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rule  Rule
		n     int
		waits []time.Duration // of each of n requests made at once
	}{
		{"no pace lets everything through", Rule{}, 3, []time.Duration{0, 0, 0}},
		{"no burst spaces every request", Rule{Every: time.Second}, 3, []time.Duration{0, time.Second, 2 * time.Second}},
		{"a burst goes at once, then the pace", Rule{Every: 500 * time.Millisecond, Burst: 3}, 5,
			[]time.Duration{0, 0, 0, 500 * time.Millisecond, time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c := newTestLimiter(Config{MaxWait: time.Hour})
			k := []Key{NewKey(tc.rule, "inst", "host", "x")}
			for i := range tc.n {
				wait, ok := l.reserve(c.now(), k)
				if !ok || wait != tc.waits[i] {
					t.Errorf("request %d: wait %v ok %v, want %v", i, wait, ok, tc.waits[i])
				}
			}
		})
	}
}

func TestReserveRefusesBeyondMaxWaitAndTakesNothing(t *testing.T) {
	l, c := newTestLimiter(Config{MaxWait: 2 * time.Second})
	bot := NewKey(TelegramBot, "inst", "bot")
	chat := NewKey(Rule{Every: 3 * time.Second}, "inst", "bot", "chat")
	if _, ok := l.reserve(c.now(), []Key{bot, chat}); !ok {
		t.Fatal("first request refused")
	}
	wait, ok := l.reserve(c.now(), []Key{bot, chat})
	if ok || wait != 3*time.Second {
		t.Fatalf("second request to the chat: wait %v ok %v, want refused with 3s", wait, ok)
	}
	// The refusal took no turn of the bot: a burst of 5 is still 4 free.
	for i := range 4 {
		if wait, ok := l.reserve(c.now(), []Key{bot}); !ok || wait != 0 {
			t.Fatalf("bot request %d after a refusal: wait %v ok %v", i, wait, ok)
		}
	}
	if s := l.Stats(); s.Refused != 1 {
		t.Errorf("Refused = %d, want 1", s.Refused)
	}
}

func TestTelegram429BlocksTheBotForRetryAfter(t *testing.T) {
	l, c := newTestLimiter(Config{})
	d := tgSend("inst", "1001")
	l.Observe(d, 429, http.Header{}, []byte(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}`))
	other := tgSend("inst", "2002") // another chat of the same bot
	if wait, ok := l.reserve(c.now(), other.keys); ok || wait != 5*time.Second {
		t.Fatalf("another chat right after the 429: wait %v ok %v, want refused with 5s", wait, ok)
	}
	c.add(4 * time.Second)
	if wait, ok := l.reserve(c.now(), other.keys); !ok || wait != time.Second {
		t.Fatalf("4 s later: wait %v ok %v, want a 1 s sleep", wait, ok)
	}
}

func TestObserveLearnsBlocksFromAnswers(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		dest   Destination
		status int
		header http.Header
		body   string
		want   time.Duration
	}{
		{"telegram retry_after", tgSend("i", "1"), 429, nil, `{"ok":false,"error_code":429,"parameters":{"retry_after":7}}`, 7 * time.Second},
		{"telegram 429 without retry_after counts 1 s", tgSend("i", "1"), 429, nil, `{"ok":false,"error_code":429}`, time.Second},
		{"telegram 429 that is not JSON counts 1 s", tgSend("i", "1"), 429, nil, `<html>`, time.Second},
		{"telegram 500 blocks nothing", tgSend("i", "1"), 500, nil, `{"ok":false,"error_code":500}`, 0},
		{"jira Retry-After seconds", jiraDest("i"), 429, http.Header{"Retry-After": {"30"}}, ``, 30 * time.Second},
		{"jira 503 Retry-After", jiraDest("i"), 503, http.Header{"Retry-After": {"4"}}, ``, 4 * time.Second},
		{"jira Retry-After as a date", jiraDest("i"), 429, http.Header{"Retry-After": {at.Add(9 * time.Second).Format(http.TimeFormat)}}, ``, 9 * time.Second},
		{"jira X-RateLimit-Reset", jiraDest("i"), 429, http.Header{"X-Ratelimit-Reset": {at.Add(12 * time.Second).Format(time.RFC3339)}}, ``, 12 * time.Second},
		{"jira 429 without a header blocks nothing", jiraDest("i"), 429, http.Header{}, ``, 0},
		{"a 200 with Retry-After blocks nothing", jiraDest("i"), 200, http.Header{"Retry-After": {"30"}}, ``, 0},
		{"a huge Retry-After is capped", jiraDest("i"), 429, http.Header{"Retry-After": {"99999999"}}, ``, 15 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c := newTestLimiter(Config{MaxWait: time.Hour})
			l.Observe(tc.dest, tc.status, tc.header, []byte(tc.body))
			wait, ok := l.reserve(c.now(), tc.dest.keys)
			if !ok || wait != tc.want {
				t.Errorf("wait after the answer %v (ok %v), want %v", wait, ok, tc.want)
			}
		})
	}
}

func jiraDest(installation string) Destination {
	u, _ := url.Parse("https://example.atlassian.net/rest/servicedeskapi/request")
	return For(installation, u, jsonHeader(), nil)
}

func multipartBody(t testing.TB, chat string) (string, []byte) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.WriteField("chat_id", chat)
	_ = w.WriteField("caption", "a file")
	fw, _ := w.CreateFormFile("document", "a.txt")
	_, _ = fw.Write([]byte("content"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), b.Bytes()
}

func TestForFindsTheKeysOfARequest(t *testing.T) {
	ct, mp := multipartBody(t, "1001")
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	chat := For("inst", tgURL("sendMessage"), jsonHeader(), []byte(`{"chat_id":1001}`))
	mustURL := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	for _, tc := range []struct {
		name     string
		d        Destination
		rules    []Rule
		sameChat bool // the chat key equals that of chat_id 1001 in JSON
	}{
		{"telegram JSON number", chat, []Rule{TelegramBot, TelegramChat}, true},
		{"telegram JSON string", For("inst", tgURL("sendMessage"), jsonHeader(), []byte(`{"chat_id":"1001"}`)), []Rule{TelegramBot, TelegramChat}, true},
		{"telegram form", For("inst", tgURL("sendMessage"), form, []byte(`chat_id=1001&text=hi`)), []Rule{TelegramBot, TelegramChat}, true},
		{"telegram multipart", For("inst", tgURL("sendDocument"), http.Header{"Content-Type": {ct}}, mp), []Rule{TelegramBot, TelegramChat}, true},
		{"telegram query", For("inst", mustURL("https://api.telegram.org/bot"+token+"/sendMessage?chat_id=1001"), nil, nil), []Rule{TelegramBot, TelegramChat}, true},
		{"telegram group", For("inst", tgURL("sendMessage"), jsonHeader(), []byte(`{"chat_id":-100123}`)), []Rule{TelegramBot, TelegramGroup}, false},
		{"telegram channel by name", For("inst", tgURL("sendMessage"), jsonHeader(), []byte(`{"chat_id":"@news"}`)), []Rule{TelegramBot, TelegramGroup}, false},
		{"telegram chat action counts against the bot only", For("inst", tgURL("sendChatAction"), jsonHeader(), []byte(`{"chat_id":1001}`)), []Rule{TelegramBot}, false},
		{"telegram call without a chat", For("inst", tgURL("getMe"), nil, nil), []Rule{TelegramBot}, false},
		{"telegram file download: host default", For("inst", mustURL("https://api.telegram.org/file/bot"+token+"/photos/a.jpg"), nil, nil), []Rule{{}}, false},
		{"viber bot", For("inst", mustURL("https://chatapi.viber.com/pa/send_message"), http.Header{"X-Viber-Auth-Token": {"vtoken"}}, nil), []Rule{ViberBot}, false},
		{"whatsapp number", For("inst", mustURL("https://graph.facebook.com/v23.0/55501/messages"), nil, nil), []Rule{WhatsAppNumber}, false},
		{"jira site", jiraDest("inst"), []Rule{{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.d.keys) != len(tc.rules) {
				t.Fatalf("%d keys, want %d", len(tc.d.keys), len(tc.rules))
			}
			for i, k := range tc.d.keys {
				if k.rule != tc.rules[i] {
					t.Errorf("key %d rule %+v, want %+v", i, k.rule, tc.rules[i])
				}
			}
			if tc.sameChat && tc.d.keys[1].id != chat.keys[1].id {
				t.Error("the chat key differs from that of the same chat_id in JSON")
			}
			if tc.d.keys[0].id != chat.keys[0].id && tc.rules[0] == TelegramBot {
				t.Error("the bot key differs between calls of one bot")
			}
		})
	}
}

func TestInstallationsDoNotShareKeys(t *testing.T) {
	l, c := newTestLimiter(Config{})
	a, b := tgSend("inst-a", "1001"), tgSend("inst-b", "1001")
	for _, k := range a.keys {
		for _, o := range b.keys {
			if k.id == o.id {
				t.Fatal("two installations share a key")
			}
		}
	}
	l.Observe(a, 429, nil, []byte(`{"ok":false,"error_code":429,"parameters":{"retry_after":60}}`))
	if _, ok := l.reserve(c.now(), a.keys); ok {
		t.Error("installation a was not blocked by its own 429")
	}
	if wait, ok := l.reserve(c.now(), b.keys); !ok || wait != 0 {
		t.Errorf("installation b, same bot and chat: wait %v ok %v, want to go at once", wait, ok)
	}
}

func TestIdleKeysAreEvicted(t *testing.T) {
	l, c := newTestLimiter(Config{Idle: time.Minute})
	const chats = 100_000
	chat := func(id string) []Key { return []Key{NewKey(TelegramChat, "inst", "bot", "chat", id)} }
	for i := range chats {
		if _, ok := l.reserve(c.now(), chat(strconv.Itoa(i))); !ok {
			t.Fatalf("chat %d refused", i)
		}
	}
	if n := l.Stats().Keys; n != chats {
		t.Fatalf("%d keys after %d chats, want %d", n, chats, chats)
	}
	c.add(30 * time.Second)
	l.reserve(c.now(), chat("0"))
	if n := l.Stats().Keys; n != chats {
		t.Fatalf("%d keys 30 s later, want all %d kept", n, chats)
	}
	c.add(45 * time.Second)
	l.reserve(c.now(), chat("new"))
	if n := l.Stats().Keys; n != 2 {
		t.Errorf("%d keys after the others were idle for 75 s, want 2 (chat 0 and the new chat)", n)
	}
}

func TestBlockedKeysOutliveIdle(t *testing.T) {
	l, c := newTestLimiter(Config{Idle: time.Minute, MaxWait: time.Hour})
	d := jiraDest("inst")
	l.Observe(d, 429, http.Header{"Retry-After": {"600"}}, nil)
	c.add(2 * time.Minute)
	l.reserve(c.now(), tgSend("inst", "1").keys) // triggers eviction
	if wait, _ := l.reserve(c.now(), d.keys); wait != 8*time.Minute {
		t.Errorf("site blocked for 10 minutes, 2 minutes later: wait %v, want 8m", wait)
	}
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	l, c := newTestLimiter(Config{MaxKeys: 1000})
	for i := range 10_000 {
		l.reserve(c.now(), tgSend("inst", strconv.Itoa(i)).keys)
		c.add(time.Millisecond)
	}
	if s := l.Stats(); s.Keys > 1000 || s.Evicted < 9000 {
		t.Errorf("keys %d evicted %d with MaxKeys 1000 after 10 000 chats", s.Keys, s.Evicted)
	}
}

// TestKeysHoldNoTokenOrChatID: what the limiter keeps, and what prints of
// it, holds neither the bot token nor the chat id.
func TestKeysHoldNoTokenOrChatID(t *testing.T) {
	l, _ := newTestLimiter(Config{})
	const chat = "987654321"
	d := tgSend("inst", chat)
	l.Observe(d, 429, nil, []byte(`{"ok":false,"error_code":429,"parameters":{"retry_after":3}}`))
	_ = l.Wait(context.Background(), d)
	var dump strings.Builder
	fmt.Fprintf(&dump, "%v %+v %#v %s", d, d, d, d.keys)
	l.mu.Lock()
	for id, el := range l.keys {
		dump.Write(id[:])
		fmt.Fprintf(&dump, "%x %+v", id, *el.Value.(*entry))
	}
	l.mu.Unlock()
	for _, secret := range []string{token, "AAH-secret", chat, "123456"} {
		if strings.Contains(dump.String(), secret) {
			t.Errorf("the limiter's keys show %q", secret)
		}
	}
}

func TestWaitSleepsThenHonoursABlockLearnedMeanwhile(t *testing.T) {
	l := New(Config{MaxWait: 10 * time.Second})
	k := []Key{NewKey(Rule{Every: 200 * time.Millisecond}, "inst", "x")}
	d := Destination{keys: k}
	if err := l.Wait(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	done := make(chan time.Time)
	go func() {
		if err := l.Wait(context.Background(), d); err != nil {
			t.Error(err)
		}
		done <- time.Now()
	}()
	l.Observe(d, 429, http.Header{"Retry-After": {"1"}}, nil)
	until := time.Now().Add(time.Second)
	// Observe's clock read came before until: the block ends no later.
	if got := <-done; got.Before(until.Add(-50 * time.Millisecond)) {
		t.Errorf("Wait returned %v before the block learned while it slept ended", until.Sub(got))
	}
	if s := l.Stats(); s.Delayed != 1 || s.Blocks != 1 {
		t.Errorf("stats %+v, want one delayed request and one block", s)
	}
}

func TestWaitRefusesALongBlockAndHonoursCancel(t *testing.T) {
	l := New(Config{MaxWait: 50 * time.Millisecond})
	d := jiraDest("inst")
	l.Observe(d, 429, http.Header{"Retry-After": {"3"}}, nil)
	var we *WaitError
	if err := l.Wait(context.Background(), d); !errors.As(err, &we) || we.Seconds() != 3 {
		t.Fatalf("Wait during a 3 s block: %v, want a WaitError of 3 s", err)
	}
	l2 := New(Config{MaxWait: time.Minute})
	l2.Observe(d, 429, http.Header{"Retry-After": {"30"}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l2.Wait(ctx, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a canceled context: %v", err)
	}
	var nilLimiter *Limiter
	if err := nilLimiter.Wait(context.Background(), d); err != nil {
		t.Fatalf("a nil limiter: %v", err)
	}
}

func TestTooManyRequestsReadsAsTheServicesOwn(t *testing.T) {
	status, h, body := tgSend("i", "1").TooManyRequests(4)
	if status != 429 || h.Get("Retry-After") != "4" ||
		string(body) != `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 4","parameters":{"retry_after":4}}` {
		t.Errorf("telegram: %d %v %s", status, h, body)
	}
	// What the limiter synthesizes, it would itself learn the same block from.
	l, c := newTestLimiter(Config{MaxWait: time.Hour})
	l.Observe(tgSend("i", "1"), status, h, body)
	if wait, _ := l.reserve(c.now(), tgSend("i", "1").keys); wait != 4*time.Second {
		t.Errorf("learned %v from the synthesized answer, want 4s", wait)
	}
	status, h, _ = jiraDest("i").TooManyRequests(7)
	if status != 429 || h.Get("Retry-After") != "7" {
		t.Errorf("jira: %d %v", status, h)
	}
}

func FuzzFor(f *testing.F) {
	ct, mp := multipartBody(f, "5")
	f.Add("/bot"+token+"/sendMessage", "application/json", []byte(`{"chat_id":1}`))
	f.Add("/bot"+token+"/sendDocument", ct, mp)
	f.Add("/bot/x", "multipart/form-data; boundary=x", []byte("--x\r\n"))
	f.Fuzz(func(t *testing.T, path, contentType string, body []byte) {
		u := &url.URL{Scheme: "https", Host: "api.telegram.org", Path: path}
		d := For("inst", u, http.Header{"Content-Type": {contentType}}, body)
		if len(d.keys) == 0 || len(d.keys) > 2 {
			t.Fatalf("%d keys", len(d.keys))
		}
	})
}

// TestHammerOneKeyKeepsItsPace: many goroutines waiting on one paced key,
// while others churn keys and learn blocks, go out no faster than the
// pace: the k-th to return does so at least k spacings after the start.
func TestHammerOneKeyKeepsItsPace(t *testing.T) {
	l := New(Config{MaxWait: time.Minute, MaxKeys: 10_000, Idle: time.Millisecond})
	const n, every = 40, 5 * time.Millisecond
	d := Destination{keys: []Key{NewKey(Rule{Every: every}, "inst", "paced")}}
	start := time.Now()
	var mu sync.Mutex
	var returned []time.Time
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Wait(context.Background(), d); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			returned = append(returned, time.Now())
			mu.Unlock()
		}()
	}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				other := tgSend("inst-"+strconv.Itoa(g), strconv.Itoa(i))
				l.Observe(other, 503, http.Header{"Retry-After": {"1"}}, nil)
				_, _ = l.reserve(time.Now(), other.keys)
				_ = l.Stats()
			}
		}()
	}
	wg.Wait()
	if len(returned) != n {
		t.Fatalf("%d of %d waits returned", len(returned), n)
	}
	slices.SortFunc(returned, func(a, b time.Time) int { return a.Compare(b) })
	for k, at := range returned {
		if min := time.Duration(k) * every; at.Sub(start) < min {
			t.Errorf("wait %d returned %v after the start, before the pace allows (%v)", k, at.Sub(start), min)
		}
	}
	if s := l.Stats(); s.Keys > 10_000 {
		t.Errorf("%d keys held with MaxKeys 10 000", s.Keys)
	}
}

func BenchmarkLimiter_WaitUnpaced(b *testing.B) {
	l := New(Config{})
	d := jiraDest("inst")
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Wait(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFor_TelegramJSON(b *testing.B) {
	u, h, body := tgURL("sendMessage"), jsonHeader(), []byte(`{"chat_id":1001,"text":"hello there","parse_mode":"HTML"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = For("inst", u, h, body)
	}
}
