package format

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// EscapeHTML escapes s for Telegram's HTML parse mode: '<', '>', '&' and
// '"' become &lt; &gt; &amp; &quot;, so the result is safe both as text and
// inside a quoted attribute. Invalid UTF-8 becomes U+FFFD, because Telegram
// refuses a request that is not UTF-8.
func EscapeHTML(s string) string {
	if !needsHTMLEscape(s) {
		return s
	}
	return string(appendEscaped(make([]byte, 0, len(s)+16), s, true))
}

// PlainToTelegramHTML turns plain text into a message body for parse_mode
// HTML that shows exactly that text.
func PlainToTelegramHTML(text string) string {
	return EscapeHTML(text)
}

func needsHTMLEscape(s string) bool {
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '<' || c == '>' || c == '&' || c == '"':
			return true
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return true
			}
			i += size
		default:
			i++
		}
	}
	return false
}

// appendEscaped appends s with '<', '>', '&' (and '"' when quote is set)
// replaced by entities and invalid UTF-8 replaced by U+FFFD.
func appendEscaped(b []byte, s string, quote bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		var rep string
		size := 1
		switch {
		case c == '<':
			rep = "&lt;"
		case c == '>':
			rep = "&gt;"
		case c == '&':
			rep = "&amp;"
		case c == '"' && quote:
			rep = "&quot;"
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n != 1 {
				i += n
				continue
			}
			rep = "\uFFFD"
		default:
			i++
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, rep...)
		i += size
		start = i
	}
	return append(b, s[start:]...)
}

// linkSchemes are the URL schemes a generated <a href> may use.
var linkSchemes = [...]string{"http", "https", "tg", "mailto"}

// safeHref reports whether u may become an href: an absolute http, https,
// tg or mailto URL without spaces or control characters. It returns u
// trimmed of surrounding spaces.
func safeHref(u string) (string, bool) {
	u = strings.TrimSpace(u)
	colon := strings.IndexByte(u, ':')
	if colon <= 0 || colon == len(u)-1 || len(u) > 2048 {
		return "", false
	}
	scheme := u[:colon]
	ok := false
	for _, s := range linkSchemes {
		if strings.EqualFold(scheme, s) {
			ok = true
			break
		}
	}
	if !ok {
		return "", false
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == 0x7f {
			return "", false
		}
	}
	if !utf8.ValidString(u) {
		return "", false
	}
	rest := u[colon+1:]
	if (strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "tg")) &&
		(!strings.HasPrefix(rest, "//") || len(rest) == 2) {
		return "", false
	}
	return u, true
}

// Inline styles of the HTML writer, in the order their tags nest (outermost
// first, after the link).
type sbits uint8

const (
	sBold sbits = 1 << iota
	sItalic
	sUnder
	sStrike
	sSpoiler
	sCode
)

var styleTags = [...]struct {
	bit         sbits
	open, close string
}{
	{sBold, "<b>", "</b>"},
	{sItalic, "<i>", "</i>"},
	{sUnder, "<u>", "</u>"},
	{sStrike, "<s>", "</s>"},
	{sSpoiler, "<tg-spoiler>", "</tg-spoiler>"},
}

// style is what a run of text looks like: a set of inline styles and an
// optional link target (already checked with safeHref).
type style struct {
	bits sbits
	href string
}

func (s style) with(b sbits) style { s.bits |= b; return s }

// inlineTag is one open inline tag of the writer: a style bit, or a link
// when bit is 0.
type inlineTag struct {
	bit  sbits
	href string
}

// htmlWriter builds Telegram HTML from runs of styled text and blocks. It
// opens a tag only when text is written inside it and closes and reopens
// tags whenever the style changes, so its output always nests properly and
// never holds an empty element. Code never shares its text with another
// entity (Telegram forbids entities inside code, and links around it).
type htmlWriter struct {
	buf   []byte
	stack []inlineTag

	quote      int  // blockquote depth requested; only the outermost is emitted
	quoteMark  int  // len(buf) before the emitted <blockquote>
	quoteFresh bool // fresh before the blockquote opened
	quoteNL    int  // pending newlines before the blockquote opened

	fresh bool // nothing visible written since the start or the last <blockquote>
	nl    int  // pending newlines (max 2)
	sp    bool // pending space (table cells)
}

func newHTMLWriter(sizeHint int) *htmlWriter {
	return &htmlWriter{buf: make([]byte, 0, sizeHint+sizeHint/8+16), fresh: true}
}

// newline asks for n line breaks (1 or 2) before the next text.
func (w *htmlWriter) newline(n int) {
	if n > w.nl {
		w.nl = min(n, 2)
	}
}

// space asks for one space before the next text.
func (w *htmlWriter) space() { w.sp = true }

func (w *htmlWriter) flushSep() {
	if w.fresh {
		w.nl, w.sp = 0, false
		return
	}
	if w.nl > 0 {
		w.closeInline()
		for range w.nl {
			w.buf = append(w.buf, '\n')
		}
		w.nl, w.sp = 0, false
		return
	}
	if w.sp {
		w.buf = append(w.buf, ' ')
		w.sp = false
	}
}

