package capability

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// LinkMinter hands out the download links of jira.attachment-link.
type LinkMinter interface {
	// Mint returns a public https URL that streams attachment id of the
	// installation's site once, until ttl passes.
	Mint(ctx context.Context, installation, attachmentID string, ttl time.Duration) (string, error)
}

// maxAttachmentIDLen bounds an attachment id: Jira's ids are decimal numbers
// that fit an int64.
const maxAttachmentIDLen = 19

// registerAttachmentLink adds attachment-link to chatbridge:plugin/jira.
func (h *host) registerAttachmentLink(b wazero.HostModuleBuilder) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	// attachment-link(id-ptr, id-len, ttl-seconds: u32) -> s64 (pending URL)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.attachmentLink(ctx, m, u32(s[0]), u32(s[1]), u32(s[2])))
	}), []api.ValueType{i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncJiraAttachmentLink)
}

func (h *host) attachmentLink(ctx context.Context, m api.Module, idp, idn, ttl uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityJira) {
		return abi.Result(abi.AccessDenied, 0)
	}
	if idn == 0 || idn > maxAttachmentIDLen || ttl > abi.MaxLinkTTL {
		return abi.Result(abi.InvalidArgument, 0)
	}
	id := readString(m, idp, idn)
	if !decimal(id) {
		return abi.Result(abi.InvalidArgument, 0)
	}
	if ttl == 0 {
		ttl = abi.DefaultLinkTTL
	}
	if h.deps.Links == nil {
		return abi.Result(abi.Unavailable, 0)
	}
	// Each link leads to one request on the site: count it as one.
	if c.fetches >= h.limits.FetchesPerCall {
		return abi.Result(abi.LimitExceeded, 0)
	}
	c.fetches++
	start := time.Now()
	link, err := h.deps.Links.Mint(ctx, c.Installation, id, time.Duration(ttl)*time.Second)
	code := codeOf(c, "jira.attachment-link", err)
	h.trace(c, Event{Kind: "jira", Op: "attachment-link", Outcome: outcome(code), Duration: time.Since(start)})
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	// The URL holds the token: it goes to the module only, never to a log
	// or a trace.
	return pend(c, []byte(link))
}

// decimal reports whether s is digits only, without a leading zero.
func decimal(s string) bool {
	if s == "" || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
