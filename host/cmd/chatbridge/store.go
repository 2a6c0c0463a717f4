package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
)

const masterKeyEnv = seal.EnvMasterKey

// etcdPasswordEnv holds the etcd user's password: a variable, not a flag, so
// that it does not show in the process list.
const etcdPasswordEnv = "CHATBRIDGE_ETCD_PASSWORD"

// storeFlags choose the storage backend: BuntDB, a file under -data (the
// default, for one machine), or an etcd cluster (for several host nodes).
type storeFlags struct {
	backend, endpoints, prefix string
	cert, key, ca, user        string
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.backend, "storage", "bunt", "storage backend: bunt (a file under -data) or etcd")
	fs.StringVar(&s.endpoints, "etcd-endpoints", "", "etcd client URLs, comma-separated (with -storage etcd)")
	fs.StringVar(&s.prefix, "etcd-prefix", "chatbridge/", "prefix of every key in etcd")
	fs.StringVar(&s.cert, "etcd-cert", "", "TLS client certificate for etcd (PEM)")
	fs.StringVar(&s.key, "etcd-key", "", "TLS client key for etcd (PEM)")
	fs.StringVar(&s.ca, "etcd-ca", "", "CA certificates of the etcd members (PEM; default: the system's)")
	fs.StringVar(&s.user, "etcd-user", "", "etcd user; the password is read from "+etcdPasswordEnv)
}

// open opens the chosen backend; dir is the data directory.
func (s storeFlags) open(ctx context.Context, dir string) (storage.Backend, error) {
	switch s.backend {
	case "", "bunt":
		if s.endpoints != "" || s.cert != "" || s.key != "" || s.ca != "" || s.user != "" {
			return nil, errors.New("-etcd-* flags need -storage etcd")
		}
		return bunt.Open(dataFile(dir), bunt.Config{})
	case "etcd":
		var eps []string
		for _, e := range strings.Split(s.endpoints, ",") {
			if e = strings.TrimSpace(e); e != "" {
				eps = append(eps, e)
			}
		}
		if len(eps) == 0 {
			return nil, errors.New("-storage etcd needs -etcd-endpoints")
		}
		if !strings.HasSuffix(s.prefix, "/") {
			// The nodes coordinate beside the prefix (clusterPrefix), which
			// only a prefix ending in "/" keeps apart from the records.
			return nil, fmt.Errorf("-etcd-prefix %q must end with /", s.prefix)
		}
		return etcd.Open(ctx, etcd.Config{
			Endpoints: eps, Prefix: s.prefix,
			CertFile: s.cert, KeyFile: s.key, CAFile: s.ca,
			Username: s.user, Password: os.Getenv(etcdPasswordEnv),
		})
	}
	return nil, fmt.Errorf("unknown -storage %q (bunt or etcd)", s.backend)
}

// clusterPrefix is where the nodes sharing an etcd prefix coordinate:
// beside the records' prefix, not under it, so that backups and
// compactions of the records never see coordination keys.
func clusterPrefix(dataPrefix string) string {
	return strings.TrimSuffix(dataPrefix, "/") + "-cluster/"
}

// dataFile is the BuntDB file under the data directory.
func dataFile(dir string) string { return filepath.Join(dir, "chatbridge.db") }

// devMasterKeyFile is where dev mode keeps its generated master key. It sits
// under data/ because dev data is throwaway; serve refuses that placement.
func devMasterKeyFile(dir string) string { return filepath.Join(dir, "dev", "master.key") }

// masterKeys loads the master keys: dev mode creates its own; serve takes
// the environment variable or a key file kept away from the data.
func masterKeys(dir, keyFile string, dev bool) ([]*seal.MasterKey, error) {
	if dev {
		return seal.EnsureDevKeyFile(devMasterKeyFile(dir))
	}
	if keyFile != "" {
		if err := seal.CheckKeyPlacement(keyFile, dataFile(dir)); err != nil {
			return nil, err
		}
	}
	return seal.LoadMasterKeys(keyFile)
}

