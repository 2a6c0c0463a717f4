package bridge

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/format"
)

// escapeWiki makes plain text (a display name, a file name) literal in Jira
// wiki markup.
func escapeWiki(s string) string { return format.ViberToWiki(s) }

// oneLine collapses runs of white space (line breaks included) to one space.
func oneLine(s string) string { return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ") }

// truncateRunes shortens s to at most n characters, marking the cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:n-1]), unicode.IsSpace) + "…"
}

// summary fills the summary template: one line of at most 255 characters.
func summary(template, sender, text, attachment string) string {
	text = oneLine(text)
	if text == "" {
		text = "(" + firstNonEmpty(attachment, "message") + ")"
	}
	s := strings.NewReplacer("{name}", oneLine(sender), "{text}", text).Replace(template)
	s = oneLine(s)
	if s == "" {
		s = "Chat"
	}
	return truncateRunes(s, maxSummary)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// description is the body of a new request: the message as a comment would
// carry it, and who sent it from where.
func description(ev *channel.Inbound, ch, attachment string) string {
	body := messageBody(ev)
	if body == "" && attachment != "" {
		body = "(" + attachment + ")"
	}
	return body + "\n\n----\n" + fill(descriptionFooter, "{name}", escapeWiki(ev.Sender), "{channel}", channelTitle(ch))
}

// commentBody is a follow-up message as a Jira comment; in a group chat it
// names the sender, as several people share the request.
func commentBody(ev *channel.Inbound) string {
	body := messageBody(ev)
	if ev.Group && ev.Sender != "" {
		body = "*" + escapeWiki(ev.Sender) + ":* " + body
	}
	return body
}

// messageBody is the message text with its quote and edit mark.
func messageBody(ev *channel.Inbound) string {
	var b strings.Builder
	if ev.ReplyTo != "" {
		b.WriteString("{quote}")
		b.WriteString(ev.ReplyTo)
		b.WriteString("{quote}\n")
	}
	if ev.Edited {
		b.WriteString("(edited) ")
	}
	b.WriteString(ev.Wiki)
	return strings.TrimSpace(b.String())
}
