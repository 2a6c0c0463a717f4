package bridge

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func TestConfigSetValidatesTheTokenAndRegistersTheWebhook(t *testing.T) {
	h := newHarness(t)
	a := h.configure(nil)
	cfg := a["config"].(map[string]any)
	if cfg["tokenSet"] != true || cfg["bot"] != "acme_support_bot" || cfg["language"] != "en" {
		t.Errorf("answer: %v", cfg)
	}
	for _, k := range []string{"botToken", "tokenSecret", "webhookSecret"} {
		if _, ok := cfg[k]; ok {
			t.Errorf("config.set answered %s", k)
		}
	}
	if h.tg.count("getMe") != 1 {
		t.Errorf("getMe called %d times", h.tg.count("getMe"))
	}
	if h.tg.hookURL != triggerURL+"?project=SUP" {
		t.Errorf("webhook url %q", h.tg.hookURL)
	}
	if strings.Join(h.tg.allowed, ",") != "message,edited_message,my_chat_member,callback_query,message_reaction" {
		t.Errorf("allowed_updates %v", h.tg.allowed)
	}
	sec := h.tg.secret()
	if len(sec) < 32 || strings.Trim(sec, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		t.Errorf("secret_token %q is not 32+ characters of A-Za-z0-9_-", sec)
	}
	// Nothing in storage holds the token or the webhook secret.
	for _, k := range h.env.Store.Keys() {
		v, _ := h.env.Store.Get(k)
		if strings.Contains(string(v), goodToken) || strings.Contains(string(v), sec) {
			t.Errorf("storage %s holds a secret", k)
		}
	}
	got, err := h.resolve("config.get", map[string]string{"projectKey": "SUP"})
	if err != nil || got["ok"] != true {
		t.Fatalf("config.get: %v %v", got, err)
	}
	view := got["config"].(map[string]any)
	if view["tokenSet"] != true || view["serviceDeskId"] != "2" || view["summaryTemplate"] != DefaultSummaryTemplate {
		t.Errorf("config.get: %v", view)
	}
	if _, ok := view["tokenSecret"]; ok {
		t.Error("config.get shows the token secret's name")
	}
}

func TestConfigSetAnswersInlineErrors(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]any
		prepare   func(h *harness)
		field     string
		noNetwork bool
	}{
		{"token rejected by Telegram", nil, func(h *harness) { h.tg.token = "something else" }, "botToken", false},
		{"malformed token", map[string]any{"botToken": "hello"}, nil, "botToken", true},
		{"no token on first save", map[string]any{"botToken": ""}, nil, "botToken", true},
		{"not a project key", map[string]any{"projectKey": "sup-1"}, nil, "projectKey", true},
		{"unknown channel", map[string]any{"channel": "carrier-pigeon"}, nil, "channel", true},
		{"service desk not numeric", map[string]any{"serviceDeskId": "abc"}, nil, "serviceDeskId", true},
		{"service desk of another project", map[string]any{"serviceDeskId": "1"}, nil, "serviceDeskId", false},
		{"unknown service desk", map[string]any{"serviceDeskId": "99"}, nil, "serviceDeskId", false},
		{"unknown request type", map[string]any{"requestTypeId": "13"}, nil, "requestTypeId", false},
		{"unknown placeholder", map[string]any{"summaryTemplate": "Chat {phone}"}, nil, "summaryTemplate", true},
		{"summary template too long", map[string]any{"summaryTemplate": strings.Repeat("x", 256)}, nil, "summaryTemplate", true},
		{"unknown attachment kind", map[string]any{"attachmentsIn": []string{"photo", "hologram"}}, nil, "attachmentsIn", true},
		{"unsupported language", map[string]any{"language": "tlh"}, nil, "language", true},
		{"no web trigger in the installation", nil, func(h *harness) { h.ctx.WebTriggers = nil }, "enabled", true},
		{"jira rate limited", nil, func(h *harness) { h.jira.fail("GET", "/rest/servicedeskapi/servicedesk", 429, 1) }, "serviceDeskId", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.prepare != nil {
				tt.prepare(h)
			}
			p := map[string]any{"projectKey": testProject, "enabled": true, "channel": "telegram", "botToken": goodToken,
				"serviceDeskId": "2", "requestTypeId": "11"}
			for k, v := range tt.overrides {
				p[k] = v
			}
			a, err := h.resolve("config.set", p)
			if err != nil {
				t.Fatalf("validation problem returned as error %v", err)
			}
			errs, _ := a["errors"].(map[string]any)
			if a["ok"] != false || errs[tt.field] == nil || errs[tt.field] == "" {
				t.Fatalf("answer %v, want an error on %s", a, tt.field)
			}
			if tt.noNetwork && (len(h.env.HTTP.Requests()) != 0 || len(h.env.JiraAPI.Requests()) != 0) {
				t.Errorf("a local problem made network calls")
			}
			if keys := h.env.Store.Keys(); len(keys) != 0 {
				t.Errorf("a refused configuration stored %v", keys)
			}
			if h.tg.hookURL != "" {
				t.Error("a refused configuration registered a webhook")
			}
		})
	}
}