// openStore opens the sealed store on the backend sf chooses (BuntDB in dir
// by default).
func openStore(ctx context.Context, dir, keyFile string, dev bool, sf storeFlags) (*seal.Store, error) {
	keys, err := masterKeys(dir, keyFile, dev)
	if err != nil {
		return nil, err
	}
	db, err := sf.open(ctx, dir)
	if err != nil {
		return nil, err
	}
	var cfg seal.Config
	if cfg.KeyStore, err = sf.openKeys(ctx, dir); err != nil {
		_ = db.Close()
		return nil, err
	}
	if sf.backend == "etcd" {
		// Other hosts share the records: re-read an installation's keys
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

// runKeys is `chatbridge keys rotate`: a new master key re-wraps every data
// key; the store must not be open in a running host (the file is locked).
func runKeys(args []string, stdout, stderr io.Writer) error {
	return subcommands("keys", []command{
		{name: "new", summary: "write a new master key file (0600; refuses to overwrite)", run: keysNew},
		{name: "rotate", summary: "a new master key re-wraps every data key (host stopped)", run: keysRotate},
	}, args, stdout, stderr)
}

// keysNew is `chatbridge keys new -out FILE`: a fresh master key in the key
// file format serve's -master-key reads. With -out -, the key alone goes to
// stdout, for CHATBRIDGE_MASTER_KEY or a vault.
func keysNew(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys new", stderr)
	out := fs.String("out", "", "key file to create (mode 0600; an existing file is refused); - prints the key alone, for "+masterKeyEnv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "usage: chatbridge keys new -out FILE (keep FILE outside the data directory)")
		return errUsage
	}
	k, err := seal.GenerateMasterKey()
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := fmt.Fprintln(stdout, k.Secret())
		return err
	}
	if err := seal.CreateKeyFile(*out, []*seal.MasterKey{k}); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: it may be the key your data is sealed with, so it is not overwritten (rotate with `chatbridge keys rotate`)", *out)
		}
		return err
	}
	fmt.Fprintf(stdout, "wrote master key %s to %s\n", k.ID(), *out)
	return nil
}

// keysRotate is `chatbridge keys rotate`.
func keysRotate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys rotate", stderr)
	data := fs.String("data", defaultDataDir, "data directory")
	keyFile := fs.String("master-key", "", "master key file to rotate (the new key is written first)")
	dataKeys := fs.Bool("data-keys", false, "also rotate every installation's data key and re-seal its records")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *keyFile == "" {
		return errors.New("-master-key is required (keys from " + masterKeyEnv + " are rotated by whoever keeps them)")
	}
	ctx := context.Background()
	s, err := openStore(ctx, *data, *keyFile, false, sf)
	if err != nil {
		return err
	}
	defer s.Close()
	k, err := seal.RotateKeyFile(ctx, s, *keyFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new primary master key %s; data keys re-wrapped\n", k.ID())
	if *dataKeys {
		if err := rotateDataKeys(ctx, s, *data, stdout); err != nil {
			return err
		}
	}
	return nil
}

// rotateDataKeys gives every installation, and the host, a new data key and
// waits until every record is re-sealed under it.
func rotateDataKeys(ctx context.Context, s *seal.Store, dir string, stdout io.Writer) error {
	reg, err := tenant.Open(ctx, s)
	if err != nil {
		return err
	}
	ids := []string{storage.HostInstallation}
	for _, in := range reg.List() {
		ids = append(ids, in.ID)
	}
	for _, id := range ids {
		if err := s.RotateDataKey(ctx, id); err != nil {
			return fmt.Errorf("rotate the data key of %q: %w", id, err)
		}
	}
	if err := s.WaitReseal(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rotated %d data keys; every record re-sealed\n", len(ids))
	return nil
}
