package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what a load run measured.
type Result struct {
	Sent, OK int
	// Failed counts transport errors and answers other than 200.
	Failed  int
	Elapsed time.Duration
	// Latencies of the 200 answers, sorted.
	Latencies []time.Duration
}

// Rate is the answered requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Quantile returns the q-quantile (0..1) of the latencies.
func (r Result) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.Latencies)-1))
	return r.Latencies[i]
}

// Updates makes Telegram text updates for a stack's installations: each
// has its own update ids and a pool of chats, so that most updates are
// follow-ups (Jira comments) and the first of each chat opens a request.
type Updates struct {
	s     *Stack
	chats int
	seq   atomic.Int64
}

// NewUpdates spreads updates over chats chats per installation.
func NewUpdates(s *Stack, chats int) *Updates {
	u := &Updates{s: s, chats: max(chats, 1)}
	u.seq.Store(1_000_000)
	return u
}

// Request returns the next update as a webhook POST.
func (u *Updates) Request(ctx context.Context) (*http.Request, error) {
	n := u.seq.Add(1)
	in := u.s.Installs[int(n)%len(u.s.Installs)]
	chat := 7_000_000_000 + int64(int(n)/len(u.s.Installs)%u.chats)
	user := map[string]any{"id": chat, "is_bot": false, "first_name": "Bench", "last_name": "Customer", "language_code": "en"}
	body, err := json.Marshal(map[string]any{
		"update_id": n,
		"message": map[string]any{
			"message_id": n, "from": user, "date": time.Now().Unix(), "text": "benchmark message " + strconv.FormatInt(n, 10),
			"chat": map[string]any{"id": chat, "type": "private", "first_name": "Bench", "last_name": "Customer"},
		},
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", in.SecretToken)
	return req, nil
}

// recorder collects the outcomes of concurrent requests.
type recorder struct {
	mu   sync.Mutex // guards res
	res  Result
	fail error // the first failure, for the message
}

func (r *recorder) do(c *http.Client, req *http.Request, start time.Time) {
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	d := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Sent++
	if err != nil {
		r.res.Failed++
		if r.fail == nil {
			r.fail = err
		}
		return
	}
	r.res.OK++
	r.res.Latencies = append(r.res.Latencies, d)
}

func (r *recorder) result(elapsed time.Duration) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.res
	res.Elapsed = elapsed
	slices.Sort(res.Latencies)
	if r.fail != nil {
		return res, fmt.Errorf("stack: %d of %d requests failed, first: %w", res.Failed, res.Sent, r.fail)
	}
	return res, nil
}

// Closed runs conns clients that each send the next request as soon as the
// last is answered, for d: the most the server sustains at that concurrency.
func Closed(ctx context.Context, c *http.Client, next func(context.Context) (*http.Request, error), conns int, d time.Duration) (Result, error) {
	var rec recorder
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) && ctx.Err() == nil {
				req, err := next(ctx)
				if err != nil {
					return
				}
				rec.do(c, req, time.Now())
			}
		}()
	}
	wg.Wait()
	return rec.result(time.Since(start))
}

// Open sends rate requests per second for d whatever the answers, each
// timed from when it was due (so a stall counts against the latency of
// every request it delays), with at most limit outstanding.
func Open(ctx context.Context, c *http.Client, next func(context.Context) (*http.Request, error), rate int, d time.Duration, limit int) (Result, error) {
	var rec recorder
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	n := int(d / interval)
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		if ctx.Err() != nil {
			break
		}
		req, err := next(ctx)
		if err != nil {
			return Result{}, err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rec.do(c, req, due)
		}()
	}
	wg.Wait()
	return rec.result(time.Since(start))
}
