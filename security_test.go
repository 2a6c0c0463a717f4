package chatbridge_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityMdNamesOnlyTestsThatExist keeps SECURITY.md honest: every
// test or fuzz target it names as proof of a guarantee must exist.
func TestSecurityMdNamesOnlyTestsThatExist(t *testing.T) {
	doc, err := os.ReadFile("SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1)
	if len(named) < 20 {
		t.Fatalf("SECURITY.md names only %d tests", len(named))
	}
	out, err := exec.Command("git", "grep", "-h", "-E", "^func (Test|Fuzz)[A-Za-z0-9_]+\\(", "--", "*_test.go").Output()
	if err != nil {
		t.Fatalf("git grep: %v", err)
	}
	defined := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(line, "func "), "("); ok {
			defined[name] = true
		}
	}
	for _, m := range named {
		if !defined[m[1]] {
			t.Errorf("SECURITY.md names %s, which no test file defines", m[1])
		}
	}
}
