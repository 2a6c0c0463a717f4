package sdk

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// The changelog's top entry is the version the constants say.
func TestChangelogNamesTheVersions(t *testing.T) {
	f, err := os.Open("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "## "); ok {
			if want := "SDK " + Version + ", contract " + abi.Version; line != want {
				t.Fatalf("CHANGELOG.md's top entry is %q, want %q", line, want)
			}
			return
		}
	}
	t.Fatal("CHANGELOG.md has no entry")
}
