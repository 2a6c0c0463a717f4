package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/chatbridge/chatbridge/host/bundle"
)

func runBundle(args []string, stdout, stderr io.Writer) error {
	return subcommands("bundle", []command{
		{name: "build", summary: "build a plugin's wasm module beside its manifest into a bundle directory", run: bundleBuild},
		{name: "keygen", summary: "write a new vendor signing key pair", run: bundleKeygen},
		{name: "sign", summary: "sign a bundle directory with a vendor key", run: bundleSign},
		{name: "verify", summary: "check a bundle's signature against a trust directory", run: bundleVerify},
		{name: "reload", summary: "a running host loads the bundle now in its -bundle directory", run: bundleReload},
	}, args, stdout, stderr)
}

func bundleKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bundle keygen", stderr)
	priv := fs.String("key", "vendor.key", "private key file to write (mode 0600)")
	pub := fs.String("pub", "vendor.pub", "public key file to write, for hosts' trust directories")
	name := fs.String("name", "", "the key owner's name, written into the public key file (audit shows it beside the fingerprint)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	// The key's folder is private; the public key's is a trust directory,
	// which LoadTrust refuses when world-writable.
	if err := os.MkdirAll(filepath.Dir(*priv), 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*pub), 0o755); err != nil {
		return err
	}
	k, err := bundle.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	public := k.Public()
	if *name != "" {
		if public, err = public.WithName(*name); err != nil {
			return err
		}
	}
	if err := bundle.WritePrivateKeyFile(*priv, k); err != nil {
		return err
	}
	if err := bundle.WritePublicKeyFile(*pub, public); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\nsigner %s\n", *priv, *pub, k.Public().Fingerprint())
	return nil
}

func bundleSign(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bundle sign", stderr)
	keyFile := fs.String("key", "vendor.key", "private key file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: chatbridge bundle sign -key FILE BUNDLE_DIR")
		return errUsage
	}
	k, err := bundle.ReadPrivateKeyFile(*keyFile)
	if err != nil {
		return err
	}
	if err := bundle.Sign(fs.Arg(0), k); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed %s as %s\n", fs.Arg(0), k.Public().Fingerprint())
	return nil
}

func bundleVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bundle verify", stderr)
	trustDir := fs.String("trust", "", "directory of trusted vendor public keys (and an optional revoked file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *trustDir == "" {
		fmt.Fprintln(stderr, "usage: chatbridge bundle verify -trust DIR BUNDLE_DIR")
		return errUsage
	}
	trust, err := bundle.LoadTrust(*trustDir)
	if err != nil {
		return err
	}
	b, err := bundle.Open(fs.Arg(0), trust)
	if err != nil {
		return err
	}
	if b == nil {
		return errors.New("no bundle")
	}
	fmt.Fprintf(stdout, "ok %s\nsigner %s\nmodule sha256 %s\nmanifest sha256 %s\n", b.Manifest.App.ID, b.Signer, b.ModuleSHA256, b.ManifestSHA256)
	return nil
}
