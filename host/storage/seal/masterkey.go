package seal

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvMasterKey names the environment variable LoadMasterKeys reads first:
// one or more base64 master keys separated by commas, the first one primary.
const EnvMasterKey = "CHATBRIDGE_MASTER_KEY"

// masterKeySize is the size of an X-Wing private key (its seed).
const masterKeySize = 32

// kemKey is the HPKE implementation under a MasterKey: base mode, the X-Wing
// hybrid KEM (ML-KEM-768 + X25519), HKDF-SHA256 and AES-256-GCM, with empty
// associated data. Two implementations give identical bytes: circl's hpke
// (build tag circl) and Go's crypto/hpke (the default; see NOTES.md).
type kemKey interface {
	// wrap seals secret to the public key: HPKE enc || ciphertext.
	wrap(info, secret []byte) ([]byte, error)
	// unwrap opens what wrap sealed.
	unwrap(info, blob []byte) ([]byte, error)
	// publicKey is the serialised X-Wing public key.
	publicKey() []byte
}

// MasterKey is an X-Wing key pair that wraps the data keys. It never enters
// the data file or a backup; only its ID does. Printing one shows its ID only.
type MasterKey struct {
	id      string
	idBytes [idSize]byte
	seed    []byte
	kem     kemKey
}

// GenerateMasterKey returns a new random master key.
func GenerateMasterKey() (*MasterKey, error) {
	seed := make([]byte, masterKeySize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("seal: generate master key: %w", err)
	}
	return newMasterKey(seed)
}

func newMasterKey(seed []byte) (*MasterKey, error) {
	if len(seed) != masterKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadMasterKey, len(seed), masterKeySize)
	}
	kk, err := newKEMKey(seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMasterKey, err)
	}
	sum := sha256.Sum256(append([]byte("chatbridge/seal/master-key-id\x00"), kk.publicKey()...))
	k := &MasterKey{id: hex.EncodeToString(sum[:idSize]), seed: bytes.Clone(seed), kem: kk}
	copy(k.idBytes[:], sum[:idSize])
	return k, nil
}

// idSize is the size of a master key ID in wrapped records.
const idSize = 8

// ParseMasterKey decodes a master key from base64 (standard or URL alphabet,
// padded or not).
func ParseMasterKey(text string) (*MasterKey, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if seed, err := enc.DecodeString(text); err == nil {
			if len(seed) != masterKeySize {
				return nil, fmt.Errorf("%w: %d bytes, want %d (%s)", ErrBadMasterKey, len(seed), masterKeySize, makeOne)
			}
			return newMasterKey(seed)
		}
	}
	return nil, fmt.Errorf("%w: not base64: a master key is %d random bytes written in base64, one key a line (%s)", ErrBadMasterKey, masterKeySize, makeOne)
}

// makeOne says how to make a master key, in ParseMasterKey's errors.
const makeOne = "make one with `chatbridge keys new -out FILE`, or encode raw bytes with `base64 -w0`"

// ID identifies the key in wrapped records and logs: 16 hex digits derived
// from its public key.
func (k *MasterKey) ID() string { return k.id }

// String shows the key's ID only. The printing methods take the key by
// value so that a copy of the struct does not print its fields either.
func (k MasterKey) String() string { return "seal.MasterKey(" + k.id + ")" }

// GoString shows the key's ID only.
func (k MasterKey) GoString() string { return k.String() }

