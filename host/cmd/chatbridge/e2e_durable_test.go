package main

// Durability scenarios of issue #6: outages of Jira and Telegram, the host
// killed with SIGKILL, and load with duplicate deliveries. The killed host
// is the chatbridge binary the tests build, run as `chatbridge dev -sims`
// against simulators in the test process, so the simulated services keep
// their state (and Telegram keeps retrying) while the host is down.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/bundle/bundletest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// testSeed is the seed of a test's random choices: CHATBRIDGE_SEED when set,
// else the clock; logged either way, so a failing run can be repeated.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CHATBRIDGE_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CHATBRIDGE_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d (repeat with CHATBRIDGE_SEED=%d)", seed, seed)
	return seed
}

// positions says where each text landed in r: 0 for the description, i for
// comment i, -1 when nowhere.
func positions(r stacktest.JiraRequest, texts []string) []int {
	var at []int
	for _, text := range texts {
		p := -1
		if strings.Contains(r.Description, text) {
			p = 0
		}
		for i, c := range r.Comments {
			if p < 0 && strings.Contains(c.Body, text) {
				p = i + 1
			}
		}
		at = append(at, p)
	}
	return at
}

// conversationCheck reports what is wrong with the requests of chats (their
// markers must need no wiki escaping, and no text may be a prefix of
// another): each
// chat must have exactly one request holding its messages, each exactly
// once and in the order written ("" when all is well).
func conversationCheck(reqs []stacktest.JiraRequest, chats map[string][]string) string {
	byChat := map[string][]stacktest.JiraRequest{}
	for _, r := range reqs {
		for marker := range chats {
			if strings.Contains(r.Description, marker+" ") || strings.Contains(r.Summary, marker+" ") {
				byChat[marker] = append(byChat[marker], r)
			}
		}
	}
	missing := 0
	for marker, texts := range chats {
		rs := byChat[marker]
		switch {
		case len(rs) == 0:
			missing++
			continue
		case len(rs) > 1:
			return fmt.Sprintf("chat %s has %d requests", marker, len(rs))
		}
		r := rs[0]
		// Where each text landed: 0 for the description, i for comment i.
		last := -1
		for _, text := range texts {
			at := -1
			n := 0
			if strings.Contains(r.Description, text) {
				at, n = 0, 1
			}
			for i, c := range r.Comments {
				if strings.Contains(c.Body, text) {
					if at < 0 {
						at = i + 1
					}
					n++
				}
			}
			switch {
			case n == 0:
				return fmt.Sprintf("%s: %q not delivered yet (summary %q, %d comments)", r.Key, text, r.Summary, len(r.Comments))
			case n > 1:
				return fmt.Sprintf("%s: %q delivered %d times", r.Key, text, n)
			case at < last:
				return fmt.Sprintf("%s: %q out of order; the chat's texts are at %v (0: the description, i: comment i)", r.Key, text, positions(r, texts))
			}
			last = at
		}
	}
	if missing > 0 {
		return fmt.Sprintf("%d chats have no request yet", missing)
	}
	return ""
}

func TestE2E_JiraDownThenUpDeliversEveryMessageOnceInOrder(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Fail(t, map[string]any{"service": "jira", "match": "*", "status": 503, "count": -1})
	const nChats, perChat = 12, 5
	chats := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range nChats {
		wg.Go(func() {
			chat := stacktest.NewChat()
			marker := fmt.Sprintf("outage%dx%d", c, chat)
			var texts []string
			for i := range perChat {
				text := fmt.Sprintf("%s message %03d", marker, i)
				texts = append(texts, text)
				// Acknowledged at once: Jira is not called at the webhook.
				s.Say(t, chat, text)
			}
			mu.Lock()
			chats[marker] = texts
			mu.Unlock()
		})
	}
	wg.Wait()
	// Jira stays down until every chat's first message has been tried
	// against it (the simulator counts refused calls too), so the check
	// below sees attempts that failed, not attempts not yet made.
	waitfor.Until(t, 90*time.Second, "every chat's first message tried against the failing Jira", func() string {
		var tried int64
		for _, n := range s.JiraStats(t).Requests {
			tried += n
		}
		if tried < nChats {
			return fmt.Sprintf("%d Jira calls so far, want at least %d", tried, nChats)
		}
		return ""
	})

	if n := len(s.Requests(t)); n != 0 {
		t.Fatalf("%d requests created while Jira was down", n)
	}
	s.Call(t, "DELETE", "/_sim/fail", nil, nil, http.StatusNoContent)
	waitfor.Until(t, 90*time.Second, "every message in Jira once, in order", func() string {
		return conversationCheck(s.Requests(t), chats)
	})

	s.Stable(t, "no late duplicate", func() string { return conversationCheck(s.Requests(t), chats) })
	if st := s.JiraStats(t); st.EarlyRetries != 0 {
		t.Errorf("%d Jira calls before their Retry-After", st.EarlyRetries)
	}
}

