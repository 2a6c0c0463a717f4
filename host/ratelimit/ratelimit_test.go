package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/ratelimit"
)

// The tests of Telegram, Viber and WhatsApp traffic pace it by the rules
// the plugin declares in plugin/manifest.yml, as the host does; the paces
// below are what that manifest must come to.
var (
	telegramBot   = ratelimit.Pace{Every: 50 * time.Millisecond, Burst: 5}
	telegramChat  = ratelimit.Pace{Every: 1100 * time.Millisecond, Burst: 1}
	telegramGroup = ratelimit.Pace{Every: 3 * time.Second, Burst: 1}
	viberBot      = ratelimit.Pace{Every: 100 * time.Millisecond, Burst: 10}
	whatsAppPhone = ratelimit.Pace{Every: 50 * time.Millisecond, Burst: 10}
)

var (
	pluginOnce  sync.Once
	pluginTable *ratelimit.Table
	pluginErr   error
)

// plugin is the pacing table of plugin/manifest.yml.
func plugin(tb testing.TB) *ratelimit.Table {
	tb.Helper()
	pluginOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join("..", "..", "plugin", "manifest.yml"))
		if err != nil {
			pluginErr = err
			return
		}
		m, err := bundle.ParseManifest(data)
		if err != nil {
			pluginErr = err
			return
		}
		pluginTable, pluginErr = m.Pacing()
	})
	if pluginErr != nil {
		tb.Fatalf("plugin manifest: %v", pluginErr)
	}
	return pluginTable
}

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

func newTestLimiter(cfg ratelimit.Config) (*ratelimit.Limiter, *clock) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	l := ratelimit.New(cfg)
	l.SetNow(c.now)
	return l, c
}

const token = "123456:AAH-secret_token-value"

func tgURL(method string) *url.URL {
	u, _ := url.Parse("https://api.telegram.org/bot" + token + "/" + method)
	return u
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

// forPlugin is what a POST of installation counts against by the plugin's rules.
func forPlugin(tb testing.TB, installation string, u *url.URL, h http.Header, body []byte) ratelimit.Destination {
	return plugin(tb).For(installation, "POST", u, h, body)
}

func tgSend(tb testing.TB, installation, chat string) ratelimit.Destination {
	return forPlugin(tb, installation, tgURL("sendMessage"), jsonHeader(), []byte(`{"chat_id":`+chat+`,"text":"hi"}`))
}

func jiraDest(tb testing.TB, installation string) ratelimit.Destination {
	return forPlugin(tb, installation, mustURL("https://example.atlassian.net/rest/servicedeskapi/request"), jsonHeader(), nil)
}

func TestReserveSpacesRequestsByThePace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pace  ratelimit.Pace
		n     int
		waits []time.Duration // of each of n requests made at once
	}{
		{"no pace lets everything through", ratelimit.Pace{}, 3, []time.Duration{0, 0, 0}},
		{"no burst spaces every request", ratelimit.Pace{Every: time.Second}, 3, []time.Duration{0, time.Second, 2 * time.Second}},
		{"a burst goes at once, then the pace", ratelimit.Pace{Every: 500 * time.Millisecond, Burst: 3}, 5,
			[]time.Duration{0, 0, 0, 500 * time.Millisecond, time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c := newTestLimiter(ratelimit.Config{MaxWait: time.Hour})
			d := ratelimit.DestinationOf(ratelimit.NewKey(tc.pace, "inst", "host", "x"))
			for i := range tc.n {
				wait, ok := l.Reserve(c.now(), d)
				if !ok || wait != tc.waits[i] {
					t.Errorf("request %d: wait %v ok %v, want %v", i, wait, ok, tc.waits[i])
				}
			}
		})
	}
}

