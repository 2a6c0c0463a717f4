package capability

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/host/medialink"
	"github.com/chatbridge/chatbridge/wit/abi"
	"github.com/chatbridge/chatbridge/wit/jirascopes"
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

// UploadLinker hands out the upload links of jira.upload-link and reads
// what they received for jira.upload-result (host/medialink).
type UploadLinker interface {
	// MintUpload returns a public https URL a page of origin POSTs one file
	// to, streamed to the service desk's temporary attachments, until ttl
	// passes. maxBytes 0 is the service's own limit.
	// The file goes to the site as mediaType.
	MintUpload(ctx context.Context, installation, serviceDesk, origin, subject, mediaType string, maxBytes int64, ttl time.Duration) (string, error)
	// Result returns what the link received, as JSON, or an error matching
	// medialink.ErrNotFound before the upload and after the result's time.
	UploadResult(ctx context.Context, installation, link string) ([]byte, error)
}

// UploadTarget is the JSM operation an upload link's file goes to.
func UploadTarget(serviceDesk string) string {
	return "/rest/servicedeskapi/servicedesk/" + serviceDesk + "/attachTemporaryFile"
}

// maxServiceDeskIDLen bounds a service desk id: a decimal id.
const maxServiceDeskIDLen = 19

// registerUploadLink adds upload-link and upload-result to
// chatbridge:plugin/jira.
func (h *host) registerUploadLink(b wazero.HostModuleBuilder) {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	// upload-link(desk-ptr, desk-len, origin-ptr, origin-len, subject-ptr,
	// subject-len, media-type-ptr, media-type-len, max-bytes: u32,
	// ttl-seconds: u32) -> s64 (pending URL)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.uploadLink(ctx, m, u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3]), u32(s[4]), u32(s[5]), u32(s[6]), u32(s[7]), u32(s[8]), u32(s[9])))
	}), []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i64}).Export(abi.FuncJiraUploadLink)
	// upload-result(link-ptr, link-len) -> s64 (pending JSON)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		s[0] = uint64(h.uploadResult(ctx, m, u32(s[0]), u32(s[1])))
	}), []api.ValueType{i32, i32}, []api.ValueType{i64}).Export(abi.FuncJiraUploadResult)
}

func (h *host) uploadLink(ctx context.Context, m api.Module, dp, dn, op, on, sp, sn, mp, mn, maxBytes, ttl uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityJira) {
		return abi.Result(abi.AccessDenied, 0)
	}
	if dn == 0 || dn > maxServiceDeskIDLen || on == 0 || on > abi.MaxRealtimeOriginLen ||
		sn == 0 || sn > abi.MaxUploadSubjectLen || mn == 0 || mn > abi.MaxUploadMediaTypeLen || ttl > abi.MaxUploadLinkTTL {
		return abi.Result(abi.InvalidArgument, 0)
	}
	desk, origin := readString(m, dp, dn), readString(m, op, on)
	subject, mediaType := readString(m, sp, sn), readString(m, mp, mn)
	if !decimal(desk) || abi.OriginProblem(origin) != "" || !abi.BareMediaType(mediaType) {
		return abi.Result(abi.InvalidArgument, 0)
	}
	// The host makes the call for the module: the manifest must allow it
	// as it would the module's own jira.request (wit/jirascopes).
	if jirascopes.Decide("POST", UploadTarget(desk), h.policy.HasScope).Verdict != jirascopes.Allowed {
		c.Log.Warn("upload link denied: the manifest's scopes do not allow attachTemporaryFile")
		return abi.Result(abi.AccessDenied, 0)
	}
	if ttl == 0 {
		ttl = abi.DefaultUploadLinkTTL
	}
	size := int64(maxBytes)
	if limit := h.deps.UploadBytes; limit > 0 {
		if size == 0 {
			size = limit
		}
		if size > limit {
			return abi.Result(abi.InvalidArgument, 0)
		}
	}
	if h.deps.Uploads == nil {
		return abi.Result(abi.Unavailable, 0)
	}
	// Each link leads to one request on the site: count it as one.
	if c.fetches >= h.limits.FetchesPerCall {
		return abi.Result(abi.LimitExceeded, 0)
	}
	c.fetches++
	start := time.Now()
	link, err := h.deps.Uploads.MintUpload(ctx, c.Installation, desk, origin, subject, mediaType, size, time.Duration(ttl)*time.Second)
	code := uploadCode(c, "jira.upload-link", err)
	h.trace(c, Event{Kind: "jira", Op: "upload-link", Outcome: outcome(code), Duration: time.Since(start)})
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	// The URL holds the token: it goes to the module only.
	return pend(c, []byte(link))
}

func (h *host) uploadResult(ctx context.Context, m api.Module, lp, ln uint32) int64 {
	c := callOf(ctx)
	if h.denied(c, abi.CapabilityJira) {
		return abi.Result(abi.AccessDenied, 0)
	}
	if ln == 0 || ln > abi.MaxUploadResultLinkLen {
		return abi.Result(abi.InvalidArgument, 0)
	}
	if h.deps.Uploads == nil {
		return abi.Result(abi.Unavailable, 0)
	}
	start := time.Now()
	res, err := h.deps.Uploads.UploadResult(ctx, c.Installation, readString(m, lp, ln))
	code := uploadCode(c, "jira.upload-result", err)
	h.trace(c, Event{Kind: "jira", Op: "upload-result", Outcome: outcome(code), Duration: time.Since(start)})
	if code != abi.OK {
		return abi.Result(code, 0)
	}
	return pend(c, res)
}

// uploadCode maps the upload links' refusals to the contract's codes.
func uploadCode(c *Call, op string, err error) abi.Code {
	switch {
	case errors.Is(err, medialink.ErrInvalid):
		return abi.InvalidArgument
	case errors.Is(err, medialink.ErrNotFound):
		return abi.NotFound
	}
	return codeOf(c, op, err)
}