func TestConfigSetKeepsTheWorkingTokenWhenANewOneIsRejected(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.drain()
	h.tg.mu.Lock()
	h.tg.token = goodToken // the new token below is not this bot's
	h.tg.mu.Unlock()
	a, _ := h.resolve("config.set", map[string]any{"projectKey": "SUP", "botToken": otherToken})
	if a["ok"] != false {
		t.Fatalf("a rejected token was saved: %v", a)
	}
	// The bot still works with the old token.
	h.send(h.text(5123456789, "still there?"))
	h.drain()
	if n := len(h.jira.issue("SUP-1").Comments); n != 1 {
		t.Fatalf("follow-up after a failed token change: %d comments", n)
	}
}

func TestConfigSetChangesSettingsWithoutResendingTheToken(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	first := h.tg.secret()
	a, err := h.resolve("config.set", map[string]any{"projectKey": "SUP", "greeting": "Moin!", "tokenSet": true})
	if err != nil || a["ok"] != true {
		t.Fatalf("%v %v", a, err)
	}
	if h.tg.secret() == first || h.tg.secret() == "" {
		t.Error("re-registration must give Telegram a fresh secret")
	}
	// The old webhook secret no longer authenticates.
	if resp := h.post(h.text(5123456789, "hi"), first); resp.Status != 401 {
		t.Errorf("old secret: %d", resp.Status)
	}
	h.sendFixture("update_start.json")
	h.drain()
	if m := h.tg.messages(); len(m) != 1 || m[0].Text != "Moin!" {
		t.Fatalf("greeting: %+v", m)
	}
}

func TestConfigDeleteRemovesWebhookSecretsConfigAndMappings(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.sendFixture("update_text.json")
	h.drain()
	var stored Config
	if _, err := (store{h.env.Storage}).get("config:SUP", &stored); err != nil || stored.TokenSecret == "" || stored.WebhookSecret == "" {
		t.Fatalf("stored config %+v, %v", stored, err)
	}
	// Another project's records must survive.
	_ = h.env.Storage.Set("config:OPS", []byte(`{"projectKey":"OPS"}`), 0)
	_ = h.env.Storage.Set("issue:OPS-1", []byte(`{}`), 0)
	a, err := h.resolve("config.delete", map[string]string{"projectKey": "SUP"})
	if err != nil || a["ok"] != true || a["webhookRemoved"] != true {
		t.Fatalf("%v %v", a, err)
	}
	if h.tg.deleted != 1 {
		t.Errorf("deleteWebhook called %d times", h.tg.deleted)
	}
	keys := h.env.Store.Keys()
	if strings.Join(keys, ",") != "config:OPS,issue:OPS-1" {
		t.Errorf("left behind: %v", keys)
	}
	// A webhook that still arrives finds nothing.
	if resp := h.post(h.text(5123456789, "hello?"), "x"); resp.Status != 404 {
		t.Errorf("after delete: %d", resp.Status)
	}
	for _, name := range []string{stored.TokenSecret, stored.WebhookSecret} {
		if h.env.Secret.Has(name) {
			t.Errorf("secret %s survived the delete", name)
		}
	}
	got, _ := h.resolve("config.get", map[string]string{"projectKey": "SUP"})
	if got["ok"] != false {
		t.Errorf("config.get after delete: %v", got)
	}
}

func TestConfigListShowsEveryProjectWithoutSecrets(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	a, err := h.resolve("config.list", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	list := a["configs"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["projectKey"] != "SUP" || list[0].(map[string]any)["tokenSet"] != true {
		t.Fatalf("list %v", list)
	}
}

func TestResolverRefusesMalformedInputWithAnErrorCode(t *testing.T) {
	h := newHarness(t)
	tests := []struct{ function, payload string }{
		{"config.set", `{"projectKey":`},
		{"config.set", `{"projectKey":"SUP","surprise":1}`},
		{"config.get", `[]`},
		{"config.drop", `{}`},
	}
	for _, tt := range tests {
		_, err := h.b.Resolver(h.env.Env, &abi.ResolverCall{Context: h.ctx, Function: tt.function, Payload: []byte(tt.payload)})
		if !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%s %s: got %v", tt.function, tt.payload, err)
		}
	}
}

func TestOneBotServesOneProject(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	a, err := h.resolve("config.set", map[string]any{"projectKey": "IT", "botToken": goodToken, "serviceDeskId": "1", "requestTypeId": "11"})
	if err != nil {
		t.Fatal(err)
	}
	errs, _ := a["errors"].(map[string]any)
	if a["ok"] != false || !strings.Contains(errs["botToken"].(string), "SUP") {
		t.Fatalf("answer %v", a)
	}
	if h.tg.hookURL != triggerURL+"?project=SUP" {
		t.Fatalf("the second project took over the webhook: %s", h.tg.hookURL)
	}
}

func TestConfigSetWithTheSameBotAgainKeepsItsWebhook(t *testing.T) {
	// dev mode configures its project at every start, with the same token.
	h := newHarness(t)
	h.configure(nil)
	h.configure(nil)
	if h.tg.hookURL != triggerURL+"?project=SUP" || h.tg.deleted != 0 {
		t.Fatalf("webhook %q after saving the same bot again (%d deletions)", h.tg.hookURL, h.tg.deleted)
	}
	h.sendFixture("update_text.json")
	if p := h.env.Pushed.Take(); len(p) != 1 {
		t.Fatalf("a delivery with the new secret queued %d jobs", len(p))
	}
}
