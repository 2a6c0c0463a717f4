package capability

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/host/ratelimit"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// registerFetch provides chatbridge:plugin/fetch: HTTPS to declared hosts.
func (h *host) registerFetch(b wazero.HostModuleBuilder) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	// fetch(request-ptr, request-len: u32) -> s64 (pending encoded response)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.fetch(ctx, m, u32(s[0]), u32(s[1])))
	}), []api.ValueType{i32, i32}, []api.ValueType{i64}).Export(abi.FuncFetch)
}

// request reads and decodes an encoded abi.Request from guest memory.
func (h *host) request(m api.Module, ptr, n uint32) (*abi.Request, abi.Code) {
	if n > uint32(h.limits.RequestBytes)+64<<10 {
		return nil, abi.LimitExceeded
	}
	var r abi.Request
	if err := r.Decode(read(m, ptr, n)); err != nil {
		return nil, abi.InvalidArgument
	}
	return &r, abi.OK
}

func (h *host) fetch(ctx context.Context, m api.Module, ptr, n uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityFetch) {
		return abi.Result(abi.AccessDenied, 0)
	}
	r, code := h.request(m, ptr, n)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	rawURL, code := h.substitute(ctx, c, r.URL)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return abi.Result(abi.InvalidArgument, 0)
	}
	port := 443
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return abi.Result(abi.InvalidArgument, 0)
		}
		port = n
	}
	if !h.policy.EgressAllowedAt(u.Hostname(), port) {
		// The name may come from outside (a media URL in a messenger's
		// answer) or hold a secret the module substituted into it.
		c.Log.Warn("egress denied", "host", escapeLog(c.redact(u.Hostname()), maxLogHost), "port", port)
		return abi.Result(abi.AccessDenied, 0)
	}
	return h.send(ctx, c, r, u, "")
}

// substitute replaces every {{secret:NAME}} in s with the secret's value and
// remembers the value so that logs can redact it.
func (h *host) substitute(ctx context.Context, c *Call, s string) (string, abi.Code) {
	out, err := abi.ExpandSecretRefs(s, func(name string) ([]byte, error) {
		if abi.KeyProblem(name) != "" || strings.HasPrefix(name, storage.HostSecretPrefix) {
			return nil, abi.AccessDenied
		}
		v, code := h.secret(ctx, c, name)
		if code != abi.OK {
			return nil, code
		}
		c.used = append(c.used, v)
		return v, nil
	})
	var code abi.Code
	if errors.As(err, &code) {
		return "", code
	}
	return out, abi.OK
}

// send makes the outbound request and pends the encoded response. A non-empty
// authorization replaces any Authorization header the module set.
func (h *host) send(ctx context.Context, c *Call, r *abi.Request, u *url.URL, authorization string) int64 {
	if c.fenced {
		return abi.Result(abi.Unavailable, 0)
	}
	if c.fetches >= h.limits.FetchesPerCall {
		return abi.Result(abi.LimitExceeded, 0)
	}
	c.fetches++
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return abi.Result(abi.InvalidArgument, 0)
	}
	for _, kv := range r.Headers {
		v, code := h.substitute(ctx, c, kv.Value)
		if code != abi.OK {
			return abi.Result(code, 0)
		}
		if authorization != "" && strings.EqualFold(kv.Name, "Authorization") {
			continue
		}
		req.Header.Add(kv.Name, v)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	start := time.Now()
	kind := "fetch"
	if authorization != "" {
		kind = "jira"
	}
	dest := h.deps.Pacing.For(c.Installation, method, u, req.Header, r.Body)
	if err := h.deps.Limiter.Wait(ctx, dest); err != nil {
		var we *ratelimit.WaitError
		if !errors.As(err, &we) {
			h.trace(c, Event{Kind: kind, Op: method, Host: u.Hostname(), Outcome: outcome(abi.Timeout), Duration: time.Since(start)})
			return abi.Result(abi.Timeout, 0)
		}
		// Not sent: the module gets the destination's own "retry later",
		// which it turns into a queue retry no earlier than this.
		status, header, body := dest.TooManyRequests(we.Seconds())
		c.Log.Info("outbound request held back by the rate limiter", "host", u.Hostname(), "retryAfter", we.Seconds())
		h.trace(c, Event{Kind: kind, Op: method, Host: u.Hostname(), Status: status, Outcome: "rate-limited", Duration: time.Since(start)})
		return pend(c, response(status, header, body).Append(nil))
	}
	resp, err := h.deps.HTTP.Do(req)
	if err != nil {
		h.trace(c, Event{Kind: kind, Op: method, Host: u.Hostname(), Outcome: "unavailable", Duration: time.Since(start)})
		// The error text holds the URL, which may hold a secret: log the
		// host and the cause without it (fetchCause).
		c.Log.Warn("outbound request failed", "host", u.Hostname(), "timeout", errors.Is(err, context.DeadlineExceeded), "cause", fetchCause(c, u, err))
		if ctx.Err() != nil {
			return abi.Result(abi.Timeout, 0)
		}
		return abi.Result(abi.Unavailable, 0)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.limits.ResponseBytes+1))
	h.deps.Limiter.Observe(dest, resp.StatusCode, resp.Header, body)
	if err != nil {
		c.Log.Warn("outbound response unreadable", "host", u.Hostname())
		return abi.Result(abi.Unavailable, 0)
	}
	if int64(len(body)) > h.limits.ResponseBytes {
		return abi.Result(abi.LimitExceeded, 0)
	}
	c.Log.Debug("outbound request", "host", u.Hostname(), "status", resp.StatusCode, "duration", time.Since(start))
	h.trace(c, Event{Kind: kind, Op: method, Host: u.Hostname(), Status: resp.StatusCode, Outcome: "ok", Duration: time.Since(start)})
	return pend(c, response(resp.StatusCode, resp.Header, body).Append(nil))
}

// response is an HTTP answer as the module reads it.
func response(status int, header http.Header, body []byte) *abi.Response {
	out := &abi.Response{Status: uint16(status), Body: body}
	for name, vs := range header {
		for _, v := range vs {
			out.Headers = append(out.Headers, abi.Header{Name: name, Value: v})
		}
	}
	return out
}
