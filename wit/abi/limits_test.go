package abi

import (
	"strings"
	"testing"
)

func TestKeyProblem(t *testing.T) {
	cases := []struct {
		key   string
		valid bool
	}{
		{"chat:123", true},
		{"a.b_c-d#e f", true},
		{strings.Repeat("k", MaxKeyLen), true},
		{strings.Repeat("k", MaxKeyLen+1), false},
		{"", false},
		{"   ", false},
		{"a/b", false},
		{"ключ", false},
		{"a\x00b", false},
	}
	for _, c := range cases {
		if got := KeyProblem(c.key) == ""; got != c.valid {
			t.Errorf("KeyProblem(%q) valid=%v, want %v", c.key, got, c.valid)
		}
	}
}
