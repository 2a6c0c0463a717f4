//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package bunt

import (
	"fmt"
	"os"
)

// lockFile only opens path here: this platform has no flock, so keeping one
// process per data file is up to the operator.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bunt: lock: %w", err)
	}
	return f, nil
}

func unlockFile(f *os.File) { _ = f.Close() }

// syncDir is best effort where directories cannot be fsynced.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	_ = f.Sync()
	return f.Close()
}
