package node

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AdminTokenFile is the admin token's file in the data directory.
const AdminTokenFile = "admin.token"

// AdminToken reads the admin API token from the data directory, creating it
// (0600) on first start. A `chatbridge sims` process and the dev nodes
// that share its data directory may start at once: the file appears
// whole, once (written aside, then linked into place), and whoever loses
// the race reads the winner's token.
func AdminToken(dir string) (string, error) {
	path := filepath.Join(dir, AdminTokenFile)
	if tok, err := loadAdminToken(path); !errors.Is(err, os.ErrNotExist) {
		return tok, err
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	tmp, err := os.CreateTemp(dir, ".admin.token-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(tok + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return loadAdminToken(path)
	} else if err != nil {
		return "", err
	}
	return tok, nil
}

func loadAdminToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s is empty: delete it to have a new token made", path)
	}
	return tok, nil
}
