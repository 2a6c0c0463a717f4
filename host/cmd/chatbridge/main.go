package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// errUsage is returned after a usage message has been printed.
var errUsage = errors.New("usage")

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
	// daemon commands run until stopped and log JSON to stderr: their exit
	// error is a JSON record too, so that their stderr is JSON only.
	daemon bool
}

func commands() []command {
	return []command{
		{name: "serve", summary: "run the host and the HTTPS edge", run: runServe, daemon: true},
		{name: "dev", summary: "run the local emulator (development keys, certificate and bundle)", run: runDev, daemon: true},
		{name: "sims", summary: "run the emulator's simulators alone, for `dev -sims`", run: runSims, daemon: true},
		{name: "balance", summary: "spread connections over host nodes (the local cluster's load balancer)", run: runBalance, daemon: true},
		{name: "new", summary: "write a new plugin (web trigger, queue consumer, scheduled trigger, test, manifest)", run: runNew},
		{name: "bundle", summary: "build | keygen | sign | verify a vendor bundle", run: runBundle},
		{name: "audit", summary: "report what a bundle can do and check it against its manifest", run: runAudit},
		{name: "keys", summary: "new | rotate the storage master key (and data keys)", run: runKeys},
		{name: "install", summary: "install a Jira site on a running host", run: runInstall},
		{name: "uninstall", summary: "uninstall a site, destroy its keys, print the signed receipt", run: runUninstall},
		{name: "receipt", summary: "verify | key: uninstall receipts and the host's receipt key", run: runReceipt},
		{name: "installations", summary: "list installations of a running host", run: runInstallations},
		{name: "projects", summary: "list | show | set | delete a project's bridge settings", run: runProjects},
		{name: "backup", summary: "stream a consistent, still-sealed backup of a running host's records (without keys)", run: runBackup},
		{name: "restore", summary: "restore a backup beside the live key store (host stopped)", run: runRestore},
		{name: "resolve", summary: "call an installation's admin resolver (mappings, inventory, config)", run: runResolve},
		{name: "version", summary: "print the version, commit and Go version of this binary", run: runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// run runs one command and returns the exit code: 0 on success and for -h,
// 2 for a usage error, 1 for any other error.
func run(args []string, stdout, stderr io.Writer) int {
	// Whatever logs through the standard library's log package (net/http's
	// server errors, for one) comes out as JSON like the rest.
	slog.SetDefault(slog.New(slog.NewJSONHandler(stderr, nil)))
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if isHelp(args[0]) {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			case c.daemon:
				slog.New(slog.NewJSONHandler(stderr, nil)).Error("exited", "command", c.name, "err", err.Error())
				return 1
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
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `chatbridge <command> -h` for a command's flags; docs/operations.md is the operator's guide.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("chatbridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// subcommands dispatches `chatbridge NAME SUB ...` to one of subs; -h (or no
// subcommand) prints the list, the first exiting 0.
func subcommands(name string, subs []command, args []string, stdout, stderr io.Writer) error {
	list := func(w io.Writer) {
		fmt.Fprintf(w, "usage: chatbridge %s <subcommand> [flags]\n\n", name)
		for _, c := range subs {
			fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(w, "\nRun `chatbridge %s <subcommand> -h` for its flags.\n", name)
	}
	if len(args) == 0 {
		list(stderr)
		return errUsage
	}
	if isHelp(args[0]) {
		list(stdout)
		return flag.ErrHelp
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "chatbridge %s: unknown subcommand %q\n", name, args[0])
	list(stderr)
	return errUsage
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
