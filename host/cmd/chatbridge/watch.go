package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/emulator/console"
	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
)

// watchInterval is how often the live reload looks at the plugin source.
const watchInterval = time.Second

// watcher is dev mode's live reload: when a .go file (not a test) under <dir>/plugin or
// plugin/manifest.yml changes, it rebuilds the wasm into the bundle
// directory, signs it with the dev key and swaps it in with Host.Load, which
// keeps storage and the queue and lets in-flight invocations finish on the
// old module.
type watcher struct {
	dir       string // module root: ./plugin is built
	bundleDir string
	devDir    string // holds the dev signing key
	host      *host.Host
	log       *slog.Logger
	report    func(console.Reload)
	loaded    int
}

// run polls until ctx is done.
func (w *watcher) run(ctx context.Context) {
	if w.log == nil {
		w.log = slog.Default()
	}
	last, err := w.fingerprint()
	if err != nil {
		w.report(console.Reload{State: "failed", Message: err.Error()})
		w.log.Warn("live reload: cannot read the plugin source", "err", err.Error())
	} else {
		w.report(console.Reload{State: "watching", Message: "watching " + filepath.Join(w.dir, "plugin")})
	}
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, err := w.fingerprint()
		if err != nil || cur == last {
			continue
		}
		last = cur
		w.rebuild(ctx)
	}
}

// fingerprint sums the names, sizes and mtimes of the watched files.
func (w *watcher) fingerprint() (string, error) {
	h := sha256.New()
	root := filepath.Join(w.dir, "plugin")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if (!strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go")) && path != filepath.Join(root, "manifest.yml") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", path, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return string(h.Sum(nil)), err
}

// rebuild builds, signs and loads; a failure leaves the running bundle.
func (w *watcher) rebuild(ctx context.Context) {
	w.report(console.Reload{State: "building", Count: w.loaded})
	w.log.Info("live reload: plugin source changed; rebuilding")
	start := time.Now()
	if err := w.build(ctx); err != nil {
		w.report(console.Reload{State: "failed", Message: err.Error(), Count: w.loaded})
		w.log.Warn("live reload failed; the previous bundle keeps running", "err", err.Error())
		return
	}
	w.loaded++
	b := w.host.Bundle()
	msg := "loaded"
	if b != nil {
		msg = "loaded module " + b.ModuleSHA256[:12]
	}
	w.report(console.Reload{State: "loaded", Message: msg, Count: w.loaded})
	w.log.Info("live reload: bundle swapped", "duration", time.Since(start))
}

func (w *watcher) build(ctx context.Context) error {
	goBin, err := goCommand()
	if err != nil {
		return err
	}
	tmp := filepath.Join(w.bundleDir, ".plugin.wasm.tmp")
	defer os.Remove(tmp)
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-buildid=", "-o", tmp, "./plugin")
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-buildvcs=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, strings.TrimSpace(out.String()))
	}
	manifest, err := os.ReadFile(filepath.Join(w.dir, "plugin", "manifest.yml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.bundleDir, "manifest.yml"), manifest, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(w.bundleDir, "plugin.wasm")); err != nil {
		return err
	}
	key, err := stack.SigningKey(w.devDir)
	if err != nil {
		return err
	}
	if err := bundle.Sign(w.bundleDir, key); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	return w.host.Load(ctx, w.bundleDir)
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
	return "", errors.New("live reload needs the go command on PATH (or GOROOT set)")
}
