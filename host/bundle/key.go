package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

const (
	privateKeyPEMType = "CHATBRIDGE BUNDLE PRIVATE KEY"
	publicKeyPEMType  = "CHATBRIDGE BUNDLE PUBLIC KEY"
	keyIDHeader       = "Key-Id"
	nameHeader        = "Name" // public key files only: who the key belongs to
	maxNameLen        = 200

	seedSize          = ed25519.SeedSize + mldsa65.SeedSize           // 64
	publicKeySize     = ed25519.PublicKeySize + mldsa65.PublicKeySize // 1984
	fingerprintPrefix = "sha256:"                                     // then 64 lower-case hex digits
	maxKeyFileSize    = 64 << 10                                      // generous for a 2.7 KiB PEM
	privateKeyPerm    = 0o600                                         // WritePrivateKeyFile
	publicKeyPerm     = 0o644                                         // WritePublicKeyFile
	privateKeyDenied  = 0o077                                         // any group/other bit refuses the load
)

// PublicKey is a composite verification key: an Ed25519 key and an ML-DSA-65
// key. A signature is valid only when both halves verify.
type PublicKey struct {
	ed   ed25519.PublicKey
	ml   *mldsa65.PublicKey
	raw  []byte // ed || ml, the encoding the fingerprint and key files use
	fp   string
	name string // from the key file's Name header; not part of the identity
}

// PrivateKey is a composite signing key. It is kept as the two 32-byte seeds
// it was derived from; String and GoString never print them.
type PrivateKey struct {
	seed [seedSize]byte
	ed   ed25519.PrivateKey
	ml   *mldsa65.PrivateKey
	pub  *PublicKey
}

// GenerateKey returns a new composite key pair whose seeds are read from rand
// (crypto/rand.Reader when rand is nil).
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	if rand == nil {
		rand = cryptoRand
	}
	var seed [seedSize]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("bundle: generate key: %w", err)
	}
	return newPrivateKey(seed), nil
}

var cryptoRand = rand.Reader

func newPrivateKey(seed [seedSize]byte) *PrivateKey {
	k := &PrivateKey{seed: seed}
	k.ed = ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize])
	var mlSeed [mldsa65.SeedSize]byte
	copy(mlSeed[:], seed[ed25519.SeedSize:])
	mlPub, mlPriv := mldsa65.NewKeyFromSeed(&mlSeed)
	k.ml = mlPriv
	raw := make([]byte, 0, publicKeySize)
	raw = append(raw, k.ed.Public().(ed25519.PublicKey)...)
	raw = append(raw, mlPub.Bytes()...)
	k.pub = newPublicKey(raw, mlPub)
	return k
}

func newPublicKey(raw []byte, ml *mldsa65.PublicKey) *PublicKey {
	sum := sha256.Sum256(raw)
	return &PublicKey{
		ed:  ed25519.PublicKey(raw[:ed25519.PublicKeySize]),
		ml:  ml,
		raw: raw,
		fp:  fingerprintPrefix + hex.EncodeToString(sum[:]),
	}
}

func parsePublicKey(raw []byte) (*PublicKey, error) {
	if len(raw) != publicKeySize {
		return nil, fmt.Errorf("%w: public key is %d bytes, want %d", ErrMalformedKey, len(raw), publicKeySize)
	}
	raw = bytes.Clone(raw)
	ml := new(mldsa65.PublicKey)
	if err := ml.UnmarshalBinary(raw[ed25519.PublicKeySize:]); err != nil {
		return nil, fmt.Errorf("%w: ML-DSA-65 public key: %w", ErrMalformedKey, err)
	}
	return newPublicKey(raw, ml), nil
}

// Public returns the verification key of k.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// String identifies the key by its public fingerprint; it never prints secret material.
func (k *PrivateKey) String() string { return "bundle.PrivateKey(" + k.pub.fp + ")" }

// GoString is String, so that %#v does not print the seeds either.
func (k *PrivateKey) GoString() string { return k.String() }

// Fingerprint returns the key's identity, "sha256:" followed by the lower-case
// hex SHA-256 of the Ed25519 public key followed by the ML-DSA-65 public key.
// It is the keyId of signature.json and the Signer of an opened bundle.
func (k *PublicKey) Fingerprint() string { return k.fp }

// String returns the fingerprint.
func (k *PublicKey) String() string { return k.fp }

// Name returns the name the key file gives its owner (its Name header), or
// "" when it gives none. It is a label for people, not part of the key's
// identity: the fingerprint does not cover it, and it may hold anything a
// one-line PEM header can, so a display must escape it.
func (k *PublicKey) Name() string { return k.name }

// WithName returns a copy of k that WritePublicKeyFile writes with name as
// its Name header. A name must be valid UTF-8, at most 200 bytes, with no
// control characters: it is printed to people beside the fingerprint.
func (k *PublicKey) WithName(name string) (*PublicKey, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	c := *k
	c.name = name
	return &c, nil
}

