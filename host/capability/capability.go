package capability

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/host/ratelimit"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Policy is what the bundle's manifest grants.
type Policy interface {
	// HasCapability reports whether the manifest declares a capability.
	HasCapability(name string) bool
	// EgressAllowedAt reports whether fetch may reach host on port.
	EgressAllowedAt(host string, port int) bool
	// HasQueue reports whether a consumer for queue is declared.
	HasQueue(queue string) bool
	// HasScope reports whether the manifest declares an OAuth 2.0 scope,
	// which the jira capability holds each call against.
	HasScope(scope string) bool
}

// Pusher is the queue behind the queue capability.
type Pusher interface {
	// Push queues payload for queue's consumer after delay; orderKey as in
	// the WIT's queue.push.
	Push(ctx context.Context, installation, queue, orderKey string, payload []byte, delay time.Duration) error
}

// JiraSite is how the jira capability reaches an installation's site.
type JiraSite interface {
	// JiraBase returns the site's base URL and the Authorization header value
	// to send; the module never sees the latter.
	JiraBase(ctx context.Context, installation string) (baseURL, authorization string, err error)
}

// Limits bound what one invocation may do. The zero value means the defaults.
type Limits struct {
	// FetchesPerCall caps outbound requests (fetch and jira) per invocation. Default 50.
	FetchesPerCall int
	// ResponseBytes caps one response body. Default 20 MiB (Telegram's download limit).
	ResponseBytes int64
	// RequestBytes caps one outbound request body. Default 50 MiB (Telegram's upload limit).
	RequestBytes int
	// QueuePayloadBytes caps one queue push. Default abi.MaxQueuePayloadLen
	// (Forge's 200 KiB).
	QueuePayloadBytes int
	// QueueDelay caps a push's delay. Default 900 s (Forge).
	QueueDelay time.Duration
	// LogMessageBytes truncates a log message. Default 2 KiB.
	LogMessageBytes int
}

func (l Limits) withDefaults() Limits {
	if l.FetchesPerCall == 0 {
		l.FetchesPerCall = 50
	}
	if l.ResponseBytes == 0 {
		l.ResponseBytes = 20 << 20
	}
	if l.RequestBytes == 0 {
		l.RequestBytes = 50 << 20
	}
	if l.QueuePayloadBytes == 0 {
		l.QueuePayloadBytes = abi.MaxQueuePayloadLen
	}
	if l.QueueDelay == 0 {
		l.QueueDelay = 900 * time.Second
	}
	if l.LogMessageBytes == 0 {
		l.LogMessageBytes = 2 << 10
	}
	return l
}

// Deps are the backends behind the capabilities. Store and Logger are
// required; a nil Queue or Jira makes those capabilities answer unavailable.
type Deps struct {
	Store  storage.Store
	Queue  Pusher
	Jira   JiraSite
	Logger *slog.Logger
	// HTTP makes outbound requests for fetch and jira. Default: a client
	// with a 30 s timeout that never follows redirects.
	HTTP   *http.Client
	Limits Limits
	// Trace, when set, receives every storage, fetch, jira and queue call
	// (see Event); it must not block. Default: none.
	Trace func(Event)
	// Limiter paces fetch and jira requests per destination and holds back
	// those a 429 or 503 asked to wait (package ratelimit). Default: one
	// with ratelimit's defaults per Register.
	Limiter *ratelimit.Limiter
	// Pacing is the running bundle's pacing rules (bundle.Manifest.Pacing),
	// by which Limiter paces fetch requests. Default: none; every
	// destination is then only held back by its own 429 and 503 answers.
	Pacing *ratelimit.Table
	// Links mints the download links of jira.attachment-link. Default:
	// none, and the function answers unavailable.
	Links LinkMinter
	// Uploads mints the upload links of jira.upload-link and reads their
	// results. Default: none, and both functions answer unavailable.
	Uploads UploadLinker
	// UploadBytes is the running bundle's app.uploads.maxBytes: an
	// upload-link's max-bytes 0 takes it, and more is invalid-argument.
	// Default 0: the link service's own limit.
	UploadBytes int64
	// Realtime is the hub of realtime.publish and realtime.sign-token.
	// Default: none, and both answer unavailable.
	Realtime Realtime
	// Counters, when set, counts calls refused for a limit, for metrics.
	// Default: not counted.
	Counters *Counters
	// CachedKeys are prefixes of storage keys whose storage.get may be
	// answered from the store's read cache (storage.WithReadCache): records
	// the module reads often and that a moment's staleness cannot harm,
	// such as its configuration. Default: none; every get is linearizable
	// on a store that offers both.
	CachedKeys []string
}

