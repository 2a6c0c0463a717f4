package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

// Store chooses the storage backend: BuntDB, a file in the data directory
// (one machine), or an etcd cluster (several nodes).
type Store struct {
	// Backend is "bunt" (the default) or "etcd".
	Backend string
	// Endpoints, Prefix, the TLS files and the user are etcd's.
	Endpoints             []string
	Prefix                string
	CertFile, KeyFile, CA string
	Username, Password    string
}

// IsEtcd reports whether the store is an etcd cluster.
func (s Store) IsEtcd() bool { return s.Backend == "etcd" }

// Open opens the chosen backend, unsealed; dir is the data directory.
func (s Store) Open(ctx context.Context, dir string) (storage.Backend, error) {
	switch s.Backend {
	case "", "bunt":
		if len(s.Endpoints) > 0 || s.CertFile != "" || s.KeyFile != "" || s.CA != "" || s.Username != "" {
			return nil, errors.New("-etcd-* flags need -storage etcd")
		}
		return bunt.Open(DataFile(dir), bunt.Config{})
	case "etcd":
		if len(s.Endpoints) == 0 {
			return nil, errors.New("-storage etcd needs -etcd-endpoints")
		}
		if !strings.HasSuffix(s.Prefix, "/") {
			// The nodes coordinate beside the prefix (ClusterPrefix), which
			// only a prefix ending in "/" keeps apart from the records.
			return nil, fmt.Errorf("-etcd-prefix %q must end with /", s.Prefix)
		}
		return etcd.Open(ctx, etcd.Config{
			Endpoints: s.Endpoints, Prefix: s.Prefix,
			CertFile: s.CertFile, KeyFile: s.KeyFile, CAFile: s.CA,
			Username: s.Username, Password: s.Password,
			// Installation records, secrets and the module's CachedKeys are
			// read from memory, kept coherent by a watch (RATIONALE.md,
			// "Why a read cache on etcd").
			ReadCache: &etcd.CacheConfig{},
		})
	}
	return nil, fmt.Errorf("unknown -storage %q (bunt or etcd)", s.Backend)
}

// CachedKeys are the bridge's storage keys (plugin/bridge/store.go) whose
// reads a node on etcd answers from its read cache: a project's
// configuration and the chat <-> request mapping, read on every message
// and changed rarely. A cached read sees every write of its own node and
// every write acknowledged etcd.CacheConfig.MaxStale (2 s) before; a
// chat's messages are consumed on one node at a time (its queue lane, whose
// claim outlives MaxStale), so only an administrator's change made through
// another node can be seen late, by at most that. Delivery progress and
// claims (dedupe:), the queue and every conditional write stay
// linearizable.
var CachedKeys = []string{"config:", "chat:", "issue:"}

// KeysDir holds what must never be copied with the data: the key store
// (the wrapped keys of every installation, seal.Config.KeyStore) and the
// host's receipt key. Backups copy chatbridge.db (or `chatbridge backup`)
// only, so destroying a site's keys here shreds every earlier backup of it.
func KeysDir(dir string) string { return filepath.Join(dir, "keys") }

// KeyStoreFile is the BuntDB key store beside a BuntDB data file.
func KeyStoreFile(dir string) string { return filepath.Join(KeysDir(dir), "keys.db") }

// ReceiptKeyFile is the host's receipt signing key; its public key is
// ReceiptKeyFile + ".pub".
func ReceiptKeyFile(dir string) string { return filepath.Join(KeysDir(dir), "receipt.key") }

// keysPrefix is where the key store lives in etcd: beside the records'
// prefix, not under it, so that a backup of the records (their prefix)
// never holds a key.
func keysPrefix(dataPrefix string) string {
	return strings.TrimSuffix(dataPrefix, "/") + "-keys/"
}

// openKeys opens the key store of the backend s chooses. Call it after
// Open, which has checked the settings.
func (s Store) openKeys(ctx context.Context, dir string) (storage.Backend, error) {
	if s.IsEtcd() {
		return etcd.Open(ctx, etcd.Config{
			Endpoints: s.Endpoints, Prefix: keysPrefix(s.Prefix),
			CertFile: s.CertFile, KeyFile: s.KeyFile, CAFile: s.CA,
			Username: s.Username, Password: s.Password,
		})
	}
	if err := os.MkdirAll(KeysDir(dir), 0o700); err != nil {
		return nil, err
	}
	return bunt.Open(KeyStoreFile(dir), bunt.Config{})
}

// ClusterPrefix is where the nodes sharing an etcd prefix coordinate:
// beside the records' prefix, not under it, so that backups and
// compactions of the records never see coordination keys.
func ClusterPrefix(dataPrefix string) string {
	return strings.TrimSuffix(dataPrefix, "/") + "-cluster/"
}

// DataFile is the BuntDB file in the data directory.
func DataFile(dir string) string { return filepath.Join(dir, "chatbridge.db") }

// DevMasterKeyFile is where the emulator keeps its generated master key. It
// sits in the data directory because dev data is throwaway; production
// refuses that placement.
func DevMasterKeyFile(dir string) string { return filepath.Join(dir, "dev", "master.key") }

// masterKeys loads the master keys: the emulator makes its own; production
// takes the environment variable or a key file kept away from the data.
func masterKeys(dir, keyFile string, dev bool) ([]*seal.MasterKey, error) {
	if dev {
		return seal.EnsureDevKeyFile(DevMasterKeyFile(dir))
	}
	if keyFile != "" {
		if err := seal.CheckKeyPlacement(keyFile, DataFile(dir)); err != nil {
			return nil, err
		}
	}
	return seal.LoadMasterKeys(keyFile)
}

// OpenStore opens the sealed store of data directory dir on the backend sc
// chooses, with its key store apart (KeysDir), with the master key of keyFile (or the environment), or the
// emulator's own when dev is set.
func OpenStore(ctx context.Context, dir, keyFile string, dev bool, sc Store) (*seal.Store, error) {
	keys, err := masterKeys(dir, keyFile, dev)
	if err != nil {
		return nil, err
	}
	db, err := sc.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	var cfg seal.Config
	if cfg.KeyStore, err = sc.openKeys(ctx, dir); err != nil {
		_ = db.Close()
		return nil, err
	}
	if sc.IsEtcd() {
		// Other nodes share the records: re-read an installation's keys
		// every so often, so that their rotations, installs and purges
		// reach this one.
		cfg.KeyCacheTTL = 30 * time.Second
	}
	s, err := seal.Open(ctx, db, keys, cfg)
	if err != nil {
		_ = db.Close()
		_ = cfg.KeyStore.Close()
		return nil, err
	}
	return s, nil
}
