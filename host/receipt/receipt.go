package receipt

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

var (
	// ErrInvalid is returned for a receipt whose signatures do not verify
	// against the given key, or that is malformed.
	ErrInvalid = errors.New("receipt: invalid")
	// ErrKeyFileMode is returned for a private key file its group or others may access.
	ErrKeyFileMode = errors.New("receipt: key file open to group or others")
	// ErrMalformedKey is returned for a key file that does not decode.
	ErrMalformedKey = errors.New("receipt: malformed key")
)

const (
	domain         = "chatbridge-receipt-v1"
	privatePEMType = "CHATBRIDGE RECEIPT PRIVATE KEY"
	publicPEMType  = "CHATBRIDGE RECEIPT PUBLIC KEY"
	seedSize       = ed25519.SeedSize + mldsa65.SeedSize
	publicSize     = ed25519.PublicKeySize + mldsa65.PublicKeySize
	maxReceipt     = 1 << 20
)

// Body is what a receipt states.
type Body struct {
	// Format is "chatbridge-receipt-v1".
	Format string `json:"format"`
	// Event is what happened: "uninstall".
	Event        string `json:"event"`
	Installation string `json:"installation"`
	// KeyTag names the installation in the host's key store (hex).
	KeyTag string `json:"keyTag"`
	// Destroyed lists the key records destroyed.
	Destroyed []storage.DestroyedKey `json:"destroyed"`
	// BackupsShredded is true when the keys lived apart from the records, so
	// that every backup taken before At no longer opens for the installation.
	BackupsShredded bool      `json:"backupsShredded"`
	At              time.Time `json:"at"`
	// HostKey is the fingerprint of the key that signed the receipt.
	HostKey string `json:"hostKey"`
}

// Receipt is a signed Body as it travels.
type Receipt struct {
	Body    json.RawMessage `json:"receipt"`
	Ed25519 string          `json:"ed25519"`
	MLDSA65 string          `json:"mldsa65"`
}

// FromShredding makes the body of an uninstall's receipt.
func FromShredding(s storage.Shredding) Body {
	keys := s.Keys
	if keys == nil {
		keys = []storage.DestroyedKey{}
	}
	return Body{Format: domain, Event: "uninstall", Installation: s.Installation, KeyTag: s.Tag,
		Destroyed: keys, BackupsShredded: s.Apart, At: s.At.UTC()}
}

// PublicKey verifies receipts.
type PublicKey struct {
	ed  ed25519.PublicKey
	ml  *mldsa65.PublicKey
	raw []byte
}

// PrivateKey signs receipts. It never prints its seeds.
type PrivateKey struct {
	seed [seedSize]byte
	ed   ed25519.PrivateKey
	ml   *mldsa65.PrivateKey
	pub  *PublicKey
}

// Generate returns a new receipt key.
func Generate() (*PrivateKey, error) {
	var seed [seedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("receipt: generate key: %w", err)
	}
	return fromSeed(seed), nil
}

func fromSeed(seed [seedSize]byte) *PrivateKey {
	k := &PrivateKey{seed: seed, ed: ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize])}
	var ms [mldsa65.SeedSize]byte
	copy(ms[:], seed[ed25519.SeedSize:])
	mlPub, mlPriv := mldsa65.NewKeyFromSeed(&ms)
	k.ml = mlPriv
	raw := append(append([]byte{}, k.ed.Public().(ed25519.PublicKey)...), mlPub.Bytes()...)
	k.pub = &PublicKey{ed: ed25519.PublicKey(raw[:ed25519.PublicKeySize]), ml: mlPub, raw: raw}
	return k
}

// Public returns the verification key.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// String names the key by its fingerprint only.
func (k *PrivateKey) String() string { return "receipt.PrivateKey(" + k.pub.Fingerprint() + ")" }

// GoString is String.
func (k *PrivateKey) GoString() string { return k.String() }