func TestE2E_TelegramRateLimitsAndErrorsStillDeliverRepliesOnceInOrder(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	const nChats, perChat = 4, 3
	type conv struct {
		chat int64
		key  string
	}
	var convs []conv
	for c := range nChats {
		chat := stacktest.NewChat()
		r := s.Opened(t, chat, fmt.Sprintf("Please call me back falcon%d", c))
		convs = append(convs, conv{chat, r.Key})
	}
	// Telegram throttles the bot, then errs, then throttles again.
	s.Fail(t, map[string]any{"service": "telegram", "match": "sendMessage", "status": 429, "retry_after": 2, "count": 2})
	for i := range perChat {
		for _, c := range convs {
			s.Reply(t, c.key, fmt.Sprintf("Reply %d to %s", i, c.key))
		}
		if i == 0 {
			s.Call(t, "POST", "/_sim/fail", map[string]any{"service": "telegram", "match": "sendMessage", "status": 500, "count": 3}, nil, http.StatusOK)
		}
	}
	check := func() string {
		for _, c := range convs {
			var got []string
			for _, m := range s.Messages(t, c.chat) {
				if strings.HasPrefix(m.Plain, "Reply ") {
					got = append(got, m.Plain)
				}
			}
			var want []string
			for i := range perChat {
				want = append(want, fmt.Sprintf("Reply %d to %s", i, c.key))
			}
			if len(got) < len(want) {
				return fmt.Sprintf("chat of %s got %q so far", c.key, got)
			}
			if !slices.Equal(got, want) {
				return fmt.Sprintf("chat of %s got %q, want %q once each in order", c.key, got, want)
			}
		}
		return ""
	}
	waitfor.Until(t, 90*time.Second, "every reply once, in order", check)
	s.Stable(t, "no late duplicate", check)
	st := s.TelegramStats(t)
	if st.EarlyRetries != 0 {
		t.Errorf("%d Telegram calls were made before their retry_after", st.EarlyRetries)
	}
	// Every injected failure was a sendMessage that did not arrive.
	delivered := 0
	for _, c := range convs {
		delivered += len(s.Messages(t, c.chat))
	}
	if got := st.Requests["sendMessage"]; got < int64(delivered+5) {
		t.Errorf("%d sendMessage calls for %d delivered: the 5 injected failures did not bite", got, delivered)
	}
}

// killableStack is a dev host in a child process that the test can kill,
// with its simulators in the test process.
type killableStack struct {
	*stacktest.Stack // admin: the simulators' control API
	*hostProcess
	t     *testing.T
	sims  *servedSimulators
	token string
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeTestBundle writes the bridge's manifest and module into a new
// directory, for a host process to sign and load.
func writeTestBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	manifest, err := os.ReadFile(filepath.Join(bundletest.RepoRoot(), "plugin", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "manifest.yml"), manifest)
	writeFile(t, filepath.Join(dir, "plugin.wasm"), bundletest.Module(t, "./plugin"))
	return dir
}

