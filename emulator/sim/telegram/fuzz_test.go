package telegram

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseHTML(f *testing.F) {
	for _, seed := range []string{
		"", "plain", "<b>x</b>", "<b><i>x</b></i>", "<a href=\"https://x.org\">l</a>", "<a href='x'>",
		`<pre><code class="language-go">x</code></pre>`, "<blockquote expandable>q</blockquote>",
		`<span class="tg-spoiler">s</span>`, `<tg-emoji emoji-id="1">x</tg-emoji>`,
		"&lt;&gt;&amp;&quot;&#128512;&#x1F600;&#0;&#xD800;&#99999999999;", "1 < 2", "<", "</", "<b", "<b x=", "<b x='",
		"  <b> x </b>  ", "😀<i>é</i>", "\xff<b>\xfe</b>",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		plain, ents, err := parseHTML(in)
		if err != nil {
			if plain != "" || ents != nil {
				t.Fatalf("error %v with output %q %v", err, plain, ents)
			}
			return
		}
		if utf8.ValidString(in) && !utf8.ValidString(plain) {
			t.Fatalf("valid input %q gave invalid text %q", in, plain)
		}
		if plain != strings.TrimSpace(plain) {
			t.Fatalf("text %q is not trimmed", plain)
		}
		size := utf16Count(plain)
		for _, e := range ents {
			if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > size || e.Type == "" {
				t.Fatalf("entity %+v outside text %q (%d units)", e, plain, size)
			}
		}
		if !strings.Contains(in, "<") && !strings.Contains(in, "&") && plain != strings.TrimSpace(in) {
			t.Fatalf("markup-free %q became %q", in, plain)
		}
	})
}
