package stack

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/chatbridge/chatbridge/host/bundle"
)

// signedCopy is the emulator's own copy of the bundle it runs: the vendor's
// manifest.yml and plugin.wasm copied under <dev>/bundles and signed there
// with the dev key, so the vendor's folder is never re-signed (a bundle
// shipped dev-signed by mistake would be refused by every host but this
// one). Live reload builds into the same copy. Each emulator has its own
// (nodes of a local cluster share the data directory); remove deletes it.
func signedCopy(devDir, src string, key *bundle.PrivateKey) (dir string, remove func(), err error) {
	parent := filepath.Join(devDir, "bundles")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, err
	}
	if dir, err = os.MkdirTemp(parent, "bundle-"); err != nil {
		return "", nil, err
	}
	remove = func() { _ = os.RemoveAll(dir) }
	if err := copyBundle(src, dir); err != nil {
		remove()
		return "", nil, fmt.Errorf("copy %s: %w", src, err)
	}
	if err := bundle.Sign(dir, key); err != nil {
		remove()
		return "", nil, fmt.Errorf("sign the copy of the bundle with the dev key: %w", err)
	}
	return dir, remove, nil
}

// copyBundle copies a bundle's manifest.yml and plugin.wasm (not its
// signature) from src into dst.
func copyBundle(src, dst string) error {
	for _, name := range []string{"manifest.yml", "plugin.wasm"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return fmt.Errorf("the bundle: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
