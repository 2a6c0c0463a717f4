package stack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/capability"
	"github.com/chatbridge/chatbridge/host/hostedge"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/realtime"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/plugin/bridge"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/proxy"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// responseLimit is the host's default cap on one outbound response body.
const responseLimit = 20 << 20

// Native runs the bridge's handlers compiled into this process, on the
// host's backends: it is the "same handler logic built natively" of the
// table's second row. It is a proxy.Backend and the queue's consumer.
type Native struct {
	store     storage.Store
	reg       *tenant.Registry
	http      *http.Client
	queue     *queue.Queue
	manifest  *bundle.Manifest
	publicURL string
	triggers  []string
	realtime  *realtime.Hub
}

var _ proxy.Backend = (*Native)(nil)

// NewNative opens the registry on store and starts the queue.
func NewNative(ctx context.Context, store storage.Store, client *http.Client, m *bundle.Manifest, publicURL string) (*Native, error) {
	reg, err := tenant.Open(ctx, store)
	if err != nil {
		return nil, err
	}
	hub, err := realtime.New(realtime.Config{Store: store})
	if err != nil {
		return nil, err
	}
	n := &Native{store: store, reg: reg, http: client, manifest: m, publicURL: publicURL, realtime: hub}
	for _, w := range m.Modules.WebTrigger {
		n.triggers = append(n.triggers, w.Key)
	}
	if err := reg.EnsureRoutes(ctx, n.triggers); err != nil {
		return nil, err
	}
	var ids []string
	for _, in := range reg.List() {
		ids = append(ids, in.ID)
	}
	if n.queue, err = queue.Open(ctx, store, ids, queueConfig, n.consume, discard); err != nil {
		return nil, err
	}
	n.queue.Start()
	return n, nil
}

// Install creates an installation with routes for the web triggers.
func (n *Native) Install(ctx context.Context, site tenant.Site) (*tenant.Installation, error) {
	in, _, err := n.reg.Create(ctx, site, n.triggers)
	return in, err
}

// Close stops the queue.
func (n *Native) Close() { n.queue.Close() }

// Lookup implements proxy.Backend.
func (n *Native) Lookup(routeID string) (proxy.Target, bool) {
	t, ok := n.reg.Lookup(routeID)
	if !ok || t.Trigger == tenant.JiraEventsRoute {
		return proxy.Target{}, false
	}
	return proxy.Target{Installation: t.Installation, Kind: proxy.WebTrigger, Trigger: t.Trigger}, true
}

// Invoke implements proxy.Backend: the bridge's web trigger handler.
func (n *Native) Invoke(ctx context.Context, t proxy.Target, preq *proxy.Request) (*proxy.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, n.manifest.Timeout(bundle.KindWebTrigger))
	defer cancel()
	env, actx, err := n.env(ctx, t.Installation)
	if err != nil {
		return nil, err
	}
	req := hostedge.ToABI(preq)
	req.Context, req.Trigger = actx, t.Trigger
	resp, err := bridge.Handlers().WebTrigger(env, req)
	if err != nil {
		return nil, sdk.CodeOf(err)
	}
	if resp == nil {
		resp = &abi.Response{Status: 204}
	}
	return hostedge.FromABI(resp), nil
}

// Ready implements proxy.Backend.
func (n *Native) Ready(context.Context) error { return nil }

// WriteMetrics implements proxy.Backend.
func (n *Native) WriteMetrics(io.Writer) error { return nil }

// Resolve calls an admin resolver.
func (n *Native) Resolve(ctx context.Context, id, function string, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, n.manifest.Timeout(bundle.KindFunction))
	defer cancel()
	env, actx, err := n.env(ctx, id)
	if err != nil {
		return nil, err
	}
	out, err := bridge.Handlers().Resolver(env, &abi.ResolverCall{Context: actx, Function: function, Payload: payload})
	if err != nil {
		return nil, sdk.CodeOf(err)
	}
	return out, nil
}

// consume is the queue's consumer: the bridge's queue handler.
func (n *Native) consume(ctx context.Context, m queue.Message) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, n.manifest.Timeout(bundle.KindConsumer))
	defer cancel()
	env, actx, err := n.env(ctx, m.Installation)
	if err != nil {
		return 0, err
	}
	res, err := bridge.Handlers().Queue(env, &abi.QueueMessage{Context: actx, Queue: m.Queue, ID: m.ID, Attempt: uint32(m.Attempt), Payload: m.Payload})
	if err != nil {
		return 0, sdk.CodeOf(err)
	}
	return time.Duration(res.RetryAfterSeconds) * time.Second, nil
}

