package realtime

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Errors of the Hub. The capability maps them to the contract's codes,
// the edge to HTTP statuses.
var (
	// ErrInvalid: a channel, origin or lifetime outside the contract.
	ErrInvalid = errors.New("realtime: invalid argument")
	// ErrTooLarge: a payload over Limits.PayloadBytes.
	ErrTooLarge = errors.New("realtime: payload over the limit")
	// ErrRate: over Limits.OperationsPerSecond.
	ErrRate = errors.New("realtime: operations over the rate limit")
	// ErrTooMany: a subscriber limit is reached.
	ErrTooMany = errors.New("realtime: subscriber limit reached")
	// ErrToken: a token that is malformed, forged, expired, or whose
	// installation is gone.
	ErrToken = errors.New("realtime: token not valid")
	// ErrOrigin: the subscriber's origin is not the token's.
	ErrOrigin = errors.New("realtime: origin not allowed by the token")
)

// Limits bound one installation. The zero value of each field means the
// manifest's default (bundle.Manifest.RealtimeLimits).
type Limits struct {
	PayloadBytes               int
	OperationsPerSecond        int
	SubscribersPerInstallation int
	SubscribersPerAddress      int
}

func (l Limits) withDefaults() Limits {
	if l.PayloadBytes <= 0 || l.PayloadBytes > abi.MaxRealtimePayloadLen {
		l.PayloadBytes = abi.MaxRealtimePayloadLen
	}
	if l.OperationsPerSecond <= 0 || l.OperationsPerSecond > abi.RealtimeOpsPerSecond {
		l.OperationsPerSecond = abi.RealtimeOpsPerSecond
	}
	if l.SubscribersPerInstallation <= 0 {
		l.SubscribersPerInstallation = 2000
	}
	if l.SubscribersPerAddress <= 0 {
		l.SubscribersPerAddress = 8
	}
	return l
}

// Config configures a Hub. Store is required.
type Config struct {
	// Store keeps each installation's signing key, sealed.
	Store storage.Store
	// Buffer is how many published payloads wait for one slow subscriber
	// before it is dropped. Default 32.
	Buffer int
	// Logger receives structured logs: never a token, a channel name or a
	// payload. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of expiries and rates. Default time.Now.
	Now func() time.Time
}

// keyName is the signing key's record, in the installation's Registry
// keyspace: the module cannot reach it (it sees only KVS and Secret).
const keyName = "realtime:signing-key"

// Claims are what a token grants.
type Claims struct {
	Installation string
	Channel      string
	// Origin is the one page origin allowed to subscribe, or "" for a
	// subscriber that sends no Origin header.
	Origin  string
	Expires time.Time
}

type wireClaims struct {
	I string `json:"i"`
	C string `json:"c"`
	O string `json:"o,omitempty"`
	E int64  `json:"e"`
}

// tokenPrefix versions the token format.
const tokenPrefix = "rt1."

// MaxTokenLen bounds a token: the edge refuses a longer one unread.
const MaxTokenLen = 1024

type chanKey struct{ installation, channel string }

type addrKey struct{ installation, addr string }

// bucket is a token bucket of OperationsPerSecond per installation, with a
// burst of the same size.
type bucket struct {
	tokens float64
	last   time.Time
}

// Stats count what the Hub did since it started.
type Stats struct {
	Published, Delivered, Dropped, Refused atomic.Int64
}

// Hub holds the subscriptions of one node. It is safe for concurrent use.
type Hub struct {
	cfg   Config
	stats Stats

	// keysMu guards keys, the signing keys read or made so far.
	keysMu sync.Mutex
	keys   map[string][]byte

	// mu guards limits, subs, perInst, perAddr and buckets.
	mu      sync.Mutex
	limits  Limits
	subs    map[chanKey]map[*Subscription]struct{}
	perInst map[string]int
	perAddr map[addrKey]int
	buckets map[string]*bucket
}