func checkName(name string) error {
	if len(name) > maxNameLen || !utf8.ValidString(name) || strings.TrimSpace(name) != name ||
		strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) {
		return fmt.Errorf("%w: key name %q: want at most %d bytes of UTF-8 without control characters or surrounding spaces", ErrMalformedKey, name, maxNameLen)
	}
	return nil
}

// WritePrivateKeyFile writes k to a new file at path with mode 0600. It refuses
// to overwrite an existing file, so a signing key is never lost by accident.
func WritePrivateKeyFile(path string, k *PrivateKey) error {
	data := pem.EncodeToMemory(&pem.Block{
		Type:    privateKeyPEMType,
		Headers: map[string]string{keyIDHeader: k.pub.fp},
		Bytes:   k.seed[:],
	})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, privateKeyPerm)
	if err != nil {
		return fmt.Errorf("bundle: write private key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("bundle: write private key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("bundle: write private key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bundle: write private key %s: %w", path, err)
	}
	return nil
}

// ReadPrivateKeyFile reads a key written by WritePrivateKeyFile. On Unix it
// refuses a file that any group or other permission bit opens (like ssh), with
// ErrKeyPermissions.
func ReadPrivateKeyFile(path string) (*PrivateKey, error) {
	data, err := readKeyFile(path, true)
	if err != nil {
		return nil, err
	}
	b, err := decodePEM(data, privateKeyPEMType)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformedKey, path, err)
	}
	if len(b.Bytes) != seedSize {
		return nil, fmt.Errorf("%w: %s: private key is %d bytes, want %d", ErrMalformedKey, path, len(b.Bytes), seedSize)
	}
	k := newPrivateKey([seedSize]byte(b.Bytes))
	if id, ok := b.Headers[keyIDHeader]; ok && id != k.pub.fp {
		return nil, fmt.Errorf("%w: %s: %s header %s does not match the key (%s)", ErrMalformedKey, path, keyIDHeader, id, k.pub.fp)
	}
	return k, nil
}

// WritePublicKeyFile writes k to path with mode 0644, replacing any file
// there; a named key (WithName) gets a Name header.
func WritePublicKeyFile(path string, k *PublicKey) error {
	headers := map[string]string{keyIDHeader: k.fp}
	if k.name != "" {
		headers[nameHeader] = k.name
	}
	data := pem.EncodeToMemory(&pem.Block{
		Type:    publicKeyPEMType,
		Headers: headers,
		Bytes:   k.raw,
	})
	if err := os.WriteFile(path, data, publicKeyPerm); err != nil {
		return fmt.Errorf("bundle: write public key: %w", err)
	}
	return nil
}

// ReadPublicKeyFile reads a key written by WritePublicKeyFile.
func ReadPublicKeyFile(path string) (*PublicKey, error) {
	data, err := readKeyFile(path, false)
	if err != nil {
		return nil, err
	}
	return parsePublicKeyPEM(path, data)
}

func parsePublicKeyPEM(path string, data []byte) (*PublicKey, error) {
	b, err := decodePEM(data, publicKeyPEMType, nameHeader)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformedKey, path, err)
	}
	k, err := parsePublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if id, ok := b.Headers[keyIDHeader]; ok && id != k.fp {
		return nil, fmt.Errorf("%w: %s: %s header %s does not match the key (%s)", ErrMalformedKey, path, keyIDHeader, id, k.fp)
	}
	// The name is kept as written (one PEM header line): a trust directory
	// is the operator's, and every display escapes it.
	k.name = b.Headers[nameHeader]
	return k, nil
}

// decodePEM accepts exactly one block of the wanted type, no headers other
// than Key-Id and those in extra, and nothing but white space around it.
func decodePEM(data []byte, typ string, extra ...string) (*pem.Block, error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	if b.Type != typ {
		return nil, fmt.Errorf("PEM block is %q, want %q", b.Type, typ)
	}
	for h := range b.Headers {
		if h != keyIDHeader && !slices.Contains(extra, h) {
			return nil, fmt.Errorf("unexpected PEM header %q", h)
		}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("trailing data after the PEM block")
	}
	return b, nil
}

func readKeyFile(path string, private bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: read key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("bundle: read key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrMalformedKey, path)
	}
	if private && runtime.GOOS != "windows" && fi.Mode().Perm()&privateKeyDenied != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrKeyPermissions, path, fi.Mode().Perm(), path)
	}
	return readLimited(f, path, maxKeyFileSize)
}

// readLimited reads all of r, failing with ErrTooLarge past limit bytes.
func readLimited(r io.Reader, name string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("bundle: read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, name, limit)
	}
	return data, nil
}

// readRegularFile opens path, insists on a regular file (not a device or a
// FIFO that could stall a read) and reads at most limit bytes.
func readRegularFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("bundle: %s is not a regular file: %w", path, fs.ErrInvalid)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, path, limit)
	}
	// Sized from Stat so a large module is read into one allocation; the
	// limit still holds if the file grows meanwhile.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("bundle: read %s: %w", path, err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, path, limit)
	}
	return buf.Bytes(), nil
}
