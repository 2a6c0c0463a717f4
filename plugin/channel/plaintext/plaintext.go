// Package plaintext renders Jira content for messengers that show plain
// text only (Viber, WhatsApp): markup is dropped, link texts kept, and long
// texts split within a character limit and a JSON byte budget.
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
	text, _, err := format.VisibleText(html)
	if err != nil {
		return ""
	}
	return text
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
