package telegram

import (
	"strconv"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// CallbackQuery is the part of a Bot API CallbackQuery the bridge reads: a
// press of an inline keyboard button under one of the bot's messages.
type CallbackQuery struct {
	ID   string `json:"id"`
	From *User  `json:"from"`
	// Message is the bot's message the button was under; absent for
	// messages sent in inline mode, which the bot does not use.
	Message *Message `json:"message"`
	Data    string   `json:"data"`
}

// callbackEvent turns a button press into a Chosen event. A press without
// the bot's message, or with data the bridge did not send, gives none.
func callbackEvent(id string, q *CallbackQuery) (channel.Inbound, bool) {
	if q.ID == "" || q.Message == nil || q.Message.Chat.ID == 0 || !channel.ValidChoiceData(q.Data) {
		return channel.Inbound{}, false
	}
	return channel.Inbound{
		ID: id, Kind: channel.Chosen,
		ChatID:    strconv.FormatInt(q.Message.Chat.ID, 10),
		Group:     q.Message.Chat.Type != "private",
		MessageID: strconv.FormatInt(q.Message.MessageID, 10),
		Sender:    displayName(q.From),
		Choice:    q.Data,
		Callback:  q.ID,
		Thread:    topicOf(q.Message),
	}, true
}

// inlineButton is an InlineKeyboardButton with callback_data.
type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// MaxChoices implements channel.Chooser: one row of an inline keyboard; the
// Bot API takes up to 100 buttons, a phone shows about 8 in a row.
func (c *Channel) MaxChoices() int { return 8 }

// SendChoices implements channel.Chooser with sendMessage and an inline
// keyboard of one row (reply_markup InlineKeyboardMarkup).
func (c *Channel) SendChoices(chatID, text string, choices []channel.Choice) error {
	id, err := chatIDParam(chatID)
	if err != nil {
		return err
	}
	row := make([]inlineButton, 0, len(choices))
	for _, ch := range choices {
		row = append(row, inlineButton{Text: ch.Label, CallbackData: ch.Data})
	}
	return c.send("sendMessage", map[string]any{
		"chat_id":      id,
		"text":         text,
		"reply_markup": map[string]any{"inline_keyboard": [][]inlineButton{row}},
	})
}

// AnswerChoice implements channel.Answerer with answerCallbackQuery, which
// stops the button's progress indicator and shows text as a notice.
func (c *Channel) AnswerChoice(callback, text string) error {
	params := map[string]any{"callback_query_id": callback}
	if text != "" {
		params["text"] = text
	}
	return c.client.Call("answerCallbackQuery", params, nil)
}

var (
	_ channel.Chooser  = (*Channel)(nil)
	_ channel.Answerer = (*Channel)(nil)
)
