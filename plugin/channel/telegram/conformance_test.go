package telegram

import (
	"encoding/json"
	"errors"
	"fmt"

	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/channeltest"
	"github.com/chatbridge/chatbridge/plugin/format"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

var conformanceBots int

func TestConformance(t *testing.T) {
	channeltest.Run(t, channeltest.Suite{
		New: func(env *sdk.Env, s channel.Secrets) channel.Channel { return New(env, s) },
		Setup: func(env *sdktest.Env) channel.Secrets {
			conformanceBots++
			_ = env.Secret.Set("tg.token", fmt.Appendf(nil, "70000000%02d:AAH3kP0aWq4sV9bFz2yXcL8mN1oR6tU5eQd", conformanceBots%100))
			_ = env.Secret.Set("tg.webhook", fmt.Appendf(nil, "webhook-secret-%d", conformanceBots))
			return channel.Secrets{Token: "tg.token", Webhook: "tg.webhook"}
		},
		Deliver: func(env *sdktest.Env, s channel.Secrets, body []byte) *abi.WebTriggerRequest {
			return &abi.WebTriggerRequest{Method: "POST", Body: body,
				Headers: []abi.Header{{Name: SecretHeader, Value: string(env.Secret.Reveal(s.Webhook))}}}
		},
		Text: func(id int64, chat, text string) []byte {
			b, _ := json.Marshal(map[string]any{"update_id": id, "message": map[string]any{
				"message_id": id, "date": 1700000000, "text": text,
				"from": map[string]any{"id": 5123456789, "is_bot": false, "first_name": "Anna"},
				"chat": map[string]any{"id": json.Number(chat), "type": "private"},
			}})
			return b
		},
		Chat: "5123456789", ChatID: "5123456789",
		Measure: func(part string) int {
			_, n, err := format.VisibleText(part)
			if err != nil {
				return 1 << 30
			}
			return n
		},
		Answer: func(want error) func(*abi.Request) (*abi.Response, error) {
			return func(*abi.Request) (*abi.Response, error) {
				body := ""
				switch want {
				case nil:
					body = `{"ok":true,"result":{"message_id":1,"date":1,"chat":{"id":5123456789,"type":"private"}}}`
				case channel.ErrBlocked:
					body = `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`
				case channel.ErrUnauthorized:
					body = `{"ok":false,"error_code":401,"description":"Unauthorized"}`
				case channel.ErrTemporary:
					body = `{"ok":false,"error_code":502,"description":"Bad Gateway"}`
				case channel.ErrNotFound:
					body = `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`
				case channeltest.ErrFlood:
					body = `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`
				default:
					return nil, errors.New("unexpected")
				}
				return &abi.Response{Status: 200, Body: []byte(body)}, nil
			}
		},
		Waits: []error{channeltest.ErrFlood},
	})
}