// lineBreak writes a line break inside a paragraph, keeping the open styles.
func (w *htmlWriter) lineBreak() {
	if w.fresh {
		return
	}
	w.flushSep()
	w.buf = append(w.buf, '\n')
}

// text writes s in style st.
func (w *htmlWriter) text(s string, st style) {
	if s == "" {
		return
	}
	w.flushSep()
	w.sync(st)
	w.buf = appendEscaped(w.buf, s, false)
	w.fresh = false
}

// sync makes the open inline tags match st.
func (w *htmlWriter) sync(st style) {
	var want [6]inlineTag
	n := 0
	if st.bits&sCode != 0 && st.href == "" {
		want[0] = inlineTag{bit: sCode}
		n = 1
	} else {
		if st.href != "" {
			want[n] = inlineTag{href: st.href}
			n++
		}
		for _, t := range styleTags {
			if st.bits&t.bit != 0 {
				want[n] = inlineTag{bit: t.bit}
				n++
			}
		}
	}
	// Keep the open tags that are still wanted (up to the first that is
	// not), then open the missing ones in canonical order.
	keep := 0
	for keep < len(w.stack) && slices.Contains(want[:n], w.stack[keep]) {
		keep++
	}
	for len(w.stack) > keep {
		w.pop()
	}
	for _, t := range want[:n] {
		if !slices.Contains(w.stack, t) {
			w.push(t)
		}
	}
}

func (w *htmlWriter) push(t inlineTag) {
	switch {
	case t.bit == 0:
		w.buf = append(w.buf, `<a href="`...)
		w.buf = appendEscaped(w.buf, t.href, true)
		w.buf = append(w.buf, `">`...)
	case t.bit == sCode:
		w.buf = append(w.buf, "<code>"...)
	default:
		for _, st := range styleTags {
			if st.bit == t.bit {
				w.buf = append(w.buf, st.open...)
			}
		}
	}
	w.stack = append(w.stack, t)
}

func (w *htmlWriter) pop() {
	t := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	switch {
	case t.bit == 0:
		w.buf = append(w.buf, "</a>"...)
	case t.bit == sCode:
		w.buf = append(w.buf, "</code>"...)
	default:
		for _, st := range styleTags {
			if st.bit == t.bit {
				w.buf = append(w.buf, st.close...)
			}
		}
	}
}

func (w *htmlWriter) closeInline() {
	for len(w.stack) > 0 {
		w.pop()
	}
}

// blockStart closes inline tags and writes the pending separation (at least
// one line break) before a block element.
func (w *htmlWriter) blockStart() {
	w.closeInline()
	if !w.fresh {
		n := max(w.nl, 1)
		for range n {
			w.buf = append(w.buf, '\n')
		}
	}
	w.nl, w.sp = 0, false
}

// pre writes a preformatted block; lang, when it is a plausible language
// name, becomes <code class="language-...">.
func (w *htmlWriter) pre(lang, content string) {
	content = strings.TrimRight(content, " \t\r\n")
	for len(content) > 0 && (content[0] == '\n' || content[0] == '\r') {
		content = content[1:]
	}
	if strings.TrimSpace(content) == "" {
		return
	}
	w.blockStart()
	lang = cleanLanguage(lang)
	w.buf = append(w.buf, "<pre>"...)
	if lang != "" {
		w.buf = append(w.buf, `<code class="language-`...)
		w.buf = append(w.buf, lang...)
		w.buf = append(w.buf, `">`...)
	}
	w.buf = appendEscaped(w.buf, content, false)
	if lang != "" {
		w.buf = append(w.buf, "</code>"...)
	}
	w.buf = append(w.buf, "</pre>"...)
	w.fresh = false
	w.nl = 1
}

// openQuote starts a blockquote. Telegram cannot nest them, so an inner
// quote only separates its text from what precedes it.
func (w *htmlWriter) openQuote() {
	w.quote++
	if w.quote > 1 {
		w.newline(1)
		return
	}
	w.closeInline()
	w.quoteMark, w.quoteFresh, w.quoteNL = len(w.buf), w.fresh, w.nl
	w.blockStart()
	w.buf = append(w.buf, "<blockquote>"...)
	w.fresh = true
}

func (w *htmlWriter) closeQuote() {
	if w.quote == 0 {
		return
	}
	w.quote--
	if w.quote > 0 {
		w.newline(1)
		return
	}
	w.closeInline()
	if w.fresh { // nothing inside: drop the empty element
		w.buf = w.buf[:w.quoteMark]
		w.fresh, w.nl = w.quoteFresh, w.quoteNL
		return
	}
	w.buf = append(w.buf, "</blockquote>"...)
	w.nl, w.sp = 1, false
}

func (w *htmlWriter) finish() string {
	w.closeInline()
	if w.quote > 0 {
		w.quote = 1
		w.closeQuote()
	}
	return string(w.buf)
}

// cleanLanguage keeps a code language name only when it is made of
// letters, digits and + # . _ - (and at most 32 bytes).
func cleanLanguage(lang string) string {
	lang = strings.TrimSpace(lang)
	if lang == "" || len(lang) > 32 {
		return ""
	}
	for i := 0; i < len(lang); i++ {
		c := lang[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '+' || c == '#' || c == '.' || c == '_' || c == '-') {
			return ""
		}
	}
	return lang
}
