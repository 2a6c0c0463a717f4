package viber

import (
	"fmt"
	"html"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// Viber keyboards (developers.viber.com/docs/tools/keyboards; the SDK,
// viber-bot-python 1.0.12, passes the keyboard object through unchecked):
// a send_message may carry "keyboard" {Type "keyboard", Buttons}; a button
// of ActionType "reply" sends its ActionBody back as an ordinary text
// message from the customer. The bridge's ActionBody is the choice's data
// behind channel.ChoicePrefix, so that Parse tells a press from a typed
// message; a customer who types such a text gets no more than the press
// (the bridge checks every choice against the chat). Silent keeps the
// ActionBody out of the customer's conversation.

// Keyboard limits, as Viber's keyboard documentation gives them.
const (
	// MaxColumns is a keyboard row's width; a button spans 1 to MaxColumns.
	MaxColumns = 6
	// MaxRows bounds a keyboard button's height (1 or 2 rows).
	MaxRows = 2
	// MaxButtonText bounds a button's Text, in characters.
	MaxButtonText = 250
)

// keyboard is a Viber keyboard object.
type keyboard struct {
	Type          string   `json:"Type"`
	DefaultHeight bool     `json:"DefaultHeight"`
	Buttons       []button `json:"Buttons"`
}

// button is a keyboard button of ActionType "reply".
type button struct {
	Columns    int    `json:"Columns"`
	Rows       int    `json:"Rows"`
	ActionType string `json:"ActionType"`
	ActionBody string `json:"ActionBody"`
	Text       string `json:"Text"`
	Silent     bool   `json:"Silent"`
}

// keyboardRequest is send_message with a text and a keyboard.
type keyboardRequest struct {
	sendRequest
	Keyboard keyboard `json:"keyboard"`
}

// MaxChoices implements channel.Chooser: one full-width button per row;
// Viber shows a keyboard of up to about seven rows without scrolling.
func (c *Channel) MaxChoices() int { return 6 }

// SendChoices implements channel.Chooser with send_message: the text and a
// keyboard of one full-width reply button per choice.
func (c *Channel) SendChoices(chatID, text string, choices []channel.Choice) error {
	user, ok := UserID(chatID)
	if !ok {
		return fmt.Errorf("viber: bad chat id: %w", channel.ErrNotFound)
	}
	if text == "" || utf8.RuneCountInString(text) > Limits.Text {
		return fmt.Errorf("viber: keyboard text of %d characters: %w", utf8.RuneCountInString(text), channel.ErrTooLarge)
	}
	if len(choices) == 0 || len(choices) > c.MaxChoices() {
		return fmt.Errorf("viber: %d buttons", len(choices))
	}
	kb := keyboard{Type: "keyboard", Buttons: make([]button, 0, len(choices))}
	for _, ch := range choices {
		if !channel.ValidChoiceData(ch.Data) {
			return fmt.Errorf("viber: button data refused")
		}
		// Text may hold Viber's few HTML tags: the label is escaped, and
		// cut so that even escaped it fits MaxButtonText.
		label := html.EscapeString(truncate(ch.Label, MaxButtonText/6))
		kb.Buttons = append(kb.Buttons, button{Columns: MaxColumns, Rows: 1, ActionType: "reply",
			ActionBody: channel.ChoicePrefix + ch.Data, Text: label, Silent: true})
	}
	body, err := marshal(keyboardRequest{sendRequest{Receiver: user, Type: "text", Text: text, Sender: sender{Name: c.senderName()}}, kb})
	if err != nil {
		return fmt.Errorf("viber: send_message: %w", err)
	}
	if len(body) > MaxRequest {
		return fmt.Errorf("viber: send_message of %d bytes: %w", len(body), channel.ErrTooLarge)
	}
	return c.client.post("send_message", body, nil)
}

var _ channel.Chooser = (*Channel)(nil)
