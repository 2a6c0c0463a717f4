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

func TestRealtimeNamesFollowTheContract(t *testing.T) {
	long := strings.Repeat("a", MaxRealtimeChannelLen)
	for _, c := range []struct {
		channel string
		ok      bool
	}{
		{"web:abc-123_x.y", true}, {long, true}, {long + "a", false}, {"", false},
		{"web chat", false}, {"web/chat", false}, {"wéb", false},
	} {
		if got := ChannelProblem(c.channel) == ""; got != c.ok {
			t.Errorf("ChannelProblem(%q) ok = %v, want %v", c.channel, got, c.ok)
		}
	}
	for _, c := range []struct {
		origin string
		ok     bool
	}{
		{"", true}, {"https://shop.example", true}, {"http://127.0.0.1:8080", true}, {"https://[::1]:443", true},
		{"https://shop.example/", false}, {"https://Shop.example", false}, {"ftp://x", false},
		{"https://", false}, {"https://a.example\r\nX: y", false}, {"https://" + strings.Repeat("a", MaxRealtimeOriginLen), false},
	} {
		if got := OriginProblem(c.origin) == ""; got != c.ok {
			t.Errorf("OriginProblem(%q) ok = %v, want %v", c.origin, got, c.ok)
		}
	}
}
