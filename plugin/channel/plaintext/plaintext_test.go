package plaintext

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

func TestTextDropsMarkupAndSpellsOutLinks(t *testing.T) {
	tests := []struct {
		in   channel.Content
		want string
	}{
		{channel.Content{Wiki: "*bold* and [the guide|https://example.com/g]"}, "bold and the guide (https://example.com/g)"},
		{channel.Content{Wiki: "see https://example.com/a?b=1&c=2 or [mail|mailto:x@example.com]"}, "see https://example.com/a?b=1&c=2 or mail (mailto:x@example.com)"},
		{channel.Content{ADF: json.RawMessage(`{"version":1,"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"Hi ","marks":[{"type":"strong"}]},{"type":"text","text":"there"}]}]}`)}, "Hi there"},
		{channel.Content{ADF: json.RawMessage(`{"broken`)}, ""},
		{channel.Content{Plain: "a < b & c"}, "a < b & c"},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRenderKeepsEveryPartWithinCharactersAndBytes(t *testing.T) {
	for _, unit := range []string{"a", "<", "\x01", "😀", "\""} {
		text := strings.Repeat(unit, 10000)
		parts := Render(channel.Content{Plain: text}, 4096, 20000)
		if strings.Join(parts, "") != text {
			t.Fatalf("%q: parts do not reassemble", unit)
		}
		for _, p := range parts {
			b, _ := json.Marshal(p)
			if utf8.RuneCountInString(p) > 4096 || len(b)-2 > 20000 {
				t.Fatalf("%q: part of %d characters, %d JSON bytes", unit, utf8.RuneCountInString(p), len(b)-2)
			}
		}
	}
}

func FuzzText(f *testing.F) {
	f.Add("*bold* [a|https://x.example/?q=\"1\"&r=<2>] https://y.example {code}x{code}")
	f.Add("[mail|mailto:a@b] [[nested|http://z]]")
	f.Fuzz(func(t *testing.T, wiki string) {
		text := Text(channel.Content{Wiki: wiki})
		if !utf8.ValidString(text) {
			t.Fatalf("invalid UTF-8 from %q", wiki)
		}
		for _, p := range Render(channel.Content{Wiki: wiki}, 100, 1000) {
			if utf8.RuneCountInString(p) > 100 {
				t.Fatalf("part of %d characters", utf8.RuneCountInString(p))
			}
		}
	})
}