// New returns a Hub with the default limits until SetLimits.
func New(cfg Config) (*Hub, error) {
	if cfg.Store == nil {
		return nil, errors.New("realtime: Config.Store is required")
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 32
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Hub{
		cfg: cfg, keys: map[string][]byte{}, limits: Limits{}.withDefaults(),
		subs: map[chanKey]map[*Subscription]struct{}{}, perInst: map[string]int{},
		perAddr: map[addrKey]int{}, buckets: map[string]*bucket{},
	}, nil
}

// SetLimits makes l the limits from now on (a bundle was loaded);
// subscriptions already open stay.
func (h *Hub) SetLimits(l Limits) {
	h.mu.Lock()
	h.limits = l.withDefaults()
	h.mu.Unlock()
}

// Limits returns the limits in force.
func (h *Hub) Limits() Limits {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.limits
}

// Stats returns the Hub's counters.
func (h *Hub) Stats() *Stats { return &h.stats }

// take spends one operation of installation's rate, or reports ErrRate.
func (h *Hub) take(installation string) error {
	now := h.cfg.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	rate := float64(h.limits.OperationsPerSecond)
	b := h.buckets[installation]
	if b == nil {
		b = &bucket{tokens: rate, last: now}
		h.buckets[installation] = b
	}
	b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		h.stats.Refused.Add(1)
		return ErrRate
	}
	b.tokens--
	return nil
}

// key returns installation's signing key, making it on first use. create
// false only reads: verifying never makes a key.
func (h *Hub) key(ctx context.Context, installation string, create bool) ([]byte, error) {
	h.keysMu.Lock()
	k, ok := h.keys[installation]
	h.keysMu.Unlock()
	if ok {
		return k, nil
	}
	k, err := h.cfg.Store.Get(ctx, installation, storage.Registry, keyName)
	if errors.Is(err, storage.ErrNotFound) && create {
		k, err = h.makeKey(ctx, installation)
	}
	if err != nil {
		return nil, err
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("realtime: signing key of %d bytes: %w", len(k), storage.ErrIntegrity)
	}
	h.keysMu.Lock()
	h.keys[installation] = k
	h.keysMu.Unlock()
	return k, nil
}

// makeKey stores a new key unless another node stored one first, and
// returns the one stored.
func (h *Hub) makeKey(ctx context.Context, installation string) ([]byte, error) {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	if tx, ok := h.cfg.Store.(storage.Transactor); ok {
		err := tx.Transact(ctx, installation, []storage.TxnOp{{Kind: storage.TxnSet, Space: storage.Registry, Key: keyName, Value: k, Cond: storage.IfAbsent}})
		if errors.Is(err, storage.ErrConflict) {
			return h.cfg.Store.Get(ctx, installation, storage.Registry, keyName)
		}
		return k, err
	}
	return k, h.cfg.Store.Set(ctx, installation, storage.Registry, keyName, k, 0)
}

// Forget drops what the Hub holds for an uninstalled installation: its
// key (the store's copy goes with the installation's records) and its
// subscriptions, which end at once.
func (h *Hub) Forget(installation string) {
	h.keysMu.Lock()
	delete(h.keys, installation)
	h.keysMu.Unlock()
	h.mu.Lock()
	var doomed []*Subscription
	for k, set := range h.subs {
		if k.installation == installation {
			for s := range set {
				doomed = append(doomed, s)
			}
		}
	}
	delete(h.buckets, installation)
	h.mu.Unlock()
	for _, s := range doomed {
		s.Close()
	}
}

// Sign returns a token for channel of installation, accepted from origin
// until ttl passes. It counts as one operation of the installation's rate.
func (h *Hub) Sign(ctx context.Context, installation, channel, origin string, ttl time.Duration) (string, error) {
	if installation == "" || abi.ChannelProblem(channel) != "" || abi.OriginProblem(origin) != "" ||
		ttl <= 0 || ttl > abi.MaxRealtimeTokenTTL*time.Second {
		return "", ErrInvalid
	}
	if err := h.take(installation); err != nil {
		return "", err
	}
	k, err := h.key(ctx, installation, true)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(wireClaims{I: installation, C: channel, O: origin, E: h.cfg.Now().Add(ttl).Unix()})
	if err != nil {
		return "", err
	}
	payload := tokenPrefix + base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac(k, payload)), nil
}

