package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/chatbridge/chatbridge/host/bundle"
)

// wasmBuildFlags are the plugin build's go build flags, the Makefile's
// WASM_FLAGS: a wasip1 reactor, byte-identical for the same source and Go
// version (TestPluginBuildIsReproducible).
var wasmBuildFlags = []string{"-buildmode=c-shared", "-trimpath", "-ldflags=-buildid="}

// pluginSource returns the plugin folder of dir: dir itself when it holds
// manifest.yml, else its plugin folder when that does (a module root such as
// this repository's, whose plugin is ./plugin).
func pluginSource(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for _, d := range []string{abs, filepath.Join(abs, "plugin")} {
		if st, err := os.Stat(filepath.Join(d, "manifest.yml")); err == nil && st.Mode().IsRegular() {
			return d, nil
		}
	}
	return "", fmt.Errorf("%s holds no manifest.yml (nor does its plugin folder): give the folder of the plugin's main package and manifest", dir)
}

// buildPlugin builds the main package in src (a folder with manifest.yml)
// into out/plugin.wasm and copies the manifest beside it, both written
// under temporary names and renamed, so a failed build leaves out as it was.
// The manifest is checked first: its errors are cheaper than a build.
func buildPlugin(ctx context.Context, src, out string) error {
	src, err := pluginSource(src)
	if err != nil {
		return err
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	manifest, err := os.ReadFile(filepath.Join(src, "manifest.yml"))
	if err != nil {
		return err
	}
	if _, err := bundle.ParseManifest(manifest); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(src, "manifest.yml"), err)
	}
	goBin, err := goCommand()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(out, ".plugin.wasm.tmp")
	defer os.Remove(tmp)
	args := append(append([]string{"build"}, wasmBuildFlags...), "-o", tmp, ".")
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-buildvcs=false")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, strings.TrimSpace(log.String()))
	}
	if err := writeFileAtomic(filepath.Join(out, "manifest.yml"), manifest, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(out, "plugin.wasm"))
}

func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// goCommand finds the go command: on PATH, else under $GOROOT.
func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		if p, err := exec.LookPath(filepath.Join(root, "bin", "go")); err == nil {
			return p, nil
		}
	}
	return "", errors.New("building a plugin needs the go command on PATH (or GOROOT set)")
}

func bundleBuild(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bundle build", stderr)
	out := fs.String("o", "bundle", "bundle directory to write plugin.wasm and manifest.yml into (created)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: chatbridge bundle build [-o BUNDLE_DIR] PLUGIN_DIR\n\nPLUGIN_DIR holds the plugin's main package and manifest.yml; the build is\nGOOS=wasip1 GOARCH=wasm go build "+strings.Join(wasmBuildFlags, " ")+".")
		return errUsage
	}
	if err := buildPlugin(context.Background(), fs.Arg(0), *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "built %s\n", filepath.Join(*out, "plugin.wasm"))
	return nil
}
