package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"maps"
	"strings"
	"sync"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Raw key layout in the backend. Tags and tokens are keyed hashes; nothing
// in a raw key is plaintext except the one-letter prefixes and the keyspace
// number.
const (
	prefixHost    = "h" // "h" + name: host records (the host's name key)
	prefixKeys    = "k" // "k" + tag + "n": name key; "k" + tag + "d" + version: data key
	prefixPurge   = "p" // "p" + tag: a purge in progress
	prefixRecords = "r" // "r" + tag + keyspace + one token per key segment
	hostNameKey   = prefixHost + "namekey"
	tagSize       = 16 // installation tag
	tokenSize     = 16 // one key segment
	dataKeySize   = 32
	nameKeySize   = 32
)

// keyring holds one installation's keys, unwrapped. It never changes once
// published: rotation publishes a new one.
type keyring struct {
	inst    string
	tag     string
	tokens  *sync.Pool // of hash.Hash: HMAC-SHA256 under the token key
	cursors cipher.AEAD
	current uint32
	aeads   map[uint32]cipher.AEAD // data keys by version
}

func newAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // key sizes are fixed here
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// newKeyring derives an installation's token and cursor keys from its name key.
func newKeyring(inst, tag string, nameKey []byte) *keyring {
	tokenKey, err := hkdf.Key(sha256.New, nameKey, nil, "chatbridge/seal/v1 key tokens", 32)
	if err != nil {
		panic(err)
	}
	cursorKey, err := hkdf.Key(sha256.New, nameKey, nil, "chatbridge/seal/v1 cursors", 32)
	if err != nil {
		panic(err)
	}
	return &keyring{
		inst:    inst,
		tag:     tag,
		tokens:  &sync.Pool{New: func() any { return hmac.New(sha256.New, tokenKey) }},
		cursors: newAEAD(cursorKey),
		aeads:   map[uint32]cipher.AEAD{},
	}
}

// with returns a copy with data key version v added (nil key: removed) and
// current set to cur.
func (r *keyring) with(v uint32, key []byte, cur uint32) *keyring {
	n := *r
	n.aeads = maps.Clone(r.aeads)
	if key == nil {
		delete(n.aeads, v)
	} else {
		n.aeads[v] = newAEAD(key)
	}
	n.current = cur
	return &n
}

// versions lists the data key versions the keyring holds.
func (r *keyring) versions() []uint32 {
	vs := make([]uint32, 0, len(r.aeads))
	for v := range r.aeads {
		vs = append(vs, v)
	}
	return vs
}

func (r *keyring) recordsPrefix() string { return prefixRecords + r.tag }

// rawKey is where key of space lives: the installation tag, the keyspace,
// then for each segment of key split at ':' a token chained over the
// segments before it, so that keys sharing leading segments share a raw
// prefix and a prefix query ending on a segment boundary is a range scan.
func (r *keyring) rawKey(space storage.Keyspace, key string) string {
	return r.rawPath(space, strings.Split(key, ":"))
}

// rawPrefix is the raw range of every key that begins with prefix: the
// tokens of its whole segments (those followed by ':').
func (r *keyring) rawPrefix(space storage.Keyspace, prefix string) string {
	segs := strings.Split(prefix, ":")
	return r.rawPath(space, segs[:len(segs)-1])
}

func (r *keyring) rawPath(space storage.Keyspace, segs []string) string {
	b := make([]byte, 0, 1+tagSize+1+tokenSize*len(segs))
	b = append(b, prefixRecords...)
	b = append(b, r.tag...)
	b = append(b, byte(space))
	h := r.tokens.Get().(hash.Hash)
	defer r.tokens.Put(h)
	var prev [tokenSize]byte
	prev[0] = byte(space)
	var sum [sha256.Size]byte
	for _, seg := range segs {
		h.Reset()
		h.Write(prev[:])
		h.Write([]byte(seg))
		copy(prev[:], h.Sum(sum[:0]))
		b = append(b, prev[:]...)
	}
	return string(b)
}

// tagOf is an installation's tag under the host's name key.
func tagOf(hostKey []byte, inst string) string {
	m := hmac.New(sha256.New, hostKey)
	m.Write([]byte("chatbridge/seal/v1 installation\x00"))
	m.Write([]byte(inst))
	return string(m.Sum(nil)[:tagSize])
}

func dataKeyKey(tag string, v uint32) string {
	return prefixKeys + tag + "d" + string(binary.BigEndian.AppendUint32(nil, v))
}

func nameKeyKey(tag string) string { return prefixKeys + tag + "n" }
