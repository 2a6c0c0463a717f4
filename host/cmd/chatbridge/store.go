package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
)

const masterKeyEnv = seal.EnvMasterKey

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

// openStore opens the sealed store on BuntDB in dir.
func openStore(ctx context.Context, dir, keyFile string, dev bool) (*seal.Store, error) {
	keys, err := masterKeys(dir, keyFile, dev)
	if err != nil {
		return nil, err
	}
	db, err := bunt.Open(dataFile(dir), bunt.Config{})
	if err != nil {
		return nil, err
	}
	s, err := seal.Open(ctx, db, keys, seal.Config{})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// runKeys is `chatbridge keys rotate`: a new master key re-wraps every data
// key; the store must not be open in a running host (the file is locked).
func runKeys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(stderr, "usage: chatbridge keys rotate -data DIR -master-key FILE")
		return errUsage
	}
	fs := newFlags("keys rotate", stderr)
	data := fs.String("data", "/var/lib/chatbridge", "data directory")
	keyFile := fs.String("master-key", "", "master key file to rotate (the new key is written first)")
	dataKeys := fs.Bool("data-keys", false, "also rotate every installation's data key and re-seal its records")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *keyFile == "" {
		return errors.New("-master-key is required (keys from " + masterKeyEnv + " are rotated by whoever keeps them)")
	}
	ctx := context.Background()
	s, err := openStore(ctx, *data, *keyFile, false)
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
