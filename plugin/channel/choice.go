package channel

import "strings"

// Buttons under a bot message: the customer picks one instead of typing.
// The bridge uses them for the satisfaction survey (plugin/bridge,
// satisfaction.go). Each messenger has its own kind: Telegram's inline
// keyboard (a press arrives as a callback_query, answered with
// answerCallbackQuery), Viber's keyboard (a press of a "reply" button sends
// its ActionBody back as a text message), WhatsApp's interactive reply
// buttons (a press arrives as an interactive button_reply message) and the
// website widget's buttons (a press arrives as a "choose" request).

// Chosen is an inbound event: the customer pressed a button. Inbound.Choice
// holds the button's data; Inbound.Callback, when set, is what the bot
// answers the press with (Telegram's callback query id, see Answerer).
const Chosen Kind = "chosen"

// Choice is one button: the label the customer sees and the data that comes
// back when it is pressed.
type Choice struct {
	Label string
	// Data is the bridge's own text, at most MaxChoiceData bytes of
	// [A-Za-z0-9:_-]; a channel prefixes it with ChoicePrefix where the
	// messenger sends it back as ordinary text.
	Data string
}

// MaxChoiceData bounds Choice.Data: Telegram's callback_data takes 1-64
// bytes, and the prefix must fit too.
const MaxChoiceData = 56

// ChoicePrefix marks a button's data where it travels as text (Viber's
// ActionBody). A customer who types such a text by hand gets no more than
// the press would give: the bridge checks every choice against the chat.
const ChoicePrefix = "cb:"

// ValidChoiceData reports whether data can be a Choice's Data.
func ValidChoiceData(data string) bool {
	if data == "" || len(data) > MaxChoiceData {
		return false
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ChoiceFromText returns the data of a button sent back as text, or false
// for a text that is not one.
func ChoiceFromText(text string) (string, bool) {
	data, ok := strings.CutPrefix(text, ChoicePrefix)
	if !ok || !ValidChoiceData(data) {
		return "", false
	}
	return data, true
}

// Chooser is implemented by channels that can put buttons under a message.
type Chooser interface {
	// MaxChoices is how many buttons one message carries at most.
	MaxChoices() int
	// SendChoices sends text (plain) with one button per choice, in order.
	SendChoices(chatID, text string, choices []Choice) error
}

// Answerer is implemented by channels whose messenger expects the bot to
// answer a button press (Telegram's answerCallbackQuery); text is a short
// plain notice shown to the customer, or "".
type Answerer interface {
	AnswerChoice(callback, text string) error
}
