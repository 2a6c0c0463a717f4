package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chatbridge/chatbridge/host/bundle"
)

// devBundle is dev mode's own copy of the bundle it runs: the vendor's
// manifest.yml and plugin.wasm copied under <data>/dev/bundles and signed
// there with the dev key, so the vendor's folder is never re-signed (a
// bundle shipped dev-signed by mistake would be refused by every host but
// this one). The live reload builds into the same copy. Each dev process
// has its own (nodes of a local cluster share -data); it is removed when
// the process stops.
func devBundle(devDir, src string, key *bundle.PrivateKey) (dir string, cleanup func(), err error) {
	parent := filepath.Join(devDir, "bundles")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, err
	}
	if dir, err = os.MkdirTemp(parent, "bundle-"); err != nil {
		return "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	if err := copyBundle(src, dir); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("copy %s: %w", src, err)
	}
	if err := bundle.Sign(dir, key); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("sign the copy of the bundle with the dev key: %w", err)
	}
	return dir, cleanup, nil
}

// devBuildFirst builds the plugin in src into <data>/dev/source, for dev
// mode given -watch and no -bundle: the first bundle is the source's.
func devBuildFirst(data, src string) (string, error) {
	out := filepath.Join(data, "dev", "source")
	if err := buildPlugin(context.Background(), src, out); err != nil {
		return "", fmt.Errorf("build %s: %w", src, err)
	}
	return out, nil
}
