package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"log/slog"
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

// watcher is dev mode's live reload: when a .go file (not a test) under the
// plugin folder or its manifest.yml changes, it rebuilds the wasm into dev
// mode's copy of the bundle (never the vendor's folder), signs it with the
// dev key and swaps it in with Host.Load, which keeps storage and the queue
// and lets in-flight invocations finish on the old module.
type watcher struct {
	dir       string // the plugin folder (pluginSource): its main package and manifest.yml
	bundleDir string // dev mode's copy, under the data directory
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
		w.report(console.Reload{State: "watching", Message: "watching " + w.dir})
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
	root := w.dir
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
	if err := buildPlugin(ctx, w.dir, w.bundleDir); err != nil {
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
