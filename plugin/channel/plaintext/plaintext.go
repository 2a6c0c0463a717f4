package plaintext

import (
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/format"
)

// Render turns content into plain text in parts of at most limit characters
// whose JSON encoding (as encoding/json writes it) is at most maxBytes; 0
// means no byte budget. A malformed ADF document renders as nothing.
func Render(content channel.Content, limit, maxBytes int) []string {
	text := Text(content)
	if maxBytes <= 0 {
		return format.SplitText(text, limit, nil)
	}
	// Each character weighs its JSON bytes but at least maxBytes/limit, so a
	// part stays within both the character and the byte budget.
	floor := max(maxBytes/limit, 1)
	return format.SplitText(text, floor*limit, func(s string) int { return max(JSONBytes(s), floor) })
}

// Text is what Jira content shows, without markup; links keep their text.
// A malformed ADF document gives "".
func Text(content channel.Content) string {
	var html string
	switch {
	case len(content.ADF) > 0:
		h, err := format.ADFToTelegramHTML(content.ADF)
		if err != nil {
			return ""
		}
		html = h
	case content.Wiki != "":
		html = format.WikiToTelegramHTML(content.Wiki)
	default:
		return strings.ToValidUTF8(content.Plain, "\uFFFD")
	}
	text, _, err := format.VisibleText(inlineLinks(html))
	if err != nil {
		return ""
	}
	return text
}

// inlineLinks writes each link's target after its text, "the guide
// (https://...)", since plain text has no links; a link whose text is its
// target stays as it is. html is the well-formed output of package format,
// where "<a href=" can only be a tag.
func inlineLinks(html string) string {
	const open, end = `<a href="`, "</a>"
	var b strings.Builder
	for {
		i := strings.Index(html, open)
		if i < 0 {
			b.WriteString(html)
			return b.String()
		}
		j := strings.IndexByte(html[i+len(open):], '"')
		k := strings.Index(html[i:], end)
		if j < 0 || k < 0 {
			b.WriteString(html)
			return b.String()
		}
		href := html[i+len(open) : i+len(open)+j]
		link := html[i : i+k+len(end)]
		b.WriteString(html[:i])
		b.WriteString(link)
		shown, _, err := format.VisibleText(link)
		target, _, err2 := format.VisibleText(href)
		if err == nil && err2 == nil && shown != target && strings.TrimPrefix(target, "mailto:") != shown {
			b.WriteString(" (" + href + ")")
		}
		html = html[i+k+len(end):]
	}
}

// JSONBytes is how many bytes encoding/json writes for the first character
// of s.
func JSONBytes(s string) int {
	r, n := utf8.DecodeRuneInString(s)
	switch {
	case r == utf8.RuneError && n <= 1:
		return 6 // \ufffd
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return 6
	}
	return n
}
