package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// devBuildFirst builds the plugin in src into <data>/dev/source, for dev
// mode given -watch and no -bundle: the first bundle is the source's.
func devBuildFirst(data, src string) (string, error) {
	out := filepath.Join(data, "dev", "source")
	if err := buildPlugin(context.Background(), src, out); err != nil {
		return "", fmt.Errorf("build %s: %w", src, err)
	}
	return out, nil
}
