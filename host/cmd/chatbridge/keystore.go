package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/chatbridge/chatbridge/host/receipt"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
)

// keysDir holds what must never be copied with the data: the key store
// (the wrapped keys of every installation, seal.Config.KeyStore) and the
// host's receipt key. Backups copy chatbridge.db (or `chatbridge backup`)
// only, so destroying a site's keys here shreds every earlier backup of it.
func keysDir(dir string) string { return filepath.Join(dir, "keys") }

// keyStoreFile is the BuntDB key store beside a BuntDB data file.
func keyStoreFile(dir string) string { return filepath.Join(keysDir(dir), "keys.db") }

// receiptKeyFile is the host's receipt signing key; its public key is
// receiptKeyFile + ".pub".
func receiptKeyFile(dir string) string { return filepath.Join(keysDir(dir), "receipt.key") }

// keysPrefix is where the key store lives in etcd: beside the records'
// prefix, not under it, so that a backup of the records (their prefix)
// never holds a key.
func keysPrefix(dataPrefix string) string {
	return strings.TrimSuffix(dataPrefix, "/") + "-keys/"
}

// openKeys opens the key store of the backend sf chooses. Call it after
// sf.open, which has checked the flags.
func (s storeFlags) openKeys(ctx context.Context, dir string) (storage.Backend, error) {
	if s.backend == "etcd" {
		var eps []string
		for _, e := range strings.Split(s.endpoints, ",") {
			if e = strings.TrimSpace(e); e != "" {
				eps = append(eps, e)
			}
		}
		return etcd.Open(ctx, etcd.Config{
			Endpoints: eps, Prefix: keysPrefix(s.prefix),
			CertFile: s.cert, KeyFile: s.key, CAFile: s.ca,
			Username: s.user, Password: os.Getenv(etcdPasswordEnv),
		})
	}
	if err := os.MkdirAll(keysDir(dir), 0o700); err != nil {
		return nil, err
	}
	return bunt.Open(keyStoreFile(dir), bunt.Config{})
}

// receiptKey loads the host's receipt key, making one on first use.
func receiptKey(dir string) (*receipt.PrivateKey, error) {
	return receipt.LoadOrCreate(receiptKeyFile(dir))
}
