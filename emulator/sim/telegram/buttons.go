package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// Inline keyboards and callback queries, as the Bot API defines them: a
// bot's message may carry an InlineKeyboardMarkup (reply_markup); a user's
// press of a callback button becomes a callback_query update, which the
// bot answers once with answerCallbackQuery.

// InlineKeyboardButton is one button of an inline keyboard. The simulator
// keeps the fields it checks; a button has exactly one of the optional
// fields (its action).
type InlineKeyboardButton struct {
	Text                         string          `json:"text"`
	URL                          string          `json:"url,omitempty"`
	CallbackData                 string          `json:"callback_data,omitempty"`
	WebApp                       json.RawMessage `json:"web_app,omitempty"`
	LoginURL                     json.RawMessage `json:"login_url,omitempty"`
	SwitchInlineQuery            *string         `json:"switch_inline_query,omitempty"`
	SwitchInlineQueryCurrentChat *string         `json:"switch_inline_query_current_chat,omitempty"`
	SwitchInlineQueryChosenChat  json.RawMessage `json:"switch_inline_query_chosen_chat,omitempty"`
	CopyText                     json.RawMessage `json:"copy_text,omitempty"`
	CallbackGame                 json.RawMessage `json:"callback_game,omitempty"`
	Pay                          bool            `json:"pay,omitempty"`
}

// actions counts the button's action fields; callback_data is counted
// when present, even empty (then refused as invalid data).
func (b *InlineKeyboardButton) actions(hasData bool) int {
	n := 0
	for _, set := range []bool{b.URL != "", hasData, b.WebApp != nil, b.LoginURL != nil, b.SwitchInlineQuery != nil,
		b.SwitchInlineQueryCurrentChat != nil, b.SwitchInlineQueryChosenChat != nil, b.CopyText != nil,
		b.CallbackGame != nil, b.Pay} {
		if set {
			n++
		}
	}
	return n
}

// InlineKeyboardMarkup is a message's inline keyboard: rows of buttons.
type InlineKeyboardMarkup struct {
	InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
}

// CallbackQuery is a press of a callback button.
type CallbackQuery struct {
	ID           string   `json:"id"`
	From         User     `json:"from"`
	Message      *Message `json:"message,omitempty"`
	ChatInstance string   `json:"chat_instance"`
	Data         string   `json:"data,omitempty"`
}

// Limits of inline keyboards: callback_data takes 1-64 bytes; a keyboard
// at most 100 buttons; an answer's text 0-200 characters.
const (
	maxCallbackData   = 64
	maxInlineButtons  = 100
	maxCallbackAnswer = 200
)

