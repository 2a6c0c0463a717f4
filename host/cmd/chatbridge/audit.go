package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/chatbridge/chatbridge/host/audit"
	"github.com/chatbridge/chatbridge/host/bundle"
)

// errAuditFailed makes `chatbridge audit` exit non-zero after printing.
var errAuditFailed = errors.New("audit failed")

// runAudit is `chatbridge audit [-json] -trust DIR BUNDLE`.
func runAudit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit", stderr)
	trustDir := fs.String("trust", "", "directory of trusted vendor public keys (and revoked file)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *trustDir == "" {
		fmt.Fprintln(stderr, "usage: chatbridge audit [-json] -trust DIR BUNDLE_DIR")
		return errUsage
	}
	trust, err := bundle.LoadTrust(*trustDir)
	if err != nil {
		return err
	}
	r, err := audit.Run(context.Background(), fs.Arg(0), trust)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if r.Failed() {
		return errAuditFailed
	}
	return nil
}
