package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// The satisfaction survey through the HTTPS edge, the wasm module and the
// simulators (plugin/bridge, satisfaction.go).

// surveyMsg is a /_sim/telegram/sent entry with its inline keyboard.
type surveyMsg struct {
	Method      string `json:"method"`
	MessageID   int64  `json:"message_id"`
	Plain       string `json:"plain"`
	Text        string `json:"text"`
	ReplyMarkup *struct {
		InlineKeyboard [][]struct {
			Text         string `json:"text"`
			CallbackData string `json:"callback_data"`
		} `json:"inline_keyboard"`
	} `json:"reply_markup"`
}

// feedbackState is a /_sim/jira/requests entry's feedback.
type feedbackState struct {
	Key      string `json:"key"`
	Feedback *struct {
		Rating  int    `json:"rating"`
		Comment string `json:"comment"`
	} `json:"feedback"`
}

func surveySent(t *testing.T, s *stacktest.Stack, chat int64) []surveyMsg {
	t.Helper()
	var out []surveyMsg
	s.Call(t, "GET", "/_sim/telegram/sent?chat_id="+strconv.FormatInt(chat, 10), nil, &out, http.StatusOK)
	return out
}

func feedback(t *testing.T, s *stacktest.Stack, key string) (rating int, comment string) {
	t.Helper()
	var list []feedbackState
	s.Call(t, "GET", "/_sim/jira/requests", nil, &list, http.StatusOK)
	for _, r := range list {
		if r.Key == key && r.Feedback != nil {
			return r.Feedback.Rating, r.Feedback.Comment
		}
	}
	return 0, ""
}

func TestE2ETelegramSatisfaction_TheCustomerRatesWithButtonsAndTheRatingLandsInJira(t *testing.T) {
	t.Parallel()
	// A stack of its own: the job that closes the comment window stays
	// queued for 10 minutes, which would keep a shared stack from settling.
	s := stacktest.Start(t)
	chat := stacktest.NewChat()
	s.Say(t, chat, "The scanner jams plum40213")
	r := s.WaitRequest(t, "plum40213")
	s.Transition(t, r.Key, "Done")

	// The resolution notice, then the question with five buttons.
	var survey surveyMsg
	waitfor.Until(t, stacktest.Wait, "the survey's buttons", func() string {
		for _, m := range surveySent(t, s, chat) {
			if m.ReplyMarkup != nil && len(m.ReplyMarkup.InlineKeyboard) == 1 {
				survey = m
				return ""
			}
		}
		return "no message with an inline keyboard yet"
	})
	buttons := survey.ReplyMarkup.InlineKeyboard[0]
	if len(buttons) != 5 || buttons[3].CallbackData != "csat:4:"+r.Key {
		t.Fatalf("buttons %+v", buttons)
	}
	var press stacktest.SendResult
	s.Call(t, "POST", "/_sim/telegram/press", map[string]any{"chat_id": chat, "message_id": survey.MessageID, "data": buttons[3].CallbackData},
		&press, http.StatusOK)
	if press.Status != http.StatusOK {
		t.Fatalf("press delivery %+v", press)
	}
	// The press is answered, and the customer is asked for a comment.
	waitfor.Until(t, stacktest.Wait, "the press answered and the thanks", func() string {
		answered, thanked := false, false
		for _, m := range surveySent(t, s, chat) {
			answered = answered || m.Method == "answerCallbackQuery"
			thanked = thanked || strings.Contains(m.Plain, "Thank you for your rating")
		}
		if !answered || !thanked {
			return fmt.Sprintf("answered %v, thanked %v", answered, thanked)
		}
		return ""
	})
	if rating, _ := feedback(t, s, r.Key); rating != 0 {
		t.Fatalf("feedback %d posted before the comment window closed", rating)
	}
	s.Say(t, chat, "Fixed within the hour fig55120")
	waitfor.Until(t, stacktest.Wait, "the feedback in Jira", func() string {
		rating, comment := feedback(t, s, r.Key)
		if rating != 4 || comment != "Fixed within the hour fig55120" {
			return fmt.Sprintf("feedback %d %q", rating, comment)
		}
		return ""
	})
	s.WaitText(t, chat, "your comment has reached our support team")
	if n := len(s.RequestsWith(t, "fig55120")); n != 0 {
		t.Fatalf("the comment opened %d requests", n)
	}
}
