package whatsapp

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// Reply buttons (Meta's business-messaging-api_v23.0.yaml, InteractiveObject
// of type "button", recorded in testdata/specs/whatsapp/cloud-api.json): an
// interactive message with a body text of at most 1024 characters and 1 to
// 3 buttons {type "reply", reply {id, title}}, title at most 20 characters,
// unique and not empty, id at most 256 characters without leading or
// trailing spaces. A press arrives as a message of type "interactive" with
// interactive.button_reply {id, title}. Like every free-form message it is
// delivered only within the 24-hour window.

// Reply button limits.
const (
	MaxButtons     = 3
	MaxButtonTitle = 20
	MaxButtonID    = 256
	MaxBodyText    = 1024
)

// MaxChoices implements channel.Chooser.
func (c *Channel) MaxChoices() int { return MaxButtons }

// SendChoices implements channel.Chooser with an interactive message of
// reply buttons; a button's id is the choice's data.
func (c *Channel) SendChoices(chatID, text string, choices []channel.Choice) error {
	if text == "" || utf8.RuneCountInString(text) > MaxBodyText {
		return fmt.Errorf("whatsapp: interactive body of %d characters: %w", utf8.RuneCountInString(text), channel.ErrTooLarge)
	}
	if len(choices) == 0 || len(choices) > MaxButtons {
		return fmt.Errorf("whatsapp: %d reply buttons", len(choices))
	}
	buttons := make([]any, 0, len(choices))
	titles := map[string]bool{}
	for _, ch := range choices {
		title := strings.TrimSpace(ch.Label)
		if utf8.RuneCountInString(title) > MaxButtonTitle {
			title = string([]rune(title)[:MaxButtonTitle-1]) + "…"
		}
		if !channel.ValidChoiceData(ch.Data) || title == "" || titles[title] {
			return fmt.Errorf("whatsapp: reply button refused (empty or repeated title, or bad id)")
		}
		titles[title] = true
		buttons = append(buttons, map[string]any{"type": "reply", "reply": map[string]any{"id": ch.Data, "title": title}})
	}
	_, err := c.send(chatID, map[string]any{"type": "interactive", "interactive": map[string]any{
		"type":   "button",
		"body":   map[string]any{"text": text},
		"action": map[string]any{"buttons": buttons},
	}})
	return err
}

var _ channel.Chooser = (*Channel)(nil)
