package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/ratelimit"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// members starts counting the members of the test cluster through n's
// connection, as a host node does.
func (c *testCluster) members(n *node) *Members {
	m := WatchMembers(n.db.Client(), Config{Prefix: c.prefix + "cluster/"})
	c.t.Cleanup(m.Close)
	return m
}

func waitCount(t *testing.T, m *Members, want int, what string) {
	t.Helper()
	waitfor.Until(t, 0, what, func() string {
		if got := m.Count(); got != want {
			return fmt.Sprintf("count %d, want %d", got, want)
		}
		return ""
	})
}

func TestMembers_CountFollowsNodesJoiningLeavingAndDying(t *testing.T) {
	c := newTestCluster(t, 3)
	a := c.join(nil, queue.Config{})
	ma := c.members(a)
	waitCount(t, ma, 1, "a alone")
	b := c.join(nil, queue.Config{})
	mb := c.members(b)
	waitCount(t, ma, 2, "a sees b join")
	waitCount(t, mb, 2, "b reads both")
	d := c.join(nil, queue.Config{})
	waitCount(t, ma, 3, "a sees d join")
	if err := d.claim.Close(); err != nil {
		t.Fatal(err)
	}
	waitCount(t, ma, 2, "a sees d leave")
	waitCount(t, mb, 2, "b sees d leave")
	b.die() // no renewals: b's member key goes with its lease, after the TTL
	waitCount(t, ma, 1, "a sees b's lease expire")
}

// floodCounter is a TLS server on loopback that counts the requests of
// each node (the X-Node header).
type floodCounter struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]int
}

func newFloodCounter(t *testing.T) *floodCounter {
	f := &floodCounter{got: map[string]int{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.got[r.Header.Get("X-Node")]++
		f.mu.Unlock()
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *floodCounter) counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(map[string]int, len(f.got))
	for k, v := range f.got {
		c[k] = v
	}
	clear(f.got)
	return c
}

// flood sends d's requests through l from node as fast as l lets them go,
// from many senders at once, and stops at end: a request whose turn came
// after end is not sent. Its turn was then reserved after end, so what the
// server counts is what l allowed from the flood's start to end, however
// late the machine ran the senders.
func (f *floodCounter) flood(t *testing.T, l *ratelimit.Limiter, d ratelimit.Destination, node string, end time.Time) {
	const senders = 24
	client := f.srv.Client()
	var wg sync.WaitGroup
	var failed atomic.Value
	for range senders {
		wg.Go(func() {
			for {
				err := l.Wait(context.Background(), d)
				var we *ratelimit.WaitError
				if errors.As(err, &we) {
					continue // longer than MaxWait: nothing taken; ask again
				}
				if err != nil {
					failed.Store(err)
					return
				}
				if time.Now().After(end) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/bot1/sendMessage", nil)
				req.Header.Set("X-Node", node)
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
}

// Two host nodes on one etcd cluster pace one bot by one rule, each at its
// share from the live member count: together they never send more than the
// rule allows. When one leaves, the other gets the whole rate.
func TestShare_TwoNodesKeepOneBotsLimitAndTheLastGetsTheWholeRate(t *testing.T) {
	// 20/s with bursts of 40: in a window W, at most 40 + 20 W requests.
	// The bursts make the test robust on a loaded machine: a node at half
	// its share still sends 20 at once, a node alone 40.
	pace := ratelimit.Pace{Every: 50 * time.Millisecond, Burst: 40}
	table, err := ratelimit.NewTable([]ratelimit.Spec{{Host: "api.telegram.org", Path: "/bot{bot}/{method}", Key: []string{"path.bot"}, Pace: pace}})
	if err != nil {
		t.Fatal(err)
	}
	bot := func(n string) ratelimit.Destination {
		u, _ := url.Parse("https://api.telegram.org/bot" + n + "/sendMessage")
		return table.For("inst", http.MethodPost, u, http.Header{}, nil)
	}
	const window = 2 * time.Second
	most := pace.Burst + int(window/pace.Every) // 80
	half := pace.Burst/2 + int(window/(2*pace.Every))

	c := newTestCluster(t, 3)
	a, b := c.join(nil, queue.Config{}), c.join(nil, queue.Config{})
	ma, mb := c.members(a), c.members(b)
	waitCount(t, ma, 2, "a sees both")
	waitCount(t, mb, 2, "b sees both")
	la := ratelimit.New(ratelimit.Config{Nodes: ma.Count})
	lb := ratelimit.New(ratelimit.Config{Nodes: mb.Count})
	f := newFloodCounter(t)

	end := time.Now().Add(window)
	var wg sync.WaitGroup
	wg.Go(func() { f.flood(t, la, bot("1"), "a", end) })
	wg.Go(func() { f.flood(t, lb, bot("1"), "b", end) })
	wg.Wait()
	got := f.counts()
	t.Logf("two nodes in %v: a %d, b %d; the rule allows %d", window, got["a"], got["b"], most)
	if total := got["a"] + got["b"]; total > most {
		t.Fatalf("two nodes sent %d in %v together; the rule allows %d", total, window, most)
	}
	for _, n := range []string{"a", "b"} {
		if got[n] < pace.Burst/2 {
			t.Fatalf("node %s sent %d; its share's burst alone is %d", n, got[n], pace.Burst/2)
		}
	}

	// b leaves: a's share grows to the whole rule, read from its watch.
	if err := b.claim.Close(); err != nil {
		t.Fatal(err)
	}
	waitCount(t, ma, 1, "a sees b leave")
	f.flood(t, la, bot("2"), "a", time.Now().Add(window))
	got = f.counts()
	t.Logf("one node in %v: %d; half a share allows %d, the rule %d", window, got["a"], half, most)
	if got["a"] > most {
		t.Fatalf("the node left sent %d in %v; the rule allows %d", got["a"], window, most)
	}
	if got["a"] <= half {
		t.Fatalf("the node left sent %d in %v, no more than half the rule allows (%d): its share did not grow", got["a"], window, half)
	}
}
