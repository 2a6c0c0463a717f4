package abi

import "strings"

// Forge Storage limits, part of the contract: both the host and the guest's
// test fakes enforce exactly these.
const (
	// MaxKeyLen is Forge's limit on a storage key, in bytes.
	MaxKeyLen = 500
	// MaxValueLen is Forge's limit on a stored value: 240 KiB.
	MaxValueLen = 240 << 10
	// DefaultQueryLimit is the page size of a query that asks for 0.
	DefaultQueryLimit = 10
	// MaxQueryLimit is the largest page a query may ask for.
	MaxQueryLimit = 100
	// MaxQueuePayloadLen is Forge's limit on a queue push's payload:
	// 200 KiB. A larger push is refused with LimitExceeded, and a retry
	// is refused the same way.
	MaxQueuePayloadLen = 200 << 10
	// MaxTxnOps is Forge's limit on the operations of one storage
	// transaction (kvs.transact): 25.
	MaxTxnOps = 25
)

// KeyProblem explains why key breaks Forge's rules (1 to MaxKeyLen bytes of
// [a-zA-Z0-9:._\s-#], not whitespace only), or returns "" for a valid key.
func KeyProblem(key string) string {
	if len(key) == 0 {
		return "empty key"
	}
	if len(key) > MaxKeyLen {
		return "key longer than 500 bytes"
	}
	blank := true
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == ':', c == '.', c == '_', c == '-', c == '#':
			blank = false
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f':
		default:
			return "key has a character outside [a-zA-Z0-9:._-# and whitespace]"
		}
	}
	if blank {
		return "key is whitespace only"
	}
	return ""
}

// Download links of jira.attachment-link, in seconds.
const (
	// DefaultLinkTTL is a link's lifetime when the module asks for 0: 15 minutes.
	DefaultLinkTTL = 900
	// MaxLinkTTL is the longest lifetime a module may ask for: one hour.
	MaxLinkTTL = 3600
)

// Upload links of jira.upload-link.
const (
	// DefaultUploadLinkTTL is an upload link's lifetime when the module
	// asks for 0, in seconds: 5 minutes.
	DefaultUploadLinkTTL = 300
	// MaxUploadLinkTTL is the longest an upload link may live: 15 minutes.
	MaxUploadLinkTTL = 900
	// MaxUploadSubjectLen bounds the subject a module binds to an upload
	// link, in bytes.
	MaxUploadSubjectLen = 128
	// MaxUploadMediaTypeLen bounds the media type an upload link is bound
	// to, in bytes.
	MaxUploadMediaTypeLen = 255
	// MaxUploadResultLinkLen bounds the link upload-result takes, in bytes.
	MaxUploadResultLinkLen = 2048
)

// Realtime (Forge Realtime), part of the contract: a manifest may lower
// these, never raise them.
const (
	// MaxRealtimePayloadLen is the largest payload realtime.publish takes:
	// 32 KiB, room for a chat message and its file names.
	MaxRealtimePayloadLen = 32 << 10
	// MaxRealtimeChannelLen is the longest channel name.
	MaxRealtimeChannelLen = 128
	// MaxRealtimeOriginLen is the longest origin a token may be bound to.
	MaxRealtimeOriginLen = 256
	// RealtimeOpsPerSecond is Forge's limit on realtime operations
	// (publish and token signing together) per installation: 50 a second.
	RealtimeOpsPerSecond = 50
	// DefaultRealtimeTokenTTL is a token's lifetime when the module asks
	// for 0: 15 minutes.
	DefaultRealtimeTokenTTL = 900
	// MaxRealtimeTokenTTL is the longest lifetime a module may ask for.
	MaxRealtimeTokenTTL = 3600
)

// ChannelProblem explains why name is not a realtime channel name (1 to
// MaxRealtimeChannelLen characters of [A-Za-z0-9:._-]), or returns "".
func ChannelProblem(name string) string {
	if name == "" {
		return "empty channel name"
	}
	if len(name) > MaxRealtimeChannelLen {
		return "channel name longer than 128 bytes"
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == ':', c == '.', c == '_', c == '-':
		default:
			return "channel name has a character outside [A-Za-z0-9:._-]"
		}
	}
	return ""
}

// OriginProblem explains why origin is not a web origin a token may be
// bound to (an ASCII serialised origin, "https://host[:port]" or
// "http://host[:port]", lower case, no path), or returns "". The empty
// origin is allowed: it binds the token to subscribers that send none.
func OriginProblem(origin string) string {
	if origin == "" {
		return ""
	}
	if len(origin) > MaxRealtimeOriginLen {
		return "origin longer than 256 bytes"
	}
	rest, ok := strings.CutPrefix(origin, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(origin, "http://"); !ok {
			return "origin is not http:// or https://"
		}
	}
	if rest == "" {
		return "origin has no host"
	}
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return "origin has a character outside a lower-case host and port"
		}
	}
	return ""
}

// BareMediaType reports whether t is a media type an upload link may be
// bound to: type "/" subtype, each an HTTP token in lower case, without
// parameters, at most MaxUploadMediaTypeLen bytes (what
// mime.ParseMediaType returns for a well-formed type).
func BareMediaType(t string) bool {
	typ, sub, ok := strings.Cut(t, "/")
	if !ok || typ == "" || sub == "" || len(t) > MaxUploadMediaTypeLen {
		return false
	}
	for _, c := range []byte(typ + sub) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
