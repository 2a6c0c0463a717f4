package sdk

import (
	"errors"
	"log/slog"
	"time"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// Errors a capability call can return. Each is an abi.Code.
var (
	ErrNotFound        error = abi.NotFound
	ErrAccessDenied    error = abi.AccessDenied
	ErrInvalidArgument error = abi.InvalidArgument
	ErrLimitExceeded   error = abi.LimitExceeded
	ErrUnavailable     error = abi.Unavailable
	ErrTimeout         error = abi.Timeout
	ErrIntegrity       error = abi.Integrity
	ErrInternal        error = abi.Internal
)

// Storage is Forge's key-value store, scoped to the calling installation.
type Storage interface {
	// Get returns ErrNotFound for a missing or expired key.
	Get(key string) ([]byte, error)
	// Set stores value; a positive ttl (whole seconds) makes it expire.
	Set(key string, value []byte, ttl time.Duration) error
	Delete(key string) error
	// Query lists keys beginning with prefix in key order, after cursor; limit 0 means 10.
	Query(prefix, cursor string, limit int) (abi.Page, error)
}

// Transactor is implemented by the Env's Storage when the host has Forge's
// kvs.transact (storage.transact): 1 to abi.MaxTxnOps operations on
// distinct keys, applied atomically and durably if every condition holds.
// applied is false when a condition failed; nothing was written then.
// Conditions are judged as Get would see the key (an expired record is
// absent).
type Transactor interface {
	Transact(ops []abi.TxnOp) (applied bool, err error)
}

// Hash selects the HMAC hash of Secrets.VerifyHMAC.
type Hash uint32

// Hashes for VerifyHMAC.
const (
	SHA256 = Hash(abi.HashSHA256)
	SHA1   = Hash(abi.HashSHA1)
)

// Secrets are written once and then used by reference: the module can
// compare with them or check a MAC, and name them in outbound requests as
// "{{secret:NAME}}", but never read them back.
type Secrets interface {
	Set(name string, value []byte) error
	Delete(name string) error
	Compare(name string, candidate []byte) (bool, error)
	VerifyHMAC(name string, h Hash, data, mac []byte) (bool, error)
}

// Fetcher makes HTTPS requests to the hosts the manifest declares.
type Fetcher interface {
	Fetch(req *abi.Request) (*abi.Response, error)
}

// Jira makes REST calls on the installation's site with its credentials;
// the request URL is a path such as /rest/servicedeskapi/request.
type Jira interface {
	Request(req *abi.Request) (*abi.Response, error)
}

// AttachmentLinker is implemented by the Env's Jira when the host hands out
// download links (jira.attachment-link): the returned https URL streams the
// attachment's content once, until ttl passes (0: abi.DefaultLinkTTL seconds;
// at most abi.MaxLinkTTL). Hosts without links leave it out.
type AttachmentLinker interface {
	AttachmentLink(attachmentID string, ttl time.Duration) (string, error)
}

// UploadLinker is implemented by the Env's Jira when the host hands out
// upload links (jira.upload-link, jira.upload-result). UploadLink returns
// an https URL a page of origin POSTs one file to (multipart/form-data, the
// file in a part named "file", at most maxBytes; 0: the host's limit),
// once, until ttl passes (0: abi.DefaultUploadLinkTTL seconds; at most
// abi.MaxUploadLinkTTL); the host streams it to the service desk's
// attachTemporaryFile and keeps none of it. UploadResult returns what the
// link received: ErrNotFound before the upload and ten minutes after it.
// subject is the module's own, handed back to tell its links apart.
// mediaType (a bare type/subtype, at most abi.MaxUploadMediaTypeLen bytes)
// is the type the module accepted: the host sends the file to the site with
// it, whatever the page's form says. Hosts without links leave it out.
type UploadLinker interface {
	UploadLink(serviceDeskID, origin, subject, mediaType string, maxBytes int64, ttl time.Duration) (string, error)
	UploadResult(link string) (UploadResult, error)
}

// UploadResult is what an upload link received.
type UploadResult struct {
	// Subject is the one the link was minted with.
	Subject string `json:"subject"`
	// TemporaryAttachmentIDs go to POST /rest/servicedeskapi/request/{key}/attachment.
	TemporaryAttachmentIDs []string `json:"temporaryAttachmentIds"`
	// Bytes is the file's size.
	Bytes int64 `json:"bytes"`
}

// Queue pushes async events to the plugin's own consumers.
type Queue interface {
	// Push delivers payload to the consumer of queue after delay (whole
	// seconds). Messages with the same non-empty orderKey are consumed one
	// at a time in push order, across the plugin's queues and through
	// retries; an empty orderKey orders the message within its queue only.
	Push(queue, orderKey string, payload []byte, delay time.Duration) error
}

// Realtime is Forge Realtime: the module publishes to a named channel of its
// installation, and the host delivers the payload to the browsers subscribed
// to that channel at that moment; nothing is stored, so a browser that is not
// connected never sees it. A browser subscribes at the edge
// (publicurl.Realtime) with a token the module signs.
type Realtime interface {
	// Publish delivers payload (at most the manifest's
	// app.realtime.payloadBytes, at most abi.MaxRealtimePayloadLen) to
	// channel's subscribers. Channel names follow abi.ChannelProblem.
	Publish(channel string, payload []byte) error
	// SignToken returns a token that subscribes a page of origin
	// (abi.OriginProblem; "" for a client that sends no Origin) to channel
	// until ttl passes (0: abi.DefaultRealtimeTokenTTL seconds; at most
	// abi.MaxRealtimeTokenTTL). Publishing and signing share the
	// installation's app.realtime.operationsPerSecond.
	SignToken(channel, origin string, ttl time.Duration) (string, error)
}

// Env is what a handler may use. Its fields are never nil in a handler.
type Env struct {
	Storage Storage
	Secrets Secrets
	Fetch   Fetcher
	Jira    Jira
	Queue   Queue
	// Realtime publishes to browsers (the realtime capability).
	Realtime Realtime
	// Log writes structured records through the host, which tags them with
	// the installation and invocation and redacts secrets.
	Log *slog.Logger
}

// Handlers are a plugin's entry points; a nil handler answers
// access-denied-free "not implemented" as abi.InvalidArgument.
type Handlers struct {
	Init       func(env *Env) error
	WebTrigger func(env *Env, req *abi.WebTriggerRequest) (*abi.Response, error)
	Event      func(env *Env, ev *abi.Event) error
	Queue      func(env *Env, m *abi.QueueMessage) (abi.QueueResult, error)
	Scheduled  func(env *Env, c *abi.ScheduledCall) error
	Resolver   func(env *Env, c *abi.ResolverCall) ([]byte, error)
}

// registered is set once, from a plugin's init, before the host calls anything.
//
//lint:ignore U1000 read by the wasip1 exports (exports_wasip1.go)
var registered Handlers

// Register installs the plugin's handlers. Call it from init.
func Register(h Handlers) { registered = h }

// errNoHandler answers a call the plugin registered no handler for.
//
//lint:ignore U1000 used by the wasip1 exports (exports_wasip1.go)
var errNoHandler error = abi.InvalidArgument

// CodeOf maps a handler's error to the code returned to the host: an
// abi.Code passes through, anything else is internal.
func CodeOf(err error) abi.Code {
	if err == nil {
		return abi.OK
	}
	var c abi.Code
	if errors.As(err, &c) {
		return c
	}
	return abi.Internal
}
