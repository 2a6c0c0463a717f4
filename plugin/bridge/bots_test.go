package bridge

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/wit/abi"
)

const secondToken = "7000000002:AAH9second0bot0token0for0the0tests0x"

// secondBot plays a second Telegram bot on the same fake: its own id,
// webhook and sent messages.
type secondBot struct {
	mu      sync.Mutex // guards the fields below
	hookURL string
	hookSec string
	sent    []string // chat:text
}

func withSecondBot(h *harness) *secondBot {
	sb := &secondBot{}
	inner := h.env.HTTP.Handler
	h.env.HTTP.Handler = func(req *abi.Request) (*abi.Response, error) {
		if !strings.Contains(h.substitute(req.URL), secondToken) {
			return inner(req)
		}
		method := req.URL[strings.LastIndex(req.URL, "/")+1:]
		var p map[string]any
		_ = json.Unmarshal(req.Body, &p)
		sb.mu.Lock()
		defer sb.mu.Unlock()
		switch method {
		case "getMe":
			return tgOK(`{"id":7000000002,"is_bot":true,"first_name":"Second","username":"second_support_bot"}`), nil
		case "setWebhook":
			sb.hookURL, _ = p["url"].(string)
			sb.hookSec, _ = p["secret_token"].(string)
			return tgOK("true"), nil
		case "deleteWebhook":
			sb.hookURL, sb.hookSec = "", ""
			return tgOK("true"), nil
		case "sendMessage":
			chat, _ := p["chat_id"].(float64)
			text, _ := p["text"].(string)
			sb.sent = append(sb.sent, strconv.FormatInt(int64(chat), 10)+":"+text)
			return tgOK(`{"message_id":3001,"date":1763805300,"chat":{"id":1,"type":"private"}}`), nil
		}
		return tgError(`{"ok":false,"error_code":404,"description":"Not Found"}`), nil
	}
	return sb
}

// postSecond delivers an update through the second bot's webhook.
func (h *harness) postSecond(sb *secondBot, body []byte) *abi.Response {
	h.t.Helper()
	sb.mu.Lock()
	secret := sb.hookSec
	sb.mu.Unlock()
	req := &abi.WebTriggerRequest{Context: h.ctx, Trigger: "telegram-webhook", Method: "POST", Path: "/",
		Query: []abi.Header{{Name: "project", Value: testProject}, {Name: "bot", Value: "telegram.2"}}, Body: body,
		Headers: []abi.Header{{Name: "X-Telegram-Bot-Api-Secret-Token", Value: secret}, {Name: "Content-Type", Value: "application/json"}}}
	resp, err := h.b.WebTrigger(h.env.Env, req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// A second bot joins the project with its own webhook; an update is routed
// by the bot it came through, the same person writing to both bots is two
// chats with two requests, each labelled by the channel, and each agent's
// reply leaves through the bot its chat wrote to.
func TestSeveralBotsPerProjectRouteByTheBotTheUpdateCameThrough(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	sb := withSecondBot(h)
	a, err := h.resolve("bots.add", map[string]any{"projectKey": testProject, "channel": "telegram", "botToken": secondToken})
	if err != nil || a["ok"] != true {
		t.Fatalf("bots.add: %v %v", a, err)
	}
	bots, _ := json.Marshal(a["config"].(map[string]any)["bots"])
	if string(bots) != `[{"bot":"second_support_bot","channel":"telegram","route":"telegram.2"}]` || strings.Contains(string(bots), "chatbridge.") {
		t.Fatalf("bots %s", bots)
	}
	if !strings.Contains(sb.hookURL, "project=SUP&bot=telegram.2") || sb.hookSec == "" || sb.hookSec == h.tg.secret() {
		t.Fatalf("second webhook %q", sb.hookURL)
	}
	// The same bot again, or the project's own bot as an extra, is refused.
	if a, _ := h.resolve("bots.add", map[string]any{"projectKey": testProject, "channel": "telegram", "botToken": secondToken}); a["ok"] != false {
		t.Errorf("the same bot twice: %v", a)
	}
	if a, _ := h.resolve("bots.add", map[string]any{"projectKey": testProject, "channel": "telegram", "botToken": goodToken}); a["ok"] != false {
		t.Errorf("the project's own bot as an extra: %v", a)
	}

	const chat = 5123456789
	first := h.text(chat, "Via the first bot")
	h.send(first)
	h.drain()
	// The same update id through the second bot is another update: each
	// bot counts its own.
	var u struct {
		ID int64 `json:"update_id"`
	}
	_ = json.Unmarshal(first, &u)
	second := h.text(chat, "Via the second bot")
	var m map[string]any
	_ = json.Unmarshal(second, &m)
	m["update_id"] = u.ID
	second, _ = json.Marshal(m)
	if r := h.postSecond(sb, second); r.Status != 200 {
		t.Fatalf("second bot's webhook answered %d", r.Status)
	}
	h.drain()
	// A delivery to the second bot's URL with the first bot's secret is not authentic.
	req := &abi.WebTriggerRequest{Context: h.ctx, Trigger: "telegram-webhook", Method: "POST", Path: "/",
		Query: []abi.Header{{Name: "project", Value: testProject}, {Name: "bot", Value: "telegram.2"}}, Body: h.text(chat, "forged"),
		Headers: []abi.Header{{Name: "X-Telegram-Bot-Api-Secret-Token", Value: h.tg.secret()}}}
	if r, _ := h.b.WebTrigger(h.env.Env, req); r.Status != 401 {
		t.Errorf("the first bot's secret at the second bot's URL: %d", r.Status)
	}
	if n := h.jira.issueCount(); n != 2 {
		t.Fatalf("%d requests, want one per bot", n)
	}
	one, two := h.jira.issue("SUP-1"), h.jira.issue("SUP-2")
	if !strings.Contains(two.Description, "Via the second bot") || strings.Join(two.Labels, ",") != "chatbridge-telegram" || !strings.Contains(two.Description, "Telegram") {
		t.Fatalf("second request %+v", two)
	}
	_ = one
	before := len(h.tg.messages())
	h.event("comment_created_public.json", `"key": "SUP-1"`, `"key": "SUP-2"`, `"id": "10042"`, `"id": "10043"`)
	h.drain()
	sb.mu.Lock()
	sent := append([]string(nil), sb.sent...)
	sb.mu.Unlock()
	if len(sent) != 1 || !strings.HasPrefix(sent[0], "5123456789:") || len(h.tg.messages()) != before {
		t.Fatalf("the reply to the second bot's chat: second bot sent %q, first bot %d more", sent, len(h.tg.messages())-before)
	}

	// Removing the bot removes its webhook and secrets.
	if a, _ := h.resolve("bots.remove", map[string]any{"projectKey": testProject, "route": "telegram.2"}); a["ok"] != true {
		t.Fatalf("bots.remove: %v", a)
	}
	if sb.hookURL != "" {
		t.Error("the removed bot's webhook stays")
	}
	if r := h.postSecond(sb, h.text(chat, "after removal")); r.Status != 404 {
		t.Errorf("a removed bot's webhook answered %d", r.Status)
	}
}
