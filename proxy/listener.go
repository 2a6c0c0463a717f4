package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// connTracker admits, counts and remembers public connections. It does the
// per-IP and total caps itself, rather than fasthttp's MaxConnsPerIP, so
// that rejections are counted in metrics and so that Shutdown can close
// what is left when its time is up.
type connTracker struct {
	maxConns  int
	maxPerIP  int
	lingerFor time.Duration // how long a lingering close reads
	lingerMax int64         // and how much
	m         *metrics

	mu       sync.Mutex // guards perIP, conns and stopping
	perIP    map[netip.Addr]int
	conns    map[*trackedConn]struct{}
	stopping bool
}

func newConnTracker(maxConns, maxPerIP int, lingerFor time.Duration, lingerMax int64, m *metrics) *connTracker {
	return &connTracker{
		maxConns:  maxConns,
		maxPerIP:  maxPerIP,
		lingerFor: lingerFor,
		lingerMax: lingerMax,
		m:         m,
		perIP:     make(map[netip.Addr]int),
		conns:     make(map[*trackedConn]struct{}),
	}
}

// admit wraps c, or returns the reason to reject it.
func (t *connTracker) admit(c net.Conn) (*trackedConn, int) {
	ip := remoteIP(c)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.stopping:
		return nil, rejectShutdown
	case len(t.conns) >= t.maxConns:
		return nil, rejectMaxConns
	case t.perIP[ip] >= t.maxPerIP:
		return nil, rejectPerIP
	}
	t.perIP[ip]++
	tc := &trackedConn{Conn: c, t: t, ip: ip}
	t.conns[tc] = struct{}{}
	t.m.open.Add(1)
	t.m.accepted.Add(1)
	return tc, 0
}

func (t *connTracker) release(c *trackedConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.conns[c]; !ok {
		return
	}
	delete(t.conns, c)
	if t.perIP[c.ip]--; t.perIP[c.ip] <= 0 {
		delete(t.perIP, c.ip)
	}
	t.m.open.Add(-1)
}

// stop rejects every later connection.
func (t *connTracker) stop() {
	t.mu.Lock()
	t.stopping = true
	t.mu.Unlock()
}

// closeAll closes every open connection; their goroutines then end.
func (t *connTracker) closeAll() {
	t.mu.Lock()
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		_ = c.closeNow()
	}
}

func (t *connTracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// remoteIP keys the per-IP cap: the address without port, IPv4-mapped IPv6
// unmapped so that one client cannot count as two.
func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{} // all unknown addresses share one count
	}
	return ap.Addr().Unmap()
}

type trackedConn struct {
	net.Conn
	t      *connTracker
	ip     netip.Addr
	linger atomic.Bool // set when the server answers before reading the whole request
	once   sync.Once
}

// Close closes the connection. When the server answered an error before the
// client finished sending (an oversize body), it first half-closes and
// reads what the client still sends for a bounded time, as net/http does:
// closing with unread data makes the kernel send a reset, which can destroy
// the error response before the client reads it.
func (c *trackedConn) Close() error {
	if c.linger.Load() {
		c.drain()
	}
	return c.closeNow()
}

func (c *trackedConn) closeNow() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.t.release(c) })
	return err
}

func (c *trackedConn) drain() {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	if c.Conn.SetReadDeadline(time.Now().Add(c.t.lingerFor)) != nil {
		return
	}
	_, _ = io.CopyN(io.Discard, c.Conn, c.t.lingerMax)
}

// lingerAfterError marks the connection under a fasthttp request so that
// closing it drains first.
func lingerAfterError(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*trackedConn); ok {
		tc.linger.Store(true)
	}
}

// trackedListener admits connections through a connTracker. It also
// retries transient accept errors (such as running out of file
// descriptors) with back-off: fasthttp's Serve would return on them and
// take the edge down.
type trackedListener struct {
	net.Listener
	t      *connTracker
	onFail func(error) // transient accept errors, for the log
}

func (l *trackedListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			if l.t.stoppingNow() {
				return nil, net.ErrClosed
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if l.onFail != nil {
				l.onFail(err)
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		tc, reason := l.t.admit(c)
		if tc == nil {
			// Closed before any byte of TLS: the client sees a reset or EOF.
			_ = c.Close()
			l.t.m.rejected[reason].Add(1)
			continue
		}
		return tc, nil
	}
}

func (t *connTracker) stoppingNow() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopping
}