func mac(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// ValidTokenShape reports whether s could be a token, without a look-up:
// the prefix, the URL-safe base64 alphabet, one dot, the length bound.
func ValidTokenShape(s string) bool {
	if len(s) > MaxTokenLen || !strings.HasPrefix(s, tokenPrefix) {
		return false
	}
	rest := s[len(tokenPrefix):]
	if strings.Count(rest, ".") != 1 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// Verify checks token's MAC and expiry and returns its claims; anything
// wrong is ErrToken, without saying what.
func (h *Hub) Verify(ctx context.Context, token string) (Claims, error) {
	if !ValidTokenShape(token) {
		return Claims{}, ErrToken
	}
	b64, sigText, _ := strings.Cut(token[len(tokenPrefix):], ".")
	body, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return Claims{}, ErrToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil {
		return Claims{}, ErrToken
	}
	var w wireClaims
	if err := json.Unmarshal(body, &w); err != nil || w.I == "" {
		return Claims{}, ErrToken
	}
	k, err := h.key(ctx, w.I, false)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return Claims{}, ErrToken
	case err != nil:
		return Claims{}, err
	}
	if !hmac.Equal(got, mac(k, tokenPrefix+b64)) {
		return Claims{}, ErrToken
	}
	c := Claims{Installation: w.I, Channel: w.C, Origin: w.O, Expires: time.Unix(w.E, 0)}
	if !h.cfg.Now().Before(c.Expires) || abi.ChannelProblem(c.Channel) != "" {
		return Claims{}, ErrToken
	}
	return c, nil
}

// Subscription is one browser's subscription. Read C until Done is closed;
// Close it when the browser goes.
type Subscription struct {
	// C delivers the published payloads in publish order.
	C <-chan []byte
	// Claims are the token's.
	Claims Claims

	c    chan []byte
	hub  *Hub
	key  chanKey
	addr addrKey
	done chan struct{}
	once sync.Once
}

// Done is closed when the subscription ends: Close, the installation's
// Forget, or the Hub dropping a subscriber that fell behind.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Close ends the subscription; closing twice is harmless.
func (s *Subscription) Close() {
	s.once.Do(func() {
		h := s.hub
		h.mu.Lock()
		if set := h.subs[s.key]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(h.subs, s.key)
			}
		}
		if h.perInst[s.key.installation]--; h.perInst[s.key.installation] <= 0 {
			delete(h.perInst, s.key.installation)
		}
		if h.perAddr[s.addr]--; h.perAddr[s.addr] <= 0 {
			delete(h.perAddr, s.addr)
		}
		h.mu.Unlock()
		close(s.done)
	})
}

// Subscribe verifies token, checks that origin (the request's Origin
// header, "" when it sent none) is the token's, and opens a subscription
// for addr, the client's address, within the installation's limits.
func (h *Hub) Subscribe(ctx context.Context, token, origin, addr string) (*Subscription, error) {
	c, err := h.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if origin != c.Origin {
		h.stats.Refused.Add(1)
		return nil, ErrOrigin
	}
	ch := make(chan []byte, h.cfg.Buffer)
	s := &Subscription{C: ch, Claims: c, c: ch, hub: h, key: chanKey{c.Installation, c.Channel},
		addr: addrKey{c.Installation, addr}, done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perInst[c.Installation] >= h.limits.SubscribersPerInstallation || h.perAddr[s.addr] >= h.limits.SubscribersPerAddress {
		h.stats.Refused.Add(1)
		return nil, ErrTooMany
	}
	h.perInst[c.Installation]++
	h.perAddr[s.addr]++
	set := h.subs[s.key]
	if set == nil {
		set = map[*Subscription]struct{}{}
		h.subs[s.key] = set
	}
	set[s] = struct{}{}
	return s, nil
}

// Subscribers counts installation's open subscriptions on this Hub.
func (h *Hub) Subscribers(installation string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.perInst[installation]
}

// Publish hands payload to every subscription of channel connected now and
// returns how many took it. A subscription whose buffer is full is
// dropped. Nothing is kept.
func (h *Hub) Publish(ctx context.Context, installation, channel string, payload []byte) (int, error) {
	if installation == "" || abi.ChannelProblem(channel) != "" {
		return 0, ErrInvalid
	}
	if len(payload) > h.Limits().PayloadBytes {
		h.stats.Refused.Add(1)
		return 0, ErrTooLarge
	}
	if err := h.take(installation); err != nil {
		return 0, err
	}
	h.stats.Published.Add(1)
	msg := append([]byte(nil), payload...) // the subscribers share one copy
	var slow []*Subscription
	n := 0
	h.mu.Lock()
	for s := range h.subs[chanKey{installation, channel}] {
		select {
		case s.c <- msg:
			n++
		default:
			slow = append(slow, s)
		}
	}
	h.mu.Unlock()
	h.stats.Delivered.Add(int64(n))
	for _, s := range slow {
		h.stats.Dropped.Add(1)
		s.Close()
	}
	if len(slow) > 0 {
		h.cfg.Logger.Warn("realtime: dropped subscribers that fell behind", "installation", installation, "dropped", len(slow))
	}
	return n, nil
}