// env is what one invocation of installation id may use, as the host's
// capabilities would give it, and its context.
func (n *Native) env(ctx context.Context, id string) (*sdk.Env, abi.Context, error) {
	in, ok := n.reg.Get(id)
	if !ok {
		return nil, abi.Context{}, tenant.ErrNotFound
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	actx := abi.Context{Installation: in.ID, SiteURL: in.SiteURL, AppAccountID: in.AppAccountID, InvocationID: hex.EncodeToString(b[:])}
	for _, t := range n.triggers {
		actx.WebTriggers = append(actx.WebTriggers, abi.Header{Name: t, Value: publicurl.WebTrigger(n.publicURL, in.Routes[t])})
	}
	c := &call{n: n, ctx: ctx, inst: in.ID}
	return &sdk.Env{
		Storage: kvs{c}, Secrets: secrets{c}, Fetch: fetcher{c}, Jira: jiraSite{c}, Queue: pusher{c},
		Realtime: live{c},
		Log:      sdk.NewLogger(func(int32, string, []abi.Header) {}),
	}, actx, nil
}

// call is one native invocation.
type call struct {
	n       *Native
	ctx     context.Context
	inst    string
	fetches int
}

// codeOf maps a backend error to the code the module would see.
func codeOf(err error) error {
	if err == nil {
		return nil
	}
	return capability.Code(err)
}

type kvs struct{ c *call }

func (s kvs) Get(key string) ([]byte, error) {
	if abi.KeyProblem(key) != "" {
		return nil, abi.InvalidArgument
	}
	v, err := s.c.n.store.Get(s.c.ctx, s.c.inst, storage.KVS, key)
	return v, codeOf(err)
}

func (s kvs) Set(key string, value []byte, ttl time.Duration) error {
	if abi.KeyProblem(key) != "" {
		return abi.InvalidArgument
	}
	if len(value) > abi.MaxValueLen {
		return abi.LimitExceeded
	}
	return codeOf(s.c.n.store.Set(s.c.ctx, s.c.inst, storage.KVS, key, value, ttl.Round(time.Second)))
}

func (s kvs) Delete(key string) error {
	if abi.KeyProblem(key) != "" {
		return abi.InvalidArgument
	}
	return codeOf(s.c.n.store.Delete(s.c.ctx, s.c.inst, storage.KVS, key))
}

// Transact implements sdk.Transactor as the host's capability does.
func (s kvs) Transact(ops []abi.TxnOp) (bool, error) {
	applied, err := capability.Transact(s.c.ctx, s.c.n.store, s.c.inst, ops)
	return applied, codeOf(err)
}

func (s kvs) Query(prefix, cursor string, limit int) (abi.Page, error) {
	if limit < 0 || limit > abi.MaxQueryLimit {
		return abi.Page{}, abi.InvalidArgument
	}
	p, err := s.c.n.store.Query(s.c.ctx, s.c.inst, storage.KVS, prefix, cursor, limit)
	if err != nil {
		return abi.Page{}, codeOf(err)
	}
	page := abi.Page{NextCursor: p.NextCursor, Entries: make([]abi.Entry, len(p.Entries))}
	for i, e := range p.Entries {
		page.Entries[i] = abi.Entry{Key: e.Key, Value: e.Value}
	}
	return page, nil
}

type secrets struct{ c *call }

func secretName(name string) error {
	if abi.KeyProblem(name) != "" {
		return abi.InvalidArgument
	}
	if strings.HasPrefix(name, storage.HostSecretPrefix) {
		return abi.AccessDenied
	}
	return nil
}

func (s secrets) Set(name string, value []byte) error {
	if err := secretName(name); err != nil {
		return err
	}
	return codeOf(s.c.n.store.Set(s.c.ctx, s.c.inst, storage.Secret, name, value, 0))
}

func (s secrets) Delete(name string) error {
	if err := secretName(name); err != nil {
		return err
	}
	return codeOf(s.c.n.store.Delete(s.c.ctx, s.c.inst, storage.Secret, name))
}

func (s secrets) get(name string) ([]byte, error) {
	if err := secretName(name); err != nil {
		return nil, err
	}
	v, err := s.c.n.store.Get(s.c.ctx, s.c.inst, storage.Secret, name)
	return v, codeOf(err)
}

func (s secrets) Compare(name string, candidate []byte) (bool, error) {
	v, err := s.get(name)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(v, candidate) == 1, nil
}

func (s secrets) VerifyHMAC(name string, h sdk.Hash, data, mac []byte) (bool, error) {
	var fn func() hash.Hash
	switch h {
	case sdk.SHA256:
		fn = sha256.New
	case sdk.SHA1:
		fn = sha1.New
	default:
		return false, abi.InvalidArgument
	}
	v, err := s.get(name)
	if err != nil {
		return false, err
	}
	m := hmac.New(fn, v)
	m.Write(data)
	return hmac.Equal(m.Sum(nil), mac), nil
}

// substitute replaces every {{secret:NAME}} in s with the secret's value.
func (c *call) substitute(s string) (string, error) {
	return abi.ExpandSecretRefs(s, secrets{c}.get)
}

type fetcher struct{ c *call }

func (f fetcher) Fetch(r *abi.Request) (*abi.Response, error) {
	raw, err := f.c.substitute(r.URL)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, abi.InvalidArgument
	}
	if !f.c.n.manifest.EgressAllowed(u.Hostname()) {
		return nil, abi.AccessDenied
	}
	return f.c.send(r, u, "")
}