// startTestSimulators serves the simulators from the test process, with a
// dev certificate under data, and returns them and a stack whose calls go
// to their control API.
func startTestSimulators(t *testing.T, data string, out *stacktest.SyncBuffer) (*servedSimulators, *stacktest.Stack) {
	t.Helper()
	sims, simsAddr, err := serveSimulators(data, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sims.shutdown)
	pem, err := os.ReadFile(filepath.Join(data, "dev", "dev-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return sims, &stacktest.Stack{
		Data: data, Log: out, Admin: "http://" + simsAddr,
		Client:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
		Control: stacktest.ControlClient(30*time.Second, sims.token),
	}
}

// loadArgs lift the edge's per-route limits and per-address connection cap
// (the simulators all connect from 127.0.0.1), which would throttle a
// scenario, not the queue.
var loadArgs = []string{"-route-rate", "1e6", "-installation-rate", "1e6", "-conns-per-ip", "4096"}

func startKillable(t *testing.T) *killableStack {
	t.Helper()
	data, bundleDir := t.TempDir(), writeTestBundle(t)
	out := &stacktest.SyncBuffer{}
	sims, stack := startTestSimulators(t, data, out)
	listen, admin := freePort(t), freePort(t)
	args := append([]string{"dev", "-sims", stack.Admin, "-data", data, "-bundle", bundleDir,
		"-listen", listen, "-admin", admin, "-log-level", "info"}, loadArgs...)
	k := &killableStack{t: t, sims: sims, Stack: stack,
		hostProcess: &hostProcess{t: t, args: args, adminURL: "http://" + admin, out: out}}
	k.start()
	k.token = readAdminToken(t, data)
	k.Stack.HostAdmin = &stacktest.HostAdmin{URL: k.hostProcess.adminURL, Token: k.token}
	t.Cleanup(func() {
		k.stop()
		stacktest.CheckJiraCalls(t, k.Stack)
		if t.Failed() {
			t.Logf("host log (end):\n%s", stacktest.Tail(k.out.String(), 20000))
		}
	})
	return k
}

func readAdminToken(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// hostProcess is the chatbridge binary running `dev` in a child process,
// which the test can kill and start again.
type hostProcess struct {
	t        *testing.T
	args     []string
	adminURL string // base URL of its admin listener
	out      *stacktest.SyncBuffer
	cmd      *exec.Cmd
	exited   chan struct{}
	starts   int
}

// start runs the host and waits until it has configured the dev project.
func (k *hostProcess) start() {
	t := k.t
	t.Helper()
	k.starts++
	fmt.Fprintf(k.out, "--- start %d\n", k.starts)
	cmd := exec.Command(binary, k.args...)
	stdout := &stacktest.SyncBuffer{}
	cmd.Stdout = io.MultiWriter(stdout, k.out)
	cmd.Stderr = k.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k.cmd, k.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(k.exited)
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(stdout.String(), "dev console:") {
		select {
		case <-k.exited:
			t.Fatalf("the host exited during start %d:\n%s", k.starts, stacktest.Tail(k.out.String(), 4000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host did not get ready (start %d)", k.starts)
		}
	}
}

// kill stops the host with SIGKILL: no drain, no flush.
func (k *hostProcess) kill() {
	_ = k.cmd.Process.Signal(syscall.SIGKILL)
	<-k.exited
}

func (k *hostProcess) stop() {
	if k.cmd == nil {
		return
	}
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(30 * time.Second):
		k.kill()
	}
}

// queueState is the host's GET /admin/queue.
type queueState struct {
	Stats struct {
		Pending     int64 `json:"pending"`
		DeadLetters int64 `json:"deadLetters"`
		Retried     int64 `json:"retried"`
	} `json:"stats"`
	DeadLetters []struct {
		ID        string `json:"id"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"lastError"`
	} `json:"deadLetters"`
}

func (k *killableStack) queue() queueState {
	var q queueState
	if code := stacktest.AdminCall(k.t, k.adminURL, k.token, "GET", "/admin/queue", &q); code != http.StatusOK {
		k.t.Fatalf("GET /admin/queue: %d", code)
	}
	return q
}

// trySay is say for a host that may be down, and for goroutines other than
// the test's: the simulator answers at once and keeps retrying a failed
// delivery, as Telegram does.
func (k *killableStack) trySay(chat int64, text string) error {
	_, err := k.SendErr(stacktest.UserMsg{ChatID: chat, Text: text, FirstName: "Kim"})
	return err
}

// heavyScenario keeps a scenario out of the race detector's run: make test
// runs every heavy scenario once more without -race, in a step of its own
// (TestEveryHeavyScenarioRunsInMakeTest keeps the Makefile's list whole).
func heavyScenario(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("make test runs this scenario without -race, in its own step")
	}
}

func TestE2E_HostKilledWithSIGKILLLosesAndDoublesNothing(t *testing.T) {
	heavyScenario(t)
	k := startKillable(t)
	const nChats, rounds = 200, 10
	var (
		mu    sync.Mutex
		chats = map[string][]string{}
		stop  atomic.Bool
		wg    sync.WaitGroup
		sent  atomic.Int64
	)
	for c := range nChats {
		wg.Go(func() {
			chat := stacktest.NewChat()
			marker := fmt.Sprintf("kill%dx%d", c, chat)
			rng := rand.New(rand.NewPCG(uint64(chat), 7))
			for i := 0; i < 10 && !stop.Load(); i++ {
				text := fmt.Sprintf("%s says %03d", marker, i)
				if err := k.trySay(chat, text); err != nil {
					t.Errorf("chat %s: %v", marker, err)
					return
				}
				sent.Add(1)
				mu.Lock()
				chats[marker] = append(chats[marker], text)
				mu.Unlock()
				time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
			}
		})
	}
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	for r := range rounds {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		k.kill()
		t.Logf("round %d: killed with %d messages sent", r+1, sent.Load())
		k.start()
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d messages from %d chats across %d kills", sent.Load(), nChats, rounds)
	waitfor.Until(t, 4*time.Minute, "every message in Jira once, in order", func() string {
		return conversationCheck(k.Requests(t), chats)
	})

	if st := k.TelegramStats(t); st.Dropped != 0 {
		t.Errorf("Telegram gave up on %d updates", st.Dropped)
	}
	waitfor.Until(t, time.Minute, "an empty queue", func() string {
		q := k.queue()
		if q.Stats.Pending != 0 || q.Stats.DeadLetters != 0 {
			return fmt.Sprintf("%+v", q)
		}
		return ""
	})

}

func TestE2E_DeadLetterIsListedCountedAndReplays(t *testing.T) {
	t.Parallel()
	k := startKillable(t)
	k.stop()
	k.args = append(k.args, "-queue-attempts", "2")
	k.start()
	// Jira refuses every request: the bridge's retries run out quickly.
	k.Fail(t, map[string]any{"service": "jira", "match": "POST /rest/servicedeskapi/request", "status": 500, "count": -1})
	chat := stacktest.NewChat()
	res, err := k.SendErr(stacktest.UserMsg{ChatID: chat, Text: "dead letter heron7 please", FirstName: "Kim"})
	if err != nil || res.Status != http.StatusOK {
		var hook map[string]any
		k.Call(t, "GET", "/_sim/telegram/webhook", nil, &hook, http.StatusOK)
		t.Fatalf("delivery: %+v %v; webhook %v", res, err, hook)
	}
	var q queueState
	waitfor.Until(t, time.Minute, "a dead letter", func() string {
		q = k.queue()
		if len(q.DeadLetters) != 1 {
			return fmt.Sprintf("%+v", q)
		}
		return ""
	})

	if d := q.DeadLetters[0]; d.Attempts != 2 {
		t.Fatalf("dead letter %+v", d)
	}
	var raw json.RawMessage
	stacktest.AdminCall(t, k.adminURL, k.token, "GET", "/admin/queue", &raw)
	if s := string(raw); strings.Contains(s, "heron7") || strings.Contains(s, strconv.FormatInt(chat, 10)) {
		t.Fatalf("the admin API shows the message or its chat: %s", s)
	}
	metrics := func() string {
		resp, err := http.Get(k.adminURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if m := metrics(); !strings.Contains(m, "chatbridge_queue_dead_letters 1\n") || !strings.Contains(m, "chatbridge_queue_dead_lettered_total 1\n") {
		t.Fatalf("metrics lack the dead letter:\n%s", m)
	}
	// The customer heard that the message did not arrive (the last attempt).
	waitfor.Until(t, stacktest.Wait, "the failure notice", func() string {
		if len(k.Messages(t, chat)) == 0 {
			return "none"
		}
		return ""
	})

	// Fixed: the replay delivers it.
	k.Call(t, "DELETE", "/_sim/fail", nil, nil, http.StatusNoContent)
	if code := stacktest.AdminCall(t, k.adminURL, k.token, "POST", "/admin/queue/dead/"+q.DeadLetters[0].ID+"/replay", nil); code != http.StatusNoContent {
		t.Fatalf("replay: %d", code)
	}
	if code := stacktest.AdminCall(t, k.adminURL, k.token, "POST", "/admin/queue/dead/"+q.DeadLetters[0].ID+"/replay", nil); code != http.StatusNotFound {
		t.Fatalf("second replay: %d", code)
	}
	k.WaitRequest(t, "heron7")
	if m := metrics(); !strings.Contains(m, "chatbridge_queue_dead_letters 0\n") {
		t.Fatalf("metrics after the replay:\n%s", m)
	}
}

// TestE2E_LoadWithDuplicates is the load scenario of issue #6: chats x
// messages, interleaved, with a share of the deliveries sent twice (as a
// messenger retrying does). CHATBRIDGE_LOAD_CHATS and CHATBRIDGE_LOAD_MSGS
// scale it; make test runs the 1,000 x 20 (without -race).
func TestE2E_LoadWithDuplicates(t *testing.T) {
	heavyScenario(t)
	nChats, perChat := envInt("CHATBRIDGE_LOAD_CHATS", 100), envInt("CHATBRIDGE_LOAD_MSGS", 20)
	// The edge's per-route limit (20/s) would measure the limiter, and its
	// per-address connection cap would refuse the simulators, which all
	// connect from 127.0.0.1.
	s := stacktest.StartWith(t, func(c *stack.Config) {
		c.Node.Edge.RouteRate, c.Node.Edge.InstallationRate, c.Node.Edge.ConnsPerIP = 1e6, 1e6, 4096
	})
	l := sendLoad(t, s, nChats, perChat, nil)
	l.finish(t, s, "load", 3*time.Minute)
}

// load is one run of the load scenario: what was sent, and how fast.
type load struct {
	nChats, perChat int
	chats           map[string][]string // marker -> texts, in the order written
	start           time.Time
	acked           time.Duration // until the last delivery was answered
	latencies       []time.Duration
	dups, unacked   int64
	// updates maps each text to its Telegram update id, for diagnosis.
	updates map[string]int64
}

// sendLoad sends nChats x perChat messages, interleaved (every chat's first
// message, then every chat's second...), from 32 senders, one message of a
// chat at a time, and sends one in ten again as Telegram retrying would.
// progress, when set, is told each message sent.
func sendLoad(t *testing.T, s *stacktest.Stack, nChats, perChat int, progress func(sent int)) *load {
	hook := s.TelegramWebhook(t)
	type chatState struct {
		id     int64
		marker string
		texts  []string
	}
	all := make([]*chatState, nChats)
	for c := range all {
		id := stacktest.NewChat()
		all[c] = &chatState{id: id, marker: fmt.Sprintf("load%dx%d", c, id)}
	}
	type job struct {
		c *chatState
		i int
	}
	jobs := make(chan job)
	go func() {
		defer close(jobs)
		for i := range perChat {
			for _, c := range all {
				jobs <- job{c, i}
			}
		}
	}()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		dups      atomic.Int64
		unacked   atomic.Int64 // first deliveries the edge did not answer 200
		sent      atomic.Int64
		chatLocks = make([]sync.Mutex, nChats)
		updates   = map[string]int64{}
		index     = map[*chatState]int{}
		wg        sync.WaitGroup
	)
	for i, c := range all {
		index[c] = i
	}
	seed := testSeed(t)
	start := time.Now()
	for w := range 32 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed+uint64(w), 3))
			for j := range jobs {
				lock := &chatLocks[index[j.c]]
				lock.Lock()
				text := fmt.Sprintf("%s line %03d", j.c.marker, j.i)
				t0 := time.Now()
				res, err := s.SendErr(stacktest.UserMsg{ChatID: j.c.id, Text: text, FirstName: "Lee"})
				d := time.Since(t0)
				switch {
				case err != nil:
					t.Errorf("sending %q: %v", text, err)
				case res.Status != http.StatusOK:
					// Not acknowledged at once: the simulator redelivers it, as
					// Telegram does, and the check waits for it.
					unacked.Add(1)
				}
				j.c.texts = append(j.c.texts, text)
				if err == nil && res.Status == http.StatusOK && rng.IntN(10) == 0 {
					// The same update again, as Telegram retrying would send it:
					// only once delivered, for Telegram sends a chat's updates in
					// order, and a copy of one still waiting would overtake it.
					body := stacktest.TelegramUpdate(res.UpdateID, res.MessageID, j.c.id, text)
					if code, _ := s.PostPublicErr(hook.URL, body, map[string]string{"X-Telegram-Bot-Api-Secret-Token": hook.SecretToken}); code == http.StatusOK {
						dups.Add(1)
					}
				}
				lock.Unlock()
				mu.Lock()
				latencies = append(latencies, d)
				updates[text] = res.UpdateID
				mu.Unlock()
				if n := sent.Add(1); progress != nil {
					progress(int(n))
				}
			}
		})
	}
	wg.Wait()
	l := &load{nChats: nChats, perChat: perChat, chats: map[string][]string{}, start: start, acked: time.Since(start),
		latencies: latencies, dups: dups.Load(), unacked: unacked.Load(), updates: updates}
	for _, c := range all {
		l.chats[c.marker] = c.texts
	}
	return l
}

