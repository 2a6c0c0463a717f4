package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/node"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
)

// runBackup is `chatbridge backup > FILE`: a running host streams a
// consistent snapshot of its store, still sealed, while it serves.
func runBackup(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backup", stderr)
	target := adminFlags(fs)
	out := fs.String("out", "-", "file to write (created 0600, never overwritten); - is stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	c, err := newAdminClient(target)
	if err != nil {
		return err
	}
	req, err := http.NewRequest("GET", c.base+"/admin/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	// A backup of a big store takes longer than the client's usual bound.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET /admin/backup: %s: %s", resp.Status, b)
	}
	w, finish := stdout, func() error { return nil }
	if *out != "-" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		w = f
		finish = func() error {
			err := f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}
	}
	n, err := io.Copy(w, resp.Body)
	if ferr := finish(); err == nil {
		err = ferr
	}
	if err != nil {
		if *out != "-" {
			_ = os.Remove(*out)
		}
		return fmt.Errorf("the backup was cut short (%w); nothing usable was written", err)
	}
	fmt.Fprintf(stderr, "backup: %d bytes, still sealed: keep the master keys that open it\n", n)
	return nil
}

// runRestore is `chatbridge restore -data DIR < FILE`, the host stopped: a
// backup's records become the store of a data directory that has none
// (atomically), or of an empty etcd prefix, and are opened beside the live
// key store to check that they belong to it. Installations uninstalled
// since the backup stay unreadable and are dropped.
func runRestore(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("restore", stderr)
	data := fs.String("data", defaultDataDir, "data directory to restore into: no chatbridge.db yet, and keys/ the live key store")
	in := fs.String("in", "-", "backup file; - is stdin")
	keyFile := fs.String("master-key", "", "master key file (default: "+masterKeyEnv+")")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	ctx := context.Background()
	if sf.backend == "etcd" {
		db, err := sf.config().Open(ctx, *data)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := seal.Restore(ctx, r, db); err != nil {
			if errors.Is(err, seal.ErrNotEmpty) {
				return fmt.Errorf("the etcd prefix %s holds records: restore only into an empty one", sf.prefix)
			}
			return err
		}
	} else {
		if err := os.MkdirAll(*data, 0o700); err != nil {
			return err
		}
		if err := bunt.Restore(ctx, node.DataFile(*data), r); err != nil {
			if errors.Is(err, bunt.ErrExists) {
				return fmt.Errorf("%s exists: restore only into a data directory without a store (move it away first)", node.DataFile(*data))
			}
			return err
		}
	}
	st, err := openStore(ctx, *data, *keyFile, false, sf)
	if err != nil {
		if errors.Is(err, seal.ErrKeyStoreMismatch) && sf.backend != "etcd" {
			_ = os.Remove(node.DataFile(*data))
			return fmt.Errorf("%w: the backup needs the key store (%s) of the host that took it; nothing restored", err, node.KeysDir(*data))
		}
		return err
	}
	defer st.Close()
	reg, err := tenant.Open(ctx, st) // drops the installations shredded since
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored: %d installations; start the host with the master keys the backup was made under\n", len(reg.List()))
	return nil
}

// bundleReload is `chatbridge bundle reload`: the running host loads the
// bundle now in its -bundle directory.
func bundleReload(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bundle reload", stderr)
	target := adminFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	c, err := newAdminClient(target)
	if err != nil {
		return err
	}
	var v adminapi.BundleView
	if err := c.do("POST", "/admin/bundle/reload", struct{}{}, &v); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %s\nsigner %s\nmodule sha256 %s\nmanifest sha256 %s\n", v.App, v.Signer, v.ModuleSHA256, v.ManifestSHA256)
	return nil
}

// newMasterKeyEnv holds the new master key for an online rotation of a host
// whose keys come from the environment.
const newMasterKeyEnv = "CHATBRIDGE_NEW_MASTER_KEY"

// keysRotateOnline is `chatbridge keys rotate -admin URL`: the running host
// rotates its master key while it serves.
func keysRotateOnline(target *adminTarget, stdout io.Writer) error {
	c, err := newAdminClient(target)
	if err != nil {
		return err
	}
	// With keys from the environment the operator makes the key; with a
	// key file the host does, and the variable must be empty.
	req := adminapi.RotateRequest{Key: os.Getenv(newMasterKeyEnv)}
	var out adminapi.KeyRotation
	if err := c.do("POST", "/admin/keys/rotate", req, &out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new primary master key %s; every wrapped key re-wrapped\n", out.Primary)
	if out.KeyFile != "" {
		fmt.Fprintf(stdout, "key file %s holds the keys in use: %v\n", out.KeyFile, out.InUse)
	} else {
		fmt.Fprintf(stdout, "keys in use: %v: set %s to the new key alone, then unset %s\n", out.InUse, masterKeyEnv, newMasterKeyEnv)
	}
	return nil
}
