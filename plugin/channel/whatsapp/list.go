package whatsapp

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// List messages (Meta's business-messaging-api_v23.0.yaml, ActionObject
// with button and sections, SectionObject): an interactive message of type
// "list" with a body text of at most 1024 characters, a button label of at
// most 20 characters, and 1 to 10 sections whose rows {id, title} number
// at most 10 in all; a row's id takes at most 200 characters, its title
// 24. A choice arrives as a message of type "interactive" with
// interactive.list_reply {id, title, description}.

// List message limits.
const (
	MaxListRows     = 10
	MaxRowTitle     = 24
	MaxRowID        = 200
	MaxListButton   = 20
	maxSectionTitle = 24
)

// MaxListChoices implements channel.Lister.
func (c *Channel) MaxListChoices() int { return MaxListRows }

// SendList implements channel.Lister with one section of rows; a row's id
// is the choice's data.
func (c *Channel) SendList(chatID, text, button string, choices []channel.Choice) error {
	if text == "" || utf8.RuneCountInString(text) > MaxBodyText {
		return fmt.Errorf("whatsapp: list body of %d characters: %w", utf8.RuneCountInString(text), channel.ErrTooLarge)
	}
	if len(choices) == 0 || len(choices) > MaxListRows {
		return fmt.Errorf("whatsapp: %d list rows", len(choices))
	}
	button = shorten(strings.TrimSpace(button), MaxListButton)
	if button == "" {
		return fmt.Errorf("whatsapp: a list needs a button label")
	}
	rows := make([]any, 0, len(choices))
	titles := map[string]bool{}
	for _, ch := range choices {
		title := shorten(strings.TrimSpace(ch.Label), MaxRowTitle)
		if !channel.ValidChoiceData(ch.Data) || title == "" || titles[title] {
			return fmt.Errorf("whatsapp: list row refused (empty or repeated title, or bad id)")
		}
		titles[title] = true
		rows = append(rows, map[string]any{"id": ch.Data, "title": title})
	}
	_, err := c.send(chatID, map[string]any{"type": "interactive", "interactive": map[string]any{
		"type":   "list",
		"body":   map[string]any{"text": text},
		"action": map[string]any{"button": button, "sections": []any{map[string]any{"rows": rows}}},
	}})
	return err
}

// shorten cuts s to n characters, the last one an ellipsis.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

var _ channel.Lister = (*Channel)(nil)