// Fingerprint is "sha256:" and the hex SHA-256 of both public keys.
func (k *PublicKey) Fingerprint() string {
	sum := sha256.Sum256(k.raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func message(body []byte) []byte { return append([]byte(domain+"\x00"), body...) }

// Sign signs b, setting its HostKey to k's fingerprint.
func (k *PrivateKey) Sign(b Body) (*Receipt, error) {
	b.HostKey = k.pub.Fingerprint()
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	msg := message(body)
	ml := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(k.ml, msg, []byte(domain), true, ml); err != nil {
		return nil, fmt.Errorf("receipt: ML-DSA-65 sign: %w", err)
	}
	return &Receipt{Body: body, Ed25519: base64.StdEncoding.EncodeToString(ed25519.Sign(k.ed, msg)),
		MLDSA65: base64.StdEncoding.EncodeToString(ml)}, nil
}

// Verify checks both signatures of the receipt in data against pub and
// returns its body; anything else is ErrInvalid.
func Verify(data []byte, pub *PublicKey) (Body, error) {
	var r Receipt
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Body{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	ed, err1 := base64.StdEncoding.DecodeString(r.Ed25519)
	ml, err2 := base64.StdEncoding.DecodeString(r.MLDSA65)
	if err1 != nil || err2 != nil || len(r.Body) == 0 {
		return Body{}, fmt.Errorf("%w: signatures malformed or body missing", ErrInvalid)
	}
	// Signed compact: whitespace (an indenting printer's) does not count.
	var body bytes.Buffer
	if err := json.Compact(&body, r.Body); err != nil {
		return Body{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	msg := message(body.Bytes())
	if !ed25519.Verify(pub.ed, msg, ed) || !mldsa65.Verify(pub.ml, msg, []byte(domain), ml) {
		return Body{}, fmt.Errorf("%w: the signatures do not verify against %s", ErrInvalid, pub.Fingerprint())
	}
	var b Body
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return Body{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if b.Format != domain || b.HostKey != pub.Fingerprint() {
		return Body{}, fmt.Errorf("%w: format %q, signed by %s", ErrInvalid, b.Format, b.HostKey)
	}
	return b, nil
}

// ParsePublicKey decodes a public key file's content.
func ParsePublicKey(data []byte) (*PublicKey, error) {
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != publicPEMType || len(blk.Bytes) != publicSize {
		return nil, fmt.Errorf("%w: want a %q PEM block of %d bytes", ErrMalformedKey, publicPEMType, publicSize)
	}
	ml := new(mldsa65.PublicKey)
	if err := ml.UnmarshalBinary(blk.Bytes[ed25519.PublicKeySize:]); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedKey, err)
	}
	raw := bytes.Clone(blk.Bytes)
	return &PublicKey{ed: ed25519.PublicKey(raw[:ed25519.PublicKeySize]), ml: ml, raw: raw}, nil
}

// ReadPublicKeyFile reads a public key file.
func ReadPublicKeyFile(path string) (*PublicKey, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(b)
}

// PEM is the public key file's content.
func (k *PublicKey) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: publicPEMType, Bytes: k.raw})
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxReceipt+1))
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	if len(b) > maxReceipt {
		return nil, fmt.Errorf("receipt: %s is over %d bytes", path, maxReceipt)
	}
	return b, nil
}

// ReadPrivateKeyFile reads a private key file; one its group or others may
// access is refused (ErrKeyFileMode).
func ReadPrivateKeyFile(path string) (*PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v, want 0600", ErrKeyFileMode, path, fi.Mode().Perm())
	}
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != privatePEMType || len(blk.Bytes) != seedSize {
		return nil, fmt.Errorf("%w: %s", ErrMalformedKey, path)
	}
	var seed [seedSize]byte
	copy(seed[:], blk.Bytes)
	return fromSeed(seed), nil
}

// LoadOrCreate reads the private key at path, creating it (mode 0600, its
// directory 0700) with its public key at path+".pub" when it is missing.
func LoadOrCreate(path string) (*PrivateKey, error) {
	k, err := ReadPrivateKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	if k, err = Generate(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process made it meanwhile
			return ReadPrivateKeyFile(path)
		}
		return nil, fmt.Errorf("receipt: %w", err)
	}
	_, err = f.Write(pem.EncodeToMemory(&pem.Block{Type: privatePEMType, Bytes: k.seed[:]}))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.WriteFile(path+".pub", k.pub.PEM(), 0o644)
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("receipt: write key: %w", err)
	}
	return k, nil
}