type jiraSite struct{ c *call }

func (j jiraSite) Request(r *abi.Request) (*abi.Response, error) {
	p := r.URL
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\@") || strings.Contains(p, "://") {
		return nil, abi.InvalidArgument
	}
	base, auth, err := j.c.n.reg.JiraBase(j.c.ctx, j.c.inst)
	if err != nil {
		return nil, codeOf(err)
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/") + p)
	if err != nil {
		return nil, abi.InvalidArgument
	}
	return j.c.send(r, u, auth)
}

// send makes the outbound request as the fetch and jira capabilities do.
func (c *call) send(r *abi.Request, u *url.URL, authorization string) (*abi.Response, error) {
	if c.fetches >= 50 {
		return nil, abi.LimitExceeded
	}
	c.fetches++
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(c.ctx, method, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return nil, abi.InvalidArgument
	}
	for _, kv := range r.Headers {
		v, err := c.substitute(kv.Value)
		if err != nil {
			return nil, err
		}
		if authorization != "" && strings.EqualFold(kv.Name, "Authorization") {
			continue
		}
		req.Header.Add(kv.Name, v)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.n.http.Do(req)
	if err != nil {
		if c.ctx.Err() != nil {
			return nil, abi.Timeout
		}
		return nil, abi.Unavailable
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, responseLimit+1))
	if err != nil {
		return nil, abi.Unavailable
	}
	if len(body) > responseLimit {
		return nil, abi.LimitExceeded
	}
	out := &abi.Response{Status: uint16(resp.StatusCode), Body: body}
	for name, vs := range resp.Header {
		for _, v := range vs {
			out.Headers = append(out.Headers, abi.Header{Name: name, Value: v})
		}
	}
	return out, nil
}

type pusher struct{ c *call }

func (p pusher) Push(q, orderKey string, payload []byte, delay time.Duration) error {
	if !p.c.n.hasQueue(q) {
		return abi.AccessDenied
	}
	return codeOf(p.c.n.queue.Push(p.c.ctx, p.c.inst, q, orderKey, payload, delay.Round(time.Second)))
}

func (n *Native) hasQueue(q string) bool {
	for _, c := range n.manifest.Modules.Consumer {
		if c.Queue == q {
			return true
		}
	}
	return false
}

// live is the realtime capability on the node's hub, as the host's.
type live struct{ c *call }

func (l live) Publish(channel string, payload []byte) error {
	if abi.ChannelProblem(channel) != "" {
		return abi.InvalidArgument
	}
	_, err := l.c.n.realtime.Publish(l.c.ctx, l.c.inst, channel, payload)
	return realtimeCode(err)
}

func (l live) SignToken(channel, origin string, ttl time.Duration) (string, error) {
	if ttl == 0 {
		ttl = abi.DefaultRealtimeTokenTTL * time.Second
	}
	tok, err := l.c.n.realtime.Sign(l.c.ctx, l.c.inst, channel, origin, ttl)
	return tok, realtimeCode(err)
}

func realtimeCode(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, realtime.ErrInvalid):
		return abi.InvalidArgument
	case errors.Is(err, realtime.ErrTooLarge), errors.Is(err, realtime.ErrRate):
		return abi.LimitExceeded
	}
	return codeOf(err)
}