// missing lists the texts that are in no request of s, with their update ids.
func (l *load) missing(t *testing.T, s *stacktest.Stack) map[string]int64 {
	var all strings.Builder
	for _, r := range s.Requests(t) {
		all.WriteString(r.Description)
		for _, c := range r.Comments {
			all.WriteString(c.Body)
		}
	}
	got := all.String()
	out := map[string]int64{}
	for _, texts := range l.chats {
		for _, text := range texts {
			if !strings.Contains(got, text) {
				out[text] = l.updates[text]
			}
		}
	}
	return out
}

// finish waits until every message is in Jira once, in order, checks the
// counts, and logs the run's numbers under name.
func (l *load) finish(t *testing.T, s *stacktest.Stack, name string, wait time.Duration) {
	t.Helper()
	waitfor.Until(t, wait, "every message in Jira once, in order", func() string {
		return conversationCheck(s.Requests(t), l.chats)
	})

	done := time.Since(l.start)
	var comments, requests int
	for _, r := range s.Requests(t) {
		for marker := range l.chats {
			if strings.Contains(r.Description, marker+" ") {
				requests++
				comments += len(r.AppComments(true))
			}
		}
	}
	if requests != l.nChats || comments != l.nChats*(l.perChat-1) {
		t.Fatalf("%d requests and %d comments, want %d and %d", requests, comments, l.nChats, l.nChats*(l.perChat-1))
	}
	sort.Slice(l.latencies, func(i, j int) bool { return l.latencies[i] < l.latencies[j] })
	pct := func(p float64) time.Duration { return l.latencies[int(p*float64(len(l.latencies)-1))] }
	n := l.nChats * l.perChat
	t.Logf("%s: %d chats x %d messages (+%d duplicates accepted, %d first deliveries redelivered by the simulator): %d requests, %d comments; all sent in %v (%.0f deliveries/s), webhook ack p50 %v p99 %v; all in Jira after %v (%.0f messages/s end to end)",
		name, l.nChats, l.perChat, l.dups, l.unacked, requests, comments, l.acked.Round(time.Millisecond), float64(n)/l.acked.Seconds(),
		pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), done.Round(time.Millisecond), float64(n)/done.Seconds())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
