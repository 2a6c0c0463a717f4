package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestValidatePrefixAcceptsWhatCouldBeginAKey(t *testing.T) {
	for _, c := range []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"chat:", true},
		{"  ", true},
		{strings.Repeat("k", MaxKeyLen), true},
		{strings.Repeat("k", MaxKeyLen+1), false},
		{strings.Repeat(" ", MaxKeyLen+1), false},
		{"chat/", false},
	} {
		err := ValidatePrefix(c.prefix)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalidKey)) {
			t.Errorf("ValidatePrefix(%.20q... len %d) = %v, want ok=%v", c.prefix, len(c.prefix), err, c.ok)
		}
	}
}
