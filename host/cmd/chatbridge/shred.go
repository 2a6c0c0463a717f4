package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/chatbridge/chatbridge/host/receipt"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
)

// runUninstall is `chatbridge uninstall`: the host destroys the site's keys
// and records and answers with a signed receipt, which goes to stdout (and
// to -receipt FILE).
func runUninstall(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("uninstall", stderr)
	target := adminFlags(fs)
	out := fs.String("receipt", "", "also write the signed receipt to this file (verify it with `chatbridge receipt verify`)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: chatbridge uninstall [flags] INSTALLATION_ID")
		return errUsage
	}
	c, err := newAdminClient(target)
	if err != nil {
		return err
	}
	var rc json.RawMessage
	if err := c.do("DELETE", "/admin/installations/"+fs.Arg(0), nil, &rc); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, rc, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	if *out != "" {
		if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("uninstalled, but the receipt was not written: %w", err)
		}
	}
	fmt.Fprintf(stderr, "uninstalled %s; its keys are destroyed and its data purged; the receipt follows\n", fs.Arg(0))
	_, err = stdout.Write(buf.Bytes())
	return err
}

// runReceipt is `chatbridge receipt verify|key`.
func runReceipt(args []string, stdout, stderr io.Writer) error {
	return subcommands("receipt", []command{
		{name: "verify", summary: "verify an uninstall receipt offline with the host's public key", run: receiptVerify},
		{name: "key", summary: "print the host's receipt public key (from -data, made on first start)", run: receiptKeyCmd},
	}, args, stdout, stderr)
}

func receiptVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("receipt verify", stderr)
	pubFile := fs.String("pub", "", "the host's receipt public key (DATA/keys/receipt.key.pub, or `chatbridge receipt key`)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *pubFile == "" {
		fmt.Fprintln(stderr, "usage: chatbridge receipt verify -pub HOST_KEY.pub RECEIPT")
		return errUsage
	}
	pub, err := receipt.ReadPublicKeyFile(*pubFile)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := receipt.Verify(data, pub)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "valid: installation %s uninstalled at %s; %d key records destroyed; earlier backups shredded: %v; signed by %s\n",
		b.Installation, b.At.Format("2006-01-02T15:04:05Z07:00"), len(b.Destroyed), b.BackupsShredded, b.HostKey)
	return nil
}

func receiptKeyCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("receipt key", stderr)
	data := fs.String("data", defaultDataDir, "data directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	pub, err := receipt.ReadPublicKeyFile(receiptKeyFile(*data) + ".pub")
	if err != nil {
		return err
	}
	_, err = stdout.Write(pub.PEM())
	return err
}

// runBackup is `chatbridge backup -out FILE`: a snapshot of a running
// host's records, still sealed and without keys.
func runBackup(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backup", stderr)
	target := adminFlags(fs)
	out := fs.String("out", "", "file to write (refused if it exists)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "usage: chatbridge backup [flags] -out FILE")
		return errUsage
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
	hc := *c.http
	hc.Timeout = 0 // a large store takes its time
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /admin/backup: %s", resp.Status)
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(*out)
		return err
	}
	fmt.Fprintf(stdout, "wrote %d bytes to %s (sealed records; it opens only beside this host's key store)\n", n, *out)
	return nil
}

// runRestore is `chatbridge restore -in FILE`, the host stopped: the
// backup's records become the data file (or the empty etcd prefix), opened
// beside the live key store. Installations uninstalled since the backup
// stay unreadable and are dropped.
func runRestore(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("restore", stderr)
	data := fs.String("data", defaultDataDir, "data directory; its chatbridge.db must not exist, its keys/ must be the live key store")
	keyFile := fs.String("master-key", "", "master key file (default: "+masterKeyEnv+")")
	in := fs.String("in", "", "backup file (`chatbridge backup`)")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *in == "" {
		fmt.Fprintln(stderr, "usage: chatbridge restore [flags] -in BACKUP")
		return errUsage
	}
	ctx := context.Background()
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	if sf.backend == "" || sf.backend == "bunt" {
		if err := os.MkdirAll(*data, 0o700); err != nil {
			return err
		}
		if err := bunt.Restore(ctx, dataFile(*data), f); err != nil {
			return err
		}
	} else {
		db, err := sf.open(ctx, *data)
		if err != nil {
			return err
		}
		err = seal.Restore(ctx, f, db)
		_ = db.Close()
		if err != nil {
			return err
		}
	}
	s, err := openStore(ctx, *data, *keyFile, false, sf)
	if err != nil {
		if errors.Is(err, seal.ErrKeyStoreMismatch) && sf.backend != "etcd" {
			_ = os.Remove(dataFile(*data))
			return fmt.Errorf("%w: the backup needs the key store (%s) of the host that took it; nothing restored", err, filepath.Dir(keyStoreFile(*data)))
		}
		return err
	}
	defer s.Close()
	reg, err := tenant.Open(ctx, s) // drops installations shredded since
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s: %d installations\n", *in, len(reg.List()))
	return nil
}
