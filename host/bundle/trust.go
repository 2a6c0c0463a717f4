package bundle

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// RevokedFile is the optional file in a trust directory that lists revoked
// fingerprints, one a line; blank lines and lines starting with # are ignored.
const RevokedFile = "revoked"

// PublicKeyExt is the file name extension of the public key files a trust
// directory holds.
const PublicKeyExt = ".pub"

const maxRevokedSize = 1 << 20

// Trust is the set of vendor keys the host accepts bundles from, minus the
// revoked ones. It is immutable once built and safe for concurrent use. The
// zero value and a nil *Trust trust nobody.
type Trust struct {
	keys    map[string]*PublicKey // by fingerprint
	revoked map[string]bool       // by fingerprint; wins over keys
}

// NewTrust returns a Trust that accepts keys unless their fingerprint is in
// revoked.
func NewTrust(keys []*PublicKey, revoked []string) *Trust {
	t := &Trust{keys: make(map[string]*PublicKey, len(keys)), revoked: make(map[string]bool, len(revoked))}
	for _, k := range keys {
		t.keys[k.fp] = k
	}
	for _, fp := range revoked {
		t.revoked[strings.ToLower(strings.TrimSpace(fp))] = true
	}
	return t
}

// LoadTrust loads a trust directory: every *.pub file in it is a trusted
// public key (see WritePublicKeyFile), and an optional file named "revoked"
// lists revoked fingerprints. Symbolic links are followed. Dot files are
// ignored; any other entry fails the load with ErrInvalidTrust, as does a
// world-writable directory or file on Unix (anyone could add a key to it).
func LoadTrust(dir string) (*Trust, error) {
	if err := checkNotWorldWritable(dir); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle: load trust: %w", err)
	}
	var keys []*PublicKey
	var revoked []string
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") {
			continue
		}
		// Stat follows symbolic links: a Kubernetes ConfigMap mount is made of them.
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("bundle: load trust: %w", err)
		}
		switch {
		case !fi.Mode().IsRegular():
			return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalidTrust, path)
		case name == RevokedFile:
			if err := checkNotWorldWritable(path); err != nil {
				return nil, err
			}
			data, err := readRegularFile(path, maxRevokedSize)
			if err != nil {
				return nil, err
			}
			if revoked, err = parseRevoked(path, data); err != nil {
				return nil, err
			}
		case strings.HasSuffix(name, PublicKeyExt):
			if err := checkNotWorldWritable(path); err != nil {
				return nil, err
			}
			k, err := ReadPublicKeyFile(path)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		default:
			return nil, fmt.Errorf("%w: unexpected file %s (want *%s or %s)", ErrInvalidTrust, path, PublicKeyExt, RevokedFile)
		}
	}
	return NewTrust(keys, revoked), nil
}

func parseRevoked(path string, data []byte) ([]string, error) {
	var fps []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if !validFingerprint(s) {
			return nil, fmt.Errorf("%w: %s:%d: %q is not a fingerprint (sha256:<64 lower-case hex digits>)", ErrInvalidTrust, path, line, s)
		}
		fps = append(fps, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidTrust, path, err)
	}
	return fps, nil
}

func checkNotWorldWritable(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("bundle: load trust: %w", err)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return fmt.Errorf("%w: %s is world-writable (mode %04o)", ErrInvalidTrust, path, fi.Mode().Perm())
	}
	return nil
}

// lookup returns the key with fingerprint fp (nil when unknown) and whether
// fp is revoked.
func (t *Trust) lookup(fp string) (k *PublicKey, revoked bool) {
	if t == nil {
		return nil, false
	}
	return t.keys[fp], t.revoked[fp]
}
