package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// commit is the source revision, set by the Makefile with
// -ldflags "-X main.commit=..." (it builds with -buildvcs=false, so Go does
// not stamp one); empty when unknown.
var commit string

// runVersion is `chatbridge version`: what this binary knows about itself.
// The bundle a host runs is not part of the binary: its module hash is
// printed by `chatbridge bundle verify` and `chatbridge audit`.
func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	for _, l := range versionLines() {
		fmt.Fprintln(stdout, l)
	}
	return nil
}

// versionLines are version's output: module version, commit (from the
// linker flag, else from Go's VCS stamp, else said to be unknown), Go
// version and platform.
func versionLines() []string {
	version, rev, modified := "unknown", commit, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (with uncommitted changes)"
				}
			}
		}
	}
	if rev == "" {
		rev = "unknown (built without -ldflags -X main.commit and with -buildvcs=false; `make build` sets it)"
	}
	return []string{
		"chatbridge " + version,
		"commit     " + rev + modified,
		"go         " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		"bundle     not part of the binary: `chatbridge bundle verify -trust DIR BUNDLE` prints its module sha256",
	}
}
