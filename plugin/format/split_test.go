package format

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func visibleParts(t *testing.T, parts []string) []string {
	t.Helper()
	out := make([]string, len(parts))
	for i, p := range parts {
		text, _, err := VisibleText(p)
		if err != nil {
			t.Fatalf("part %d invalid: %v (%q)", i, err, p)
		}
		out[i] = text
	}
	return out
}

func TestSplitTelegramHTMLPrefersTheBestBreak(t *testing.T) {
	for _, tc := range []struct {
		name  string
		html  string
		limit int
		want  []string // visible text of the parts
	}{
		{"a short message is one part", "<b>hi</b>", 10, []string{"hi"}},
		{"paragraph break over line break", "aaaa bbbb\n\ncccc\ndddd eeee", 20, []string{"aaaa bbbb\n\n", "cccc\ndddd eeee"}},
		{"line break over sentence end", "Aaaa. Bbbb\ncccc dddd", 15, []string{"Aaaa. Bbbb\n", "cccc dddd"}},
		{"sentence end over space", "One two. Three four five", 16, []string{"One two. ", "Three four five"}},
		{"sentence end with a closing quote", `He said "go." Then left now`, 18, []string{`He said "go." `, "Then left now"}},
		{"CJK full stop needs no space", "你好世界。再见朋友们", 6, []string{"你好世界。", "再见朋友们"}},
		{"space when nothing better", "alpha beta gamma delta", 12, []string{"alpha beta ", "gamma delta"}},
		{"anywhere in a long word", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"a break in the first half loses to a later space", "A.\n" + strings.Repeat("x ", 10), 20, []string{"A.\nx x x x x x x x ", "x x "}},
		{"never inside a surrogate pair", "👍👍👍", 3, []string{"👍", "👍", "👍"}},
		{"not inside a skin-tone emoji", "ab👍🏽cd", 5, []string{"ab", "👍🏽c", "d"}},
		{"not inside a ZWJ family", "a👨‍👩‍👧", 8, []string{"a", "👨‍👩‍👧"}},
		{"not between the letters of a flag", "a🇺🇦🇯🇵", 5, []string{"a🇺🇦", "🇯🇵"}},
		{"not before a combining mark", "abce\u0301", 4, []string{"abc", "e\u0301"}},
		{"never inside an entity", "a&amp;b&lt;c", 2, []string{"a&", "b<", "c"}},
		{"blank parts are left out", "aaaa      \n\n\n\n      bbbb", 5, []string{"aaaa ", " bbbb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := SplitTelegramHTML(tc.html, tc.limit)
			checkParts(t, parts, tc.limit)
			got := visibleParts(t, parts)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("parts %q\nwant  %q", got, tc.want)
			}
		})
	}
}

func TestSplitTelegramHTMLClosesAndReopensTags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		html  string
		limit int
		want  []string
	}{
		{"bold across the cut", "<b>aaaa bbbb</b>", 5, []string{"<b>aaaa </b>", "<b>bbbb</b>"}},
		{"pre with language continues as pre", `<pre><code class="language-go">line1
line2</code></pre>`, 6, []string{"<pre><code class=\"language-go\">line1\n</code></pre>", "<pre><code class=\"language-go\">line2</code></pre>"}},
		{"link keeps its href", `<a href="https://x.com/?a=1&amp;b=2">aaa bbb</a>`, 4, []string{`<a href="https://x.com/?a=1&amp;b=2">aaa </a>`, `<a href="https://x.com/?a=1&amp;b=2">bbb</a>`}},
		{"nested tags close in order", "<blockquote><b><i>aa bb</i></b></blockquote>", 3, []string{"<blockquote><b><i>aa </i></b></blockquote>", "<blockquote><b><i>bb</i></b></blockquote>"}},
		{"end tags stay with their text", "<b>aaa</b> <i>bbb</i>", 4, []string{"<b>aaa</b> ", "<i>bbb</i>"}},
		{"spoiler span keeps its class", `<span class="tg-spoiler">aa bb</span>`, 3, []string{`<span class="tg-spoiler">aa </span>`, `<span class="tg-spoiler">bb</span>`}},
		{"invalid HTML is sent as text", "a <b> c", 4, []string{"a ", "&lt;b&gt; ", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := SplitTelegramHTML(tc.html, tc.limit)
			checkParts(t, parts, tc.limit)
			if strings.Join(parts, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("parts %q\nwant  %q", parts, tc.want)
			}
		})
	}
}

func TestSplitTelegramHTMLDefaultsToTelegramLimit(t *testing.T) {
	html := strings.Repeat("word ", 1000) // 5000 units
	parts := SplitTelegramHTML(html, 0)
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2", len(parts))
	}
	checkParts(t, parts, TelegramLimit)
}

func TestSplitTextMeasuresWithTheGivenUnit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		limit int
		unit  func(string) int
		want  []string
	}{
		{"characters by default", "héllo wörld", 6, nil, []string{"héllo ", "wörld"}},
		{"UTF-16 units", "👍👍 ab", 4, UTF16Len, []string{"👍👍", " ab"}},
		{"bytes", "ééé", 4, func(s string) int { return len(s) }, []string{"éé", "é"}},
		{"Viber limit by default", strings.Repeat("a", ViberLimit), 0, nil, []string{strings.Repeat("a", ViberLimit)}},
		{"blank text gives no parts", "  \n ", 2, nil, nil},
		{"a character wider than the limit is a part of its own", "a👍b", 1, UTF16Len, []string{"a", "👍", "b"}},
		{"keeps invalid bytes as they are", "ab\xffcd", 3, nil, []string{"ab\xff", "cd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitText(tc.text, tc.limit, tc.unit)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("SplitText = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSplitTextOfLongViberReplyReassembles(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 20000; i++ {
		b.WriteString("Sentence number with emoji 👨‍👩‍👧 and 中文. ")
		if i%7 == 6 {
			b.WriteString("\n\n")
		}
	}
	text := b.String()
	parts := SplitText(text, ViberLimit, nil)
	if strings.Join(parts, "") != text {
		t.Fatal("parts do not reassemble the text")
	}
	for i, p := range parts {
		if n := utf8.RuneCountInString(p); n > ViberLimit || n == 0 {
			t.Fatalf("part %d has %d characters", i, n)
		}
	}
}
