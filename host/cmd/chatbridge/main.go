package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// errUsage is returned after a usage message has been printed.
var errUsage = errors.New("usage")

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the host and the HTTPS edge", runServe},
		{"dev", "run the local emulator (development keys, certificate and bundle)", runDev},
		{"sims", "run the emulator's simulators alone, for `dev -sims`", runSims},
		{"balance", "spread connections over host nodes (the local cluster's load balancer)", runBalance},
		{"bundle", "keygen | sign | verify a vendor bundle", runBundle},
		{"audit", "report what a bundle can do and check it against its manifest", runAudit},
		{"keys", "rotate the storage master key (and data keys)", runKeys},
		{"install", "install a Jira site on a running host", runInstall},
		{"uninstall", "uninstall a site and purge its data", runUninstall},
		{"installations", "list installations of a running host", runInstallations},
		{"resolve", "call an installation's admin resolver (mappings, inventory, config)", runResolve},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
				return 2
			default:
				fmt.Fprintf(stderr, "chatbridge %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "chatbridge: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: chatbridge <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("chatbridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// noArgs fails when positional arguments are left over.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() != 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
