package bridge

import (
	"encoding/json"
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

// corrected heads content with marker, in italics, on a line of its own:
// an agent's edited reply as the customer sees it. An ADF document gets a
// paragraph in front; one that is not a document is left to render as
// nothing, as it would unmarked.
func corrected(c channel.Content, marker string) channel.Content {
	switch {
	case len(c.ADF) > 0:
		var doc map[string]json.RawMessage
		var content []json.RawMessage
		if json.Unmarshal(c.ADF, &doc) != nil || json.Unmarshal(doc["content"], &content) != nil {
			return c
		}
		head, _ := json.Marshal(map[string]any{"type": "paragraph", "content": []any{
			map[string]any{"type": "text", "text": marker, "marks": []any{map[string]string{"type": "em"}}},
		}})
		doc["content"], _ = json.Marshal(append([]json.RawMessage{head}, content...))
		adf, err := json.Marshal(doc)
		if err != nil {
			return c
		}
		return channel.Content{ADF: adf}
	case c.Wiki != "":
		return channel.Content{Wiki: "_" + escapeWiki(marker) + "_\n" + c.Wiki}
	}
	return channel.Content{Plain: marker + "\n" + c.Plain}
}
