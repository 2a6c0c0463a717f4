package format

import (
	"errors"
	"testing"
)

func TestValidTelegramHTMLAcceptsWhatTelegramParses(t *testing.T) {
	for _, tc := range []struct {
		name, html, text string
		units            int
	}{
		{"plain text", "hello", "hello", 5},
		{"every allowed tag", `<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike><del>d</del><tg-spoiler>t</tg-spoiler><span class="tg-spoiler">p</span><a href="https://x.com">a</a><code>c</code><pre>p</pre><blockquote>q</blockquote>`, "bsieunskdtpacpq", 15},
		{"the four named entities", "&lt;&gt;&amp;&quot;", `<>&"`, 4},
		{"decimal and hex entities", "&#128077;&#x1F600;&#65;", "👍😀A", 5},
		{"pre with a language", `<pre><code class="language-go">x</code></pre>`, "x", 1},
		{"nested inline styles", "<b><i><u>x</u></i></b>", "x", 1},
		{"styles inside a link", `<a href="tg://user?id=1"><b>x</b></a>`, "x", 1},
		{"pre and code inside a quote", "<blockquote><pre>p</pre><code>c</code></blockquote>", "pc", 2},
		{"expandable quote", "<blockquote expandable>q</blockquote>", "q", 1},
		{"single-quoted and unquoted attributes", `<a href='mailto:a@b.c'>m</a><span class=tg-spoiler>s</span>`, "ms", 2},
		{"upper-case tags", "<B>x</B>", "x", 1},
		{"entity in an attribute", `<a href="https://x.com/?a=1&amp;b=&quot;2&quot;">x</a>`, "x", 1},
		{"non-BMP characters count two units", "👍🏽", "👍🏽", 4},
		{"family emoji is eight units", "👨‍👩‍👧", "👨‍👩‍👧", 8},
		{"empty", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidTelegramHTML(tc.html); err != nil {
				t.Fatalf("rejected: %v", err)
			}
			text, units, err := VisibleText(tc.html)
			if err != nil || text != tc.text || units != tc.units {
				t.Fatalf("VisibleText = %q, %d, %v; want %q, %d", text, units, err, tc.text, tc.units)
			}
		})
	}
}

func TestValidTelegramHTMLRejectsWhatTelegramWouldRefuse(t *testing.T) {
	for _, tc := range []struct{ name, html string }{
		{"bare less-than", "a < b"},
		{"bare greater-than", "a > b"},
		{"bare ampersand", "a & b"},
		{"unknown named entity", "&nbsp;"},
		{"entity without semicolon", "&lt"},
		{"numeric entity of a surrogate", "&#xD800;"},
		{"numeric entity beyond Unicode", "&#x110000;"},
		{"numeric entity zero", "&#0;"},
		{"unsupported tag", "<br>"},
		{"unsupported tag with text", "<div>x</div>"},
		{"self-closing tag", "<b/>"},
		{"unclosed tag", "<b>x"},
		{"unmatched end tag", "x</b>"},
		{"crossed tags", "<b><i>x</b></i>"},
		{"link without href", "<a>x</a>"},
		{"javascript link", `<a href="javascript:alert(1)">x</a>`},
		{"relative link", `<a href="/path">x</a>`},
		{"unknown attribute", `<b class="x">x</b>`},
		{"span without spoiler class", `<span>x</span>`},
		{"span with another class", `<span class="red">x</span>`},
		{"code class outside pre", `<code class="language-go">x</code>`},
		{"code class that is not a language", `<pre><code class="x">y</code></pre>`},
		{"language with markup characters", `<pre><code class="language-&lt;b&gt;">y</code></pre>`},
		{"tag inside code", "<code><b>x</b></code>"},
		{"tag inside pre", "<pre><b>x</b></pre>"},
		{"code after text inside pre", "<pre>x<code>y</code></pre>"},
		{"link inside a link", `<a href="https://a.com"><a href="https://b.com">x</a></a>`},
		{"code inside a link", `<a href="https://a.com"><code>x</code></a>`},
		{"nested blockquotes", "<blockquote><blockquote>x</blockquote></blockquote>"},
		{"pre inside bold", "<b><pre>x</pre></b>"},
		{"blockquote inside bold", "<b><blockquote>x</blockquote></b>"},
		{"unterminated attribute", `<a href="https://x.com>x</a>`},
		{"bare ampersand in attribute", `<a href="https://x.com/?a=1&b=2">x</a>`},
		{"invalid UTF-8", "a\xffb"},
		{"duplicate href", `<a href="https://a.com" href="https://b.com">x</a>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidTelegramHTML(tc.html)
			if !errors.Is(err, ErrInvalidHTML) {
				t.Fatalf("ValidTelegramHTML(%q) = %v, want ErrInvalidHTML", tc.html, err)
			}
		})
	}
}

func TestUTF16LenCountsLikeTelegram(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"", 0}, {"abc", 3}, {"é", 1}, {"中文", 2}, {"👍", 2}, {"👍🏽", 4}, {"🇺🇦", 4}, {"\xff", 1},
	} {
		if got := UTF16Len(tc.s); got != tc.want {
			t.Errorf("UTF16Len(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}
