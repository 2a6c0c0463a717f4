package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/chatbridge/chatbridge/host/audit"
	"github.com/chatbridge/chatbridge/host/bundle"
)

// errAuditFailed makes `chatbridge audit` exit non-zero after printing.
var errAuditFailed = errors.New("audit failed")

const auditUsage = `usage: chatbridge audit [-json] [-sbom FILE] [-vulndb DIR] -trust DIR BUNDLE_DIR
       chatbridge audit -diff [-json] [-trust DIR] OLD_BUNDLE_DIR NEW_BUNDLE_DIR`

// runAudit is `chatbridge audit`: one bundle's report (and, on request, its
// SBOM and a vulnerability check against a local OSV folder), or with
// -diff what changed between two bundles.
func runAudit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit", stderr)
	trustDir := fs.String("trust", "", "directory of trusted vendor public keys (and revoked file)")
	asJSON := fs.Bool("json", false, "print the report (or the diff) as JSON")
	sbomFile := fs.String("sbom", "", "write the module's CycloneDX 1.5 SBOM (JSON) to this file")
	vulnDir := fs.String("vulndb", "", "folder of OSV vulnerability records (JSON) to check the module's dependencies against; no network")
	diff := fs.Bool("diff", false, "compare two bundles: OLD NEW")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *diff {
		if fs.NArg() != 2 || *sbomFile != "" || *vulnDir != "" {
			fmt.Fprintln(stderr, auditUsage)
			return errUsage
		}
		return auditDiff(*trustDir, fs.Arg(0), fs.Arg(1), *asJSON, stdout)
	}
	if fs.NArg() != 1 || *trustDir == "" {
		fmt.Fprintln(stderr, auditUsage)
		return errUsage
	}
	trust, err := bundle.LoadTrust(*trustDir)
	if err != nil {
		return err
	}
	var db *audit.VulnDB
	if *vulnDir != "" {
		// Loaded first: a bad folder is an error before any report.
		if db, err = audit.LoadVulnDB(*vulnDir); err != nil {
			return err
		}
	}
	r, err := audit.Run(context.Background(), fs.Arg(0), trust)
	if err != nil {
		return err
	}
	if db != nil {
		r.CheckVulns(db)
	}
	if *sbomFile != "" {
		bom, err := r.SBOM()
		if err != nil {
			return err
		}
		data, err := bom.Marshal()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*sbomFile, data, 0o644); err != nil {
			return fmt.Errorf("audit: write SBOM: %w", err)
		}
	}
	if err := printAudit(stdout, *asJSON, r, r.WriteText); err != nil {
		return err
	}
	if r.Failed() {
		return errAuditFailed
	}
	return nil
}

// auditDiff prints what changed from the bundle in oldDir to the one in
// newDir. Without -trust the signatures are not checked (the diff still
// names each signer's fingerprint). A diff does not fail on findings: audit
// each bundle for that.
func auditDiff(trustDir, oldDir, newDir string, asJSON bool, stdout io.Writer) error {
	trust := bundle.NewTrust(nil, nil)
	if trustDir != "" {
		var err error
		if trust, err = bundle.LoadTrust(trustDir); err != nil {
			return err
		}
	}
	old, err := audit.Run(context.Background(), oldDir, trust)
	if err != nil {
		return err
	}
	cur, err := audit.Run(context.Background(), newDir, trust)
	if err != nil {
		return err
	}
	d := audit.Compare(old, cur)
	return printAudit(stdout, asJSON, d, d.WriteText)
}

func printAudit(w io.Writer, asJSON bool, v any, text func(io.Writer) error) error {
	if !asJSON {
		return text(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
