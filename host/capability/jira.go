package capability

import (
	"context"
	"net/url"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/wit/abi"
	"github.com/chatbridge/chatbridge/wit/jirascopes"
)

// registerJira provides chatbridge:plugin/jira: REST calls on the
// installation's own site with its credentials (Forge's asApp).
func (h *host) registerJira(b wazero.HostModuleBuilder) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	// request(request-ptr, request-len: u32) -> s64 (pending encoded response)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.jira(ctx, m, u32(s[0]), u32(s[1])))
	}), []api.ValueType{i32, i32}, []api.ValueType{i64}).Export(abi.FuncJiraRequest)
	h.registerAttachmentLink(b) // links.go
	h.registerUploadLink(b)     // links.go
}

func (h *host) jira(ctx context.Context, m api.Module, ptr, n uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityJira) {
		return abi.Result(abi.AccessDenied, 0)
	}
	if h.deps.Jira == nil {
		return abi.Result(abi.Unavailable, 0)
	}
	r, code := h.request(m, ptr, n)
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	// The operation must be one the specifications document, and the
	// manifest must declare every scope of one of its scope sets: the rule
	// of the contract (wit/jirascopes), which sdktest applies as well.
	p := r.URL
	d := jirascopes.Decide(r.Method, p, h.policy.HasScope)
	switch d.Verdict {
	case jirascopes.InvalidPath:
		return abi.Result(abi.InvalidArgument, 0)
	case jirascopes.NoOperation:
		// The path may hold issue keys: only the method is logged.
		c.Log.Warn("jira call denied: the specifications have no such operation", "method", escapeLog(d.Method, maxLogHost))
		return abi.Result(abi.AccessDenied, 0)
	case jirascopes.NoApp:
		c.Log.Warn("jira call denied: the operation is offered to no app", "method", d.Operation.Method, "operation", d.Operation.Path)
		return abi.Result(abi.AccessDenied, 0)
	case jirascopes.MissingScope:
		c.Log.Warn("jira call denied: scope not declared", "method", d.Operation.Method, "operation", d.Operation.Path, "missing", strings.Join(d.Missing, " "))
		return abi.Result(abi.AccessDenied, 0)
	}
	base, auth, err := h.deps.Jira.JiraBase(ctx, c.Installation)
	if err != nil {
		return abi.Result(codeOf(c, "jira.site", err), 0)
	}
	bu, err := url.Parse(base)
	if err != nil {
		return abi.Result(abi.Internal, 0)
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/") + p)
	if err != nil || u.Host != bu.Host || u.Scheme != bu.Scheme {
		return abi.Result(abi.InvalidArgument, 0)
	}
	return h.send(ctx, c, r, u, auth)
}
