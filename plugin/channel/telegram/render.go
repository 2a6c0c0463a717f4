package telegram

import (
	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/format"
)

// The conversions between Telegram and Jira formats live in package format;
// these are the only calls into it.

// entitiesToWiki converts a message's text and entities to Jira wiki markup
// in which nothing the customer typed becomes markup, a macro or a link
// target other than their own links.
func entitiesToWiki(text string, entities []Entity) string {
	if text == "" {
		return ""
	}
	fe := make([]format.Entity, 0, len(entities))
	for _, e := range entities {
		fe = append(fe, format.Entity{Type: e.Type, Offset: e.Offset, Length: e.Length, URL: e.URL, Language: e.Language})
	}
	return format.TelegramToWiki(text, fe)
}

// renderHTML converts Jira content to Telegram HTML split into messages of
// at most limit characters (UTF-16 code units of visible text, as Telegram
// counts). A malformed ADF document renders as nothing.
func renderHTML(c channel.Content, limit int) []string {
	var html string
	switch {
	case len(c.ADF) > 0:
		h, err := format.ADFToTelegramHTML(c.ADF)
		if err != nil {
			return nil
		}
		html = h
	case c.Wiki != "":
		html = format.WikiToTelegramHTML(c.Wiki)
	default:
		html = format.PlainToTelegramHTML(c.Plain)
	}
	return format.SplitTelegramHTML(html, limit)
}
