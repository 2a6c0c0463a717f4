package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/chatbridge/chatbridge/host/node"
	"github.com/chatbridge/chatbridge/host/receipt"
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
	if hook := c.lastHeader.Get("Jira-Webhook"); hook != "" {
		fmt.Fprintf(stderr, "the Jira webhook: %s\n", hook)
	}
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
	pub, err := receipt.ReadPublicKeyFile(node.ReceiptKeyFile(*data) + ".pub")
	if err != nil {
		return err
	}
	_, err = stdout.Write(pub.PEM())
	return err
}