// Format shows the key's ID only, whatever the verb, so that no format
// string prints the secret.
func (k MasterKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// Secret returns the key's secret in base64, for writing a key file or the
// environment variable. Never log it.
func (k *MasterKey) Secret() string { return base64.StdEncoding.EncodeToString(k.seed) }

func (k *MasterKey) wrap(info, secret []byte) ([]byte, error) { return k.kem.wrap(info, secret) }

func (k *MasterKey) unwrap(info, blob []byte) ([]byte, error) { return k.kem.unwrap(info, blob) }

// LoadMasterKeys returns the master keys from the environment variable
// EnvMasterKey when it is set, else from keyFile (see ReadKeyFile). The
// first key is the primary: it wraps new data keys; the others only unwrap.
func LoadMasterKeys(keyFile string) ([]*MasterKey, error) {
	if v := os.Getenv(EnvMasterKey); v != "" {
		keys, err := parseKeys(strings.Split(v, ","))
		if err != nil {
			return nil, fmt.Errorf("seal: %s: %w", EnvMasterKey, err)
		}
		return keys, nil
	}
	if keyFile == "" {
		return nil, fmt.Errorf("%w: neither %s nor a key file is set", ErrNoMasterKey, EnvMasterKey)
	}
	return ReadKeyFile(keyFile)
}

// ReadKeyFile reads a key file: one base64 master key per line, the first
// one primary; blank lines and lines starting with # are ignored. It refuses
// a file that its group or others may read or write (ErrKeyFileMode).
func ReadKeyFile(path string) ([]*MasterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: key file %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v, want 0600", ErrKeyFileMode, path, fi.Mode().Perm())
	}
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	keys, err := parseKeys(lines)
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return keys, nil
}

func parseKeys(lines []string) ([]*MasterKey, error) {
	var keys []*MasterKey
	seen := map[string]bool{}
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := ParseMasterKey(line)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if !seen[k.id] {
			seen[k.id] = true
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, ErrNoMasterKey
	}
	return keys, nil
}

// WriteKeyFile writes keys, the first primary, to path with mode 0600,
// atomically: a crash leaves the old file or the new one.
func WriteKeyFile(path string, keys []*MasterKey) error {
	if len(keys) == 0 {
		return ErrNoMasterKey
	}
	b := keyFileText(keys)
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".masterkey-*")
	if err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// keyFileText is a key file's content: a comment, then each key's ID as a
// comment above its base64 secret.
func keyFileText(keys []*MasterKey) *strings.Builder {
	var b strings.Builder
	b.WriteString("# ChatBridge master keys: the first wraps new data keys, the others only unwrap.\n")
	b.WriteString("# Keep this file secret (mode 0600) and never beside the data file or its backups.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "# %s\n%s\n", k.ID(), k.Secret())
	}
	return &b
}

// CreateKeyFile writes keys to a new file at path, mode 0600, in
// ReadKeyFile's format; it refuses (fs.ErrExist) a path that exists, so that
// no key, and no data sealed under it, is lost to a slip.
func CreateKeyFile(path string, keys []*MasterKey) error {
	if len(keys) == 0 {
		return ErrNoMasterKey
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("seal: create key file: %w", err)
	}
	_, err = f.WriteString(keyFileText(keys).String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("seal: create key file: %w", err)
	}
	return nil
}

// EnsureDevKeyFile returns the keys in the development key file at path,
// creating the file (mode 0600, its directory 0700) with a new key if it is
// missing. For `make run`; production keys come from a secret store through
// EnvMasterKey or a key file kept away from the data.
func EnsureDevKeyFile(path string) ([]*MasterKey, error) {
	keys, err := ReadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return keys, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("seal: dev key file: %w", err)
	}
	k, err := GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	if err := WriteKeyFile(path, []*MasterKey{k}); err != nil {
		return nil, err
	}
	return []*MasterKey{k}, nil
}

// CheckKeyPlacement refuses a key file in the same directory as the data
// file (or under it): whoever copies the data directory must not get the key
// with it. Development setups that keep both under data/ skip this check.
func CheckKeyPlacement(keyFile, dataFile string) error {
	kd, err1 := filepath.Abs(filepath.Dir(keyFile))
	dd, err2 := filepath.Abs(filepath.Dir(dataFile))
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("seal: key placement: %w", err)
	}
	if kd == dd || strings.HasPrefix(kd, dd+string(filepath.Separator)) {
		return fmt.Errorf("%w: %s is under %s", ErrKeyPlacement, keyFile, dd)
	}
	return nil
}
