package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Config describes one run. Every connection sends one request, waits for
// its response, and repeats (closed loop) until Duration has passed.
type Config struct {
	Addr     string      // host:port
	TLS      *tls.Config // required
	Conns    int         // connections held open at once; default 64
	Duration time.Duration
	// Warmup runs before measuring; its requests are not counted. Default 0.
	Warmup time.Duration
	// Requests are complete raw HTTP/1.1 requests; connection i sends
	// Requests[i % len(Requests)].
	Requests [][]byte
	// Interval, when set, paces each connection to at most one request per
	// Interval (an open-ish loop); zero sends back to back.
	Interval time.Duration
	// DialParallelism bounds concurrent handshakes while connecting. Default 64.
	DialParallelism int
	// Timeout bounds one request/response exchange. Default 10 s.
	Timeout time.Duration
}

// Result is what a run measured.
type Result struct {
	Conns     int           // connections established
	Requests  int64         // responses received during the measured window
	Status    map[int]int64 // responses by status code
	Errors    int64         // failed dials, writes, reads and malformed responses
	Reconnect int64         // connections the server closed and the client reopened
	Samples   []string      // the first few error texts
	Elapsed   time.Duration // the measured window
	P50, P90  time.Duration
	P99, Max  time.Duration
}

// RPS is responses per second over the measured window.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

func (r Result) String() string {
	return fmt.Sprintf("conns=%d requests=%d rps=%.0f p50=%v p90=%v p99=%v max=%v errors=%d reconnects=%d status=%v",
		r.Conns, r.Requests, r.RPS(), r.P50, r.P90, r.P99, r.Max, r.Errors, r.Reconnect, r.Status)
}

type worker struct {
	lat       []int32 // microseconds
	status    map[int]int64
	errors    int64
	reconnect int64
	samples   []string
}

func (w *worker) fail(err error) {
	w.errors++
	if len(w.samples) < 3 {
		w.samples = append(w.samples, err.Error())
	}
}

// Run connects Conns connections, then drives them for Warmup+Duration.
// It returns early with what it has if ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.TLS == nil || len(cfg.Requests) == 0 || cfg.Duration <= 0 {
		return Result{}, errors.New("load: TLS, Requests and Duration are required")
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 64
	}
	if cfg.DialParallelism <= 0 {
		cfg.DialParallelism = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	dial := func() (*tls.Conn, error) {
		d := &net.Dialer{Timeout: cfg.Timeout}
		return tls.DialWithDialer(d, "tcp", cfg.Addr, cfg.TLS)
	}

	// Connect everything first, so the measured window sees steady state.
	conns := make([]*tls.Conn, cfg.Conns)
	workers := make([]*worker, cfg.Conns)
	sem := make(chan struct{}, cfg.DialParallelism)
	var wg sync.WaitGroup
	for i := range conns {
		workers[i] = &worker{status: map[int]int64{}}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial()
			if err != nil {
				workers[i].fail(fmt.Errorf("dial: %w", err))
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()

	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	for i := range conns {
		if conns[i] == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			drive(ctx, conns[i], dial, cfg.Requests[i%len(cfg.Requests)], cfg, measureFrom, end, workers[i])
		}()
	}
	wg.Wait()

	res := Result{Status: map[int]int64{}, Elapsed: min(time.Since(measureFrom), cfg.Duration)}
	var all []int32
	for i, w := range workers {
		if conns[i] != nil {
			res.Conns++
		}
		all = append(all, w.lat...)
		for code, n := range w.status {
			res.Status[code] += n
			res.Requests += n
		}
		res.Errors += w.errors
		res.Reconnect += w.reconnect
		for _, s := range w.samples {
			if len(res.Samples) < 5 {
				res.Samples = append(res.Samples, s)
			}
		}
	}
	slices.Sort(all)
	q := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return time.Duration(all[min(len(all)-1, int(p*float64(len(all))))]) * time.Microsecond
	}
	res.P50, res.P90, res.P99 = q(0.50), q(0.90), q(0.99)
	if len(all) > 0 {
		res.Max = time.Duration(all[len(all)-1]) * time.Microsecond
	}
	return res, nil
}

func drive(ctx context.Context, c *tls.Conn, dial func() (*tls.Conn, error), req []byte, cfg Config,
	measureFrom, end time.Time, w *worker) {
	br := bufio.NewReaderSize(c, 16<<10)
	defer func() { c.Close() }()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	for ctx.Err() == nil {
		t0 := time.Now()
		if t0.After(end) {
			return
		}
		_ = c.SetDeadline(t0.Add(cfg.Timeout))
		status, closeConn, err := exchange(c, br, req)
		t1 := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return // the run ended mid-exchange
			}
			w.fail(err)
			closeConn = true
		} else if !t0.Before(measureFrom) {
			w.status[status]++
			w.lat = append(w.lat, int32(min(t1.Sub(t0).Microseconds(), 1<<31-1)))
		}
		if closeConn {
			c.Close()
			nc, err := dial()
			if err != nil {
				w.fail(fmt.Errorf("redial: %w", err))
				return
			}
			w.reconnect++
			c = nc
			br.Reset(c)
			stop()
			stop = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
		}
		if cfg.Interval > 0 {
			if d := cfg.Interval - time.Since(t0); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		}
	}
}

// exchange writes req and reads one response with a Content-Length or
// chunked body.
func exchange(c net.Conn, br *bufio.Reader, req []byte) (status int, closeConn bool, err error) {
	if _, err := c.Write(req); err != nil {
		return 0, true, fmt.Errorf("write: %w", err)
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, true, fmt.Errorf("read status: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, true, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, true, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := -1, false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return status, true, fmt.Errorf("read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return status, true, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeConn = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return status, true, fmt.Errorf("read chunk: %w", err)
			}
			n, err := strconv.ParseInt(string(bytes.TrimRight(line, "\r\n")), 16, 64)
			if err != nil {
				return status, true, fmt.Errorf("bad chunk size %q", line)
			}
			if _, err := br.Discard(int(n) + 2); err != nil {
				return status, true, fmt.Errorf("read chunk: %w", err)
			}
			if n == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := br.Discard(length); err != nil {
			return status, true, fmt.Errorf("read body: %w", err)
		}
	default:
		if _, err := io.Copy(io.Discard, br); err != nil {
			return status, true, err
		}
		closeConn = true
	}
	return status, closeConn, nil
}