func TestReserveRefusesBeyondMaxWaitAndTakesNothing(t *testing.T) {
	l, c := newTestLimiter(ratelimit.Config{MaxWait: 2 * time.Second})
	bot := ratelimit.NewKey(telegramBot, "inst", "bot")
	chat := ratelimit.NewKey(ratelimit.Pace{Every: 3 * time.Second}, "inst", "bot", "chat")
	if _, ok := l.Reserve(c.now(), ratelimit.DestinationOf(bot, chat)); !ok {
		t.Fatal("first request refused")
	}
	wait, ok := l.Reserve(c.now(), ratelimit.DestinationOf(bot, chat))
	if ok || wait != 3*time.Second {
		t.Fatalf("second request to the chat: wait %v ok %v, want refused with 3s", wait, ok)
	}
	// The refusal took no turn of the bot: a burst of 5 is still 4 free.
	for i := range 4 {
		if wait, ok := l.Reserve(c.now(), ratelimit.DestinationOf(bot)); !ok || wait != 0 {
			t.Fatalf("bot request %d after a refusal: wait %v ok %v", i, wait, ok)
		}
	}
	if s := l.Stats(); s.Refused != 1 {
		t.Errorf("Refused = %d, want 1", s.Refused)
	}
}

func TestTelegram429BlocksTheBotForRetryAfter(t *testing.T) {
	l, c := newTestLimiter(ratelimit.Config{})
	d := tgSend(t, "inst", "1001")
	l.Observe(d, 429, http.Header{}, []byte(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}`))
	other := tgSend(t, "inst", "2002") // another chat of the same bot
	if wait, ok := l.Reserve(c.now(), other); ok || wait != 5*time.Second {
		t.Fatalf("another chat right after the 429: wait %v ok %v, want refused with 5s", wait, ok)
	}
	c.add(4 * time.Second)
	if wait, ok := l.Reserve(c.now(), other); !ok || wait != time.Second {
		t.Fatalf("4 s later: wait %v ok %v, want a 1 s sleep", wait, ok)
	}
}

func TestObserveLearnsBlocksFromAnswers(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tg, jira := tgSend(t, "i", "1"), jiraDest(t, "i")
	for _, tc := range []struct {
		name   string
		dest   ratelimit.Destination
		status int
		header http.Header
		body   string
		want   time.Duration
	}{
		{"telegram retry_after", tg, 429, nil, `{"ok":false,"error_code":429,"parameters":{"retry_after":7}}`, 7 * time.Second},
		{"telegram retry_after before Retry-After", tg, 429, http.Header{"Retry-After": {"3"}}, `{"ok":false,"error_code":429,"parameters":{"retry_after":7}}`, 7 * time.Second},
		{"telegram 429 without retry_after counts 1 s", tg, 429, nil, `{"ok":false,"error_code":429}`, time.Second},
		{"telegram 429 that is not JSON counts 1 s", tg, 429, nil, `<html>`, time.Second},
		{"telegram 500 blocks nothing", tg, 500, nil, `{"ok":false,"error_code":500,"parameters":{"retry_after":7}}`, 0},
		{"telegram 503 without a time blocks nothing", tg, 503, nil, `{"ok":false,"error_code":503}`, 0},
		{"jira Retry-After seconds", jira, 429, http.Header{"Retry-After": {"30"}}, ``, 30 * time.Second},
		{"jira 503 Retry-After", jira, 503, http.Header{"Retry-After": {"4"}}, ``, 4 * time.Second},
		{"jira Retry-After as a date", jira, 429, http.Header{"Retry-After": {at.Add(9 * time.Second).Format(http.TimeFormat)}}, ``, 9 * time.Second},
		{"jira X-RateLimit-Reset", jira, 429, http.Header{"X-Ratelimit-Reset": {at.Add(12 * time.Second).Format(time.RFC3339)}}, ``, 12 * time.Second},
		{"jira 429 without a header blocks nothing", jira, 429, http.Header{}, ``, 0},
		{"jira ignores a body retry_after nobody declared", jira, 429, nil, `{"parameters":{"retry_after":7}}`, 0},
		{"a 200 with Retry-After blocks nothing", jira, 200, http.Header{"Retry-After": {"30"}}, ``, 0},
		{"a huge Retry-After is capped", jira, 429, http.Header{"Retry-After": {"99999999"}}, ``, 15 * time.Minute},
		{"a huge retry_after is capped", tg, 429, nil, `{"parameters":{"retry_after":1e300}}`, 15 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c := newTestLimiter(ratelimit.Config{MaxWait: time.Hour})
			l.Observe(tc.dest, tc.status, tc.header, []byte(tc.body))
			wait, ok := l.Reserve(c.now(), tc.dest)
			if !ok || wait != tc.want {
				t.Errorf("wait after the answer %v (ok %v), want %v", wait, ok, tc.want)
			}
		})
	}
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

// TestPluginRulesFindTheKeysOfARequest: the plugin's manifest gives each
// request the keys and paces the host's former rule table gave it.
func TestPluginRulesFindTheKeysOfARequest(t *testing.T) {
	ct, mp := multipartBody(t, "1001")
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	p := func(u *url.URL, h http.Header, body string) ratelimit.Destination {
		return forPlugin(t, "inst", u, h, []byte(body))
	}
	chat := p(tgURL("sendMessage"), jsonHeader(), `{"chat_id":1001}`)
	for _, tc := range []struct {
		name     string
		d        ratelimit.Destination
		paces    []ratelimit.Pace
		sameChat bool // the chat key equals that of chat_id 1001 in JSON
	}{
		{"telegram JSON number", chat, []ratelimit.Pace{telegramBot, telegramChat}, true},
		{"telegram JSON string", p(tgURL("sendMessage"), jsonHeader(), `{"chat_id":"1001"}`), []ratelimit.Pace{telegramBot, telegramChat}, true},
		{"telegram form", p(tgURL("sendMessage"), form, `chat_id=1001&text=hi`), []ratelimit.Pace{telegramBot, telegramChat}, true},
		{"telegram multipart", p(tgURL("sendDocument"), http.Header{"Content-Type": {ct}}, string(mp)), []ratelimit.Pace{telegramBot, telegramChat}, true},
		{"telegram query", p(mustURL("https://api.telegram.org/bot"+token+"/sendMessage?chat_id=1001"), nil, ""), []ratelimit.Pace{telegramBot, telegramChat}, true},
		{"telegram group", p(tgURL("sendMessage"), jsonHeader(), `{"chat_id":-100123}`), []ratelimit.Pace{telegramBot, telegramGroup}, false},
		{"telegram channel by name", p(tgURL("sendMessage"), jsonHeader(), `{"chat_id":"@news"}`), []ratelimit.Pace{telegramBot, telegramGroup}, false},
		{"telegram chat action counts against the bot only", p(tgURL("sendChatAction"), jsonHeader(), `{"chat_id":1001}`), []ratelimit.Pace{telegramBot}, false},
		{"telegram chat action in another case too", p(tgURL("SendChatAction"), jsonHeader(), `{"chat_id":1001}`), []ratelimit.Pace{telegramBot}, false},
		{"telegram call without a chat", p(tgURL("getMe"), nil, ""), []ratelimit.Pace{telegramBot}, false},
		{"telegram file download: host default", p(mustURL("https://api.telegram.org/file/bot"+token+"/photos/a.jpg"), nil, ""), []ratelimit.Pace{{}}, false},
		{"telegram path with a trailing slash: host default", p(mustURL("https://api.telegram.org/bot"+token+"/sendMessage/"), jsonHeader(), `{"chat_id":1001}`), []ratelimit.Pace{{}}, false},
		{"viber bot", p(mustURL("https://chatapi.viber.com/pa/send_message"), http.Header{"X-Viber-Auth-Token": {"vtoken"}}, ""), []ratelimit.Pace{viberBot}, false},
		{"viber without a token: host default", p(mustURL("https://chatapi.viber.com/pa/send_message"), nil, ""), []ratelimit.Pace{{}}, false},
		{"whatsapp number", p(mustURL("https://graph.facebook.com/v23.0/55501/messages"), nil, ""), []ratelimit.Pace{whatsAppPhone}, false},
		{"whatsapp media: host default", p(mustURL("https://graph.facebook.com/v23.0/55501/media"), nil, ""), []ratelimit.Pace{{}}, false},
		{"jira site", jiraDest(t, "inst"), []ratelimit.Pace{{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.d.Keys()
			if len(keys) != len(tc.paces) {
				t.Fatalf("%d keys, want %d", len(keys), len(tc.paces))
			}
			for i, k := range keys {
				if k.Pace() != tc.paces[i] {
					t.Errorf("key %d pace %+v, want %+v", i, k.Pace(), tc.paces[i])
				}
			}
			if tc.sameChat && keys[1].ID() != chat.Keys()[1].ID() {
				t.Error("the chat key differs from that of the same chat_id in JSON")
			}
			if tc.paces[0] == telegramBot && keys[0].ID() != chat.Keys()[0].ID() {
				t.Error("the bot key differs between calls of one bot")
			}
		})
	}
}

func TestInstallationsDoNotShareKeys(t *testing.T) {
	l, c := newTestLimiter(ratelimit.Config{})
	a, b := tgSend(t, "inst-a", "1001"), tgSend(t, "inst-b", "1001")
	for _, k := range a.Keys() {
		for _, o := range b.Keys() {
			if k.ID() == o.ID() {
				t.Fatal("two installations share a key")
			}
		}
	}
	l.Observe(a, 429, nil, []byte(`{"ok":false,"error_code":429,"parameters":{"retry_after":60}}`))
	if _, ok := l.Reserve(c.now(), a); ok {
		t.Error("installation a was not blocked by its own 429")
	}
	if wait, ok := l.Reserve(c.now(), b); !ok || wait != 0 {
		t.Errorf("installation b, same bot and chat: wait %v ok %v, want to go at once", wait, ok)
	}
}

func TestIdleKeysAreEvicted(t *testing.T) {
	l, c := newTestLimiter(ratelimit.Config{Idle: time.Minute})
	const chats = 100_000
	chat := func(id string) ratelimit.Destination {
		return ratelimit.DestinationOf(ratelimit.NewKey(telegramChat, "inst", "bot", "chat", id))
	}
	for i := range chats {
		if _, ok := l.Reserve(c.now(), chat(strconv.Itoa(i))); !ok {
			t.Fatalf("chat %d refused", i)
		}
	}
	if n := l.Stats().Keys; n != chats {
		t.Fatalf("%d keys after %d chats, want %d", n, chats, chats)
	}
	c.add(30 * time.Second)
	l.Reserve(c.now(), chat("0"))
	if n := l.Stats().Keys; n != chats {
		t.Fatalf("%d keys 30 s later, want all %d kept", n, chats)
	}
	c.add(45 * time.Second)
	l.Reserve(c.now(), chat("new"))
	if n := l.Stats().Keys; n != 2 {
		t.Errorf("%d keys after the others were idle for 75 s, want 2 (chat 0 and the new chat)", n)
	}
}

func TestBlockedKeysOutliveIdle(t *testing.T) {
	l, c := newTestLimiter(ratelimit.Config{Idle: time.Minute, MaxWait: time.Hour})
	d := jiraDest(t, "inst")
	l.Observe(d, 429, http.Header{"Retry-After": {"600"}}, nil)
	c.add(2 * time.Minute)
	l.Reserve(c.now(), tgSend(t, "inst", "1")) // triggers eviction
	if wait, _ := l.Reserve(c.now(), d); wait != 8*time.Minute {
		t.Errorf("site blocked for 10 minutes, 2 minutes later: wait %v, want 8m", wait)
	}
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	l, c := newTestLimiter(ratelimit.Config{MaxKeys: 1000})
	for i := range 10_000 {
		l.Reserve(c.now(), tgSend(t, "inst", strconv.Itoa(i)))
		c.add(time.Millisecond)
	}
	if s := l.Stats(); s.Keys > 1000 || s.Evicted < 9000 {
		t.Errorf("keys %d evicted %d with MaxKeys 1000 after 10 000 chats", s.Keys, s.Evicted)
	}
}

// TestKeysHoldNoTokenOrChatID: what the limiter keeps, and what prints of
// it, holds neither the bot token nor the chat id.
func TestKeysHoldNoTokenOrChatID(t *testing.T) {
	l, _ := newTestLimiter(ratelimit.Config{})
	const chat = "987654321"
	d := tgSend(t, "inst", chat)
	l.Observe(d, 429, nil, []byte(`{"ok":false,"error_code":429,"parameters":{"retry_after":3}}`))
	_ = l.Wait(context.Background(), d)
	dump := fmt.Sprintf("%v %+v %#v %s", d, d, d, d.Keys()) + l.Dump()
	for _, secret := range []string{token, "AAH-secret", chat, "123456"} {
		if strings.Contains(dump, secret) {
			t.Errorf("the limiter's keys show %q", secret)
		}
	}
}

func TestWaitSleepsThenHonoursABlockLearnedMeanwhile(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{MaxWait: 10 * time.Second})
	d := ratelimit.DestinationOf(ratelimit.NewKey(ratelimit.Pace{Every: 200 * time.Millisecond}, "inst", "x"))
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
	l := ratelimit.New(ratelimit.Config{MaxWait: 50 * time.Millisecond})
	d := jiraDest(t, "inst")
	l.Observe(d, 429, http.Header{"Retry-After": {"3"}}, nil)
	var we *ratelimit.WaitError
	if err := l.Wait(context.Background(), d); !errors.As(err, &we) || we.Seconds() != 3 {
		t.Fatalf("Wait during a 3 s block: %v, want a WaitError of 3 s", err)
	}
	l2 := ratelimit.New(ratelimit.Config{MaxWait: time.Minute})
	l2.Observe(d, 429, http.Header{"Retry-After": {"30"}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l2.Wait(ctx, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a canceled context: %v", err)
	}
	var nilLimiter *ratelimit.Limiter
	if err := nilLimiter.Wait(context.Background(), d); err != nil {
		t.Fatalf("a nil limiter: %v", err)
	}
}

func TestTooManyRequestsReadsAsTheServicesOwn(t *testing.T) {
	status, h, body := tgSend(t, "i", "1").TooManyRequests(4)
	if status != 429 || h.Get("Retry-After") != "4" ||
		string(body) != `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 4","parameters":{"retry_after":4}}` {
		t.Errorf("telegram: %d %v %s", status, h, body)
	}
	// What the limiter synthesizes, it would itself learn the same block from.
	l, c := newTestLimiter(ratelimit.Config{MaxWait: time.Hour})
	l.Observe(tgSend(t, "i", "1"), status, h, body)
	if wait, _ := l.Reserve(c.now(), tgSend(t, "i", "1")); wait != 4*time.Second {
		t.Errorf("learned %v from the synthesized answer, want 4s", wait)
	}
	status, h, body = jiraDest(t, "i").TooManyRequests(7)
	if status != 429 || h.Get("Retry-After") != "7" || string(body) != `{"errorMessages":["Too Many Requests: retry after 7 seconds"]}` {
		t.Errorf("jira: %d %v %s", status, h, body)
	}
}

