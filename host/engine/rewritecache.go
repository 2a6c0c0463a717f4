package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	"github.com/chatbridge/chatbridge/host/fuel"
)

// rewrite returns module with fuel checks, and the names of the globals the
// rewrite exported. With a cache directory it keeps the result beside
// wazero's compiled code, so that a restart loads both instead of
// rewriting (50-120 ms for the bridge) and then looking the compiled code up.
//
// An entry is keyed by the module's SHA-256, the rewrite's settings and the
// identity (size and modification time) of the running executable, so that
// a new build of the host, which may rewrite differently, never reads an
// older build's entry. The directory is trusted as wazero's cache is: it
// already holds machine code that runs unchecked.
func rewrite(module []byte, cacheDir string, c fuel.Config) ([]byte, []string, error) {
	var path string
	if cacheDir != "" {
		if key, ok := rewriteKey(module, c); ok {
			path = filepath.Join(cacheDir, "fuel", key)
			if out, err := os.ReadFile(path + ".wasm"); err == nil {
				if g, err := os.ReadFile(path + ".globals"); err == nil {
					return out, strings.Fields(string(g)), nil
				}
			}
		}
	}
	out, stats, err := fuel.RewriteWithStats(module, c)
	if err != nil {
		return nil, nil, err
	}
	if path != "" {
		// Best effort: a failed write only costs the next start a rewrite.
		// The module goes last, so a reader never pairs it with no globals.
		if writeAtomic(path+".globals", []byte(strings.Join(stats.Globals, "\n"))) == nil {
			_ = writeAtomic(path+".wasm", out)
		}
	}
	return out, stats.Globals, nil
}

// rewriteKey names a cache entry; false when the executable cannot be
// identified (then nothing is cached).
func rewriteKey(module []byte, c fuel.Config) (string, bool) {
	exe, err := os.Executable()
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return "", false
	}
	h := sha256.New()
	h.Write(module)
	var b [8 + 4 + 1 + 8 + 8]byte
	binary.LittleEndian.PutUint32(b[8:], c.Quantum)
	if c.ExportGlobals {
		b[12] = 1
	}
	binary.LittleEndian.PutUint64(b[13:], uint64(fi.Size()))
	binary.LittleEndian.PutUint64(b[21:], uint64(fi.ModTime().UnixNano()))
	copy(b[:8], "fuelv1\x00\x00")
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil)), true
}

// writeAtomic writes b to path through a temporary file and a rename.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}