// Counters count capability calls refused for a limit. A host shares one
// among the runtimes of its bundles.
type Counters struct {
	// QueueTooLarge counts queue pushes over Limits.QueuePayloadBytes.
	QueueTooLarge atomic.Int64
}

// host is the registered capability set of one runtime.
type host struct {
	deps   Deps
	limits Limits
	policy Policy
}

// ErrUndeclared is returned by CheckImports for an import the manifest does not grant.
var ErrUndeclared = errors.New("capability: import not declared in the manifest")

// Register instantiates every import module of the contract in r. Policy is
// checked at each call as well as at load (CheckImports).
func Register(ctx context.Context, r wazero.Runtime, deps Deps, p Policy) error {
	if deps.Store == nil || deps.Logger == nil {
		return errors.New("capability: Deps.Store and Deps.Logger are required")
	}
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if deps.Limiter == nil {
		deps.Limiter = ratelimit.New(ratelimit.Config{})
	}
	h := &host{deps: deps, limits: deps.Limits.withDefaults(), policy: p}
	for _, reg := range []struct {
		module string
		fn     func(wazero.HostModuleBuilder)
	}{
		{abi.ModuleStorage, h.registerStorage},
		{abi.ModuleSecrets, h.registerSecrets},
		{abi.ModuleFetch, h.registerFetch},
		{abi.ModuleJira, h.registerJira},
		{abi.ModuleQueue, h.registerQueue},
		{abi.ModuleRealtime, h.registerRealtime},
		{abi.ModuleLog, h.registerLog},
		{abi.ModuleABI, registerABI},
	} {
		b := r.NewHostModuleBuilder(reg.module)
		reg.fn(b)
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("capability: instantiate %s: %w", reg.module, err)
		}
	}
	return nil
}

// CheckImports fails when the module imports from a capability the manifest
// does not declare, or from a module the host does not know. Modules in
// allowed (WASI, the fuel import) pass without a capability.
func CheckImports(imports []api.FunctionDefinition, p Policy, allowed ...string) error {
	for _, fd := range imports {
		mod, name, _ := fd.Import()
		if mod == abi.ModuleABI || contains(allowed, mod) {
			continue
		}
		capName := abi.CapabilityOf(mod)
		if capName == "" {
			return fmt.Errorf("%w: unknown import module %q (function %q)", ErrUndeclared, mod, name)
		}
		if !p.HasCapability(capName) {
			return fmt.Errorf("%w: %s.%s needs capability %q", ErrUndeclared, mod, name, capName)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// denied reports, and logs once per call site, a capability the manifest lacks.
func (h *host) denied(c *Call, capName string) bool {
	if h.policy.HasCapability(capName) {
		return false
	}
	c.Log.Warn("capability denied", "capability", capName)
	return true
}

// Code maps a backend error to the code the module sees: the one mapping,
// which the bridge's native benchmark build uses too. Anything unexpected
// is internal.
func Code(err error) abi.Code {
	var code abi.Code
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, storage.ErrNotFound):
		return abi.NotFound
	case errors.Is(err, storage.ErrInvalidKey), errors.Is(err, storage.ErrInvalidQuery):
		return abi.InvalidArgument
	case errors.Is(err, storage.ErrValueTooLarge):
		return abi.LimitExceeded
	case errors.Is(err, storage.ErrDenied):
		return abi.AccessDenied
	case errors.Is(err, storage.ErrIntegrity):
		return abi.Integrity
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return abi.Timeout
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, storage.ErrFenced):
		// Fenced: this node lost the claim of the lane it consumes; the
		// message is retried, by the lane's new consumer.
		return abi.Unavailable
	case errors.As(err, &code):
		return code
	}
	return abi.Internal
}

// codeOf is Code, with a log line (never the value) for what an operator
// should see: a failed integrity check, a store that is briefly
// unavailable, and anything unexpected.
func codeOf(c *Call, op string, err error) abi.Code {
	code := Code(err)
	var own abi.Code
	switch {
	case errors.Is(err, storage.ErrFenced):
		// Nothing this invocation does from here on may reach the outside
		// world (send refuses): another node consumes its lane now.
		c.fenced = true
		c.Log.Warn("write fenced: this node no longer consumes the lane", "op", op)
	case code == abi.Integrity:
		c.Log.Error("stored record failed its integrity check", "op", op)
	case code == abi.Unavailable && !errors.As(err, &own):
		// The module retries these (a cluster's failover): worth a line, not an error.
		c.Log.Warn("storage temporarily unavailable", "op", op, "err", err.Error())
	case code == abi.Internal && !errors.As(err, &own):
		c.Log.Error("capability failed", "op", op, "err", err.Error())
	}
	return code
}