// TestHammerOneKeyKeepsItsPace: many goroutines waiting on one paced key,
// while others churn keys and learn blocks, go out no faster than the
// pace: the k-th to return does so at least k spacings after the start.
func TestHammerOneKeyKeepsItsPace(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{MaxWait: time.Minute, MaxKeys: 10_000, Idle: time.Millisecond})
	const n, every = 40, 5 * time.Millisecond
	d := ratelimit.DestinationOf(ratelimit.NewKey(ratelimit.Pace{Every: every}, "inst", "paced"))
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
	table := plugin(t)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				other := table.For("inst-"+strconv.Itoa(g), "POST", tgURL("sendMessage"), jsonHeader(), []byte(`{"chat_id":`+strconv.Itoa(i)+`}`))
				l.Observe(other, 503, http.Header{"Retry-After": {"1"}}, nil)
				_, _ = l.Reserve(time.Now(), other)
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
	l := ratelimit.New(ratelimit.Config{})
	d := jiraDest(b, "inst")
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Wait(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFor_TelegramJSON(b *testing.B) {
	table, u, h, body := plugin(b), tgURL("sendMessage"), jsonHeader(), []byte(`{"chat_id":1001,"text":"hello there","parse_mode":"HTML"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = table.For("inst", "POST", u, h, body)
	}
}