// readMarkup checks reply_markup. Only an inline keyboard stays with the
// message; the other kinds (reply keyboards, their removal, force_reply)
// change the user's keyboard, which the simulator does not show, and are
// checked as objects only.
func readMarkup(a *args) (*InlineKeyboardMarkup, *apiError) {
	var raw map[string]json.RawMessage
	ok, e := a.object("reply_markup", "reply keyboard markup", &raw)
	if e != nil || !ok {
		return nil, e
	}
	if raw == nil {
		return nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	rows, inline := raw["inline_keyboard"]
	if !inline {
		if _, k := raw["keyboard"]; !k {
			if _, r := raw["remove_keyboard"]; !r {
				if _, f := raw["force_reply"]; !f {
					return nil, badRequest("can't parse reply keyboard markup JSON object")
				}
			}
		}
		return nil, nil
	}
	var buttons [][]json.RawMessage
	if json.Unmarshal(rows, &buttons) != nil {
		return nil, badRequest("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
	}
	out := &InlineKeyboardMarkup{InlineKeyboard: [][]InlineKeyboardButton{}}
	count := 0
	for _, row := range buttons {
		line := []InlineKeyboardButton{}
		for _, rb := range row {
			var fields map[string]json.RawMessage
			var b InlineKeyboardButton
			if json.Unmarshal(rb, &fields) != nil || json.Unmarshal(rb, &b) != nil {
				return nil, badRequest("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
			}
			if _, ok := fields["text"]; !ok {
				return nil, badRequest("can't parse inline keyboard button: Field \"text\" must be of type String")
			}
			_, hasData := fields["callback_data"]
			switch n := b.actions(hasData); {
			case n == 0:
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			case n > 1:
				return nil, badRequest("can't parse inline keyboard button: only one of the optional fields must be used")
			}
			if hasData && (b.CallbackData == "" || len(b.CallbackData) > maxCallbackData) {
				return nil, badRequest("BUTTON_DATA_INVALID")
			}
			if b.Text == "" {
				return nil, badRequest("BUTTON_TEXT_INVALID")
			}
			count++
			line = append(line, b)
		}
		out.InlineKeyboard = append(out.InlineKeyboard, line)
	}
	if count > maxInlineButtons {
		return nil, badRequest("BUTTONS_TOO_MUCH")
	}
	return out, nil
}

// callback is a press waiting for, or given, the bot's answer.
type callback struct {
	chatID   int64
	answered bool
}

// answerCallbackQuery answers a press once; an unknown or answered query
// is refused as Telegram refuses it.
func answerCallbackQuery(_ context.Context, s *Sim, b *bot, a *args) (any, string, *apiError) {
	id, ok, e := a.str("callback_query_id")
	if e != nil {
		return nil, "", e
	}
	if !ok || id == "" {
		return nil, "", badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	text, _, e := a.str("text")
	if e != nil {
		return nil, "", e
	}
	if !validUTF8(text) {
		return nil, "", badRequest("text must be encoded in UTF-8")
	}
	if utf8.RuneCountInString(text) > maxCallbackAnswer {
		return nil, "", badRequest("MESSAGE_TOO_LONG")
	}
	a.boolean("show_alert")
	if _, _, e := a.str("url"); e != nil {
		return nil, "", e
	}
	if _, _, e := a.integer("cache_time"); e != nil {
		return nil, "", e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cb := b.callbacks[id]
	if cb == nil || cb.answered {
		return nil, "", badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	cb.answered = true
	if c := b.chats[cb.chatID]; c != nil {
		c.sent = append(c.sent, Sent{Method: "answerCallbackQuery", Text: text, Plain: text, Date: s.now().Unix()})
	}
	return true, "", nil
}

// pressRequest is the body of POST /_sim/telegram/press: the user of chat
// presses the callback button with data under the bot's message.
type pressRequest struct {
	BotID     int64  `json:"bot_id"`
	ChatID    int64  `json:"chat_id"`
	MessageID int64  `json:"message_id"`
	Data      string `json:"data"`
}

func (s *Sim) controlPress(w http.ResponseWriter, r *http.Request) {
	var req pressRequest
	if err := simctl.DecodeJSON(r.Body, &req); err != nil {
		simctl.WriteError(w, http.StatusBadRequest, "telegram: "+err.Error())
		return
	}
	res, err := s.userPress(req)
	if err != nil {
		simctl.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	simctl.WriteJSON(w, http.StatusOK, res)
}

// userPress makes the callback_query update of a press and delivers it. Only
// a button the bot's message shows can be pressed.
func (s *Sim) userPress(req pressRequest) (deliveryResult, error) {
	b := s.botByID(req.BotID)
	if b == nil {
		return deliveryResult{}, fmt.Errorf("telegram: no bot with id %d", req.BotID)
	}
	s.mu.Lock()
	c := b.chats[req.ChatID]
	if c == nil {
		s.mu.Unlock()
		return deliveryResult{}, fmt.Errorf("telegram: no chat %d", req.ChatID)
	}
	m := c.messages[req.MessageID]
	if m == nil || m.From == nil || !m.From.IsBot || m.ReplyMarkup == nil {
		s.mu.Unlock()
		return deliveryResult{}, fmt.Errorf("telegram: chat %d has no bot message %d with an inline keyboard", c.id, req.MessageID)
	}
	found := false
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		for _, btn := range row {
			found = found || btn.CallbackData != "" && btn.CallbackData == req.Data
		}
	}
	if !found {
		s.mu.Unlock()
		return deliveryResult{}, fmt.Errorf("telegram: message %d has no callback button with that data", req.MessageID)
	}
	b.nextCallback++
	id := strconv.FormatInt(b.user.ID, 10) + strconv.FormatInt(b.nextCallback, 10)
	if b.callbacks == nil {
		b.callbacks = map[string]*callback{}
	}
	b.callbacks[id] = &callback{chatID: c.id}
	msg := *m
	u := Update{CallbackQuery: &CallbackQuery{ID: id, From: c.user, Message: &msg,
		ChatInstance: strconv.FormatInt(c.id^b.user.ID, 10), Data: req.Data}}
	p := s.enqueue(b, &u, c.id)
	res := deliveryResult{UpdateID: u.UpdateID, MessageID: m.MessageID}
	if p == nil {
		res.UpdateID, res.Filtered = 0, true
		s.mu.Unlock()
		return res, nil
	}
	hook, ok := s.claim(b, p, time.Now())
	s.mu.Unlock()
	s.poke()
	return s.firstAttempt(b, p, hook, ok, res), nil
}
