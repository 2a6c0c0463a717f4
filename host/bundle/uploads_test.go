package bundle

import (
	"errors"
	"strings"
	"testing"
)

func TestManifest_UploadLimitDefaultsTo10MiBAndRefusesOutOfRange(t *testing.T) {
	const head = "app:\n  id: \"ari:cloud:ecosystem::app/x\"\n"
	m, err := ParseManifest([]byte(head))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.UploadLimit(); got != 10<<20 {
		t.Errorf("default: %d, want 10 MiB", got)
	}
	m, err = ParseManifest([]byte(head + "  uploads: {maxBytes: 2048}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.UploadLimit(); got != 2048 {
		t.Errorf("set: %d", got)
	}
	for _, bad := range []string{"maxBytes: 104857601", "maxBytes: -1", "surprise: 1"} {
		_, err := ParseManifest([]byte(head + "  uploads: {" + bad + "}\n"))
		if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), "app.uploads") {
			t.Errorf("%s: err = %v, want an invalid manifest naming app.uploads", bad, err)
		}
	}
}
