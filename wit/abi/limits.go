package abi

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
