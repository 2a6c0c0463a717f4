package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel/viber"
	"github.com/chatbridge/chatbridge/plugin/channel/whatsapp"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Viber and WhatsApp run through the same bridge as Telegram: these
// scenarios use fakes of their APIs that, like the host, substitute the
// secrets a request names.

const (
	viberToken = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
	viberUser  = "01234567890A+b/c="
	waPhone    = "106540352242922"
	waAccount  = "102290129340398"
	waApp      = "0123456789abcdef0123456789abcdef"
	waAccess   = "EAAJB3xUNq1sBAFzZBp9ZCqYLU5ZAZCZCKZB7Q"
	waCustomer = "4915112345678"
)

func hmacHex(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// substitute fills {{secret:NAME}} as the host does.
func (h *harness) substitute(s string) string {
	for {
		i := strings.Index(s, "{{secret:")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "}}")
		name := s[i+len("{{secret:") : i+j]
		s = s[:i] + string(h.env.Secret.Reveal(name)) + s[i+j+2:]
	}
}

func (h *harness) withTriggers() {
	h.ctx.WebTriggers = append(h.ctx.WebTriggers,
		abi.Header{Name: "viber-webhook", Value: triggerURL + "-viber"},
		abi.Header{Name: "whatsapp-webhook", Value: triggerURL + "-whatsapp"})
}

func (h *harness) trigger(req *abi.WebTriggerRequest) *abi.Response {
	h.t.Helper()
	req.Context = h.ctx
	req.Query = append(req.Query, abi.Header{Name: "project", Value: testProject})
	resp, err := h.b.WebTrigger(h.env.Env, req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// --- Viber -----------------------------------------------------------------

type fakeViber struct {
	h        *harness
	mu       sync.Mutex // guards the fields below
	sent     []string
	statuses []int // replies to send_message, used first
	check    *abi.Response
}

func (f *fakeViber) serve(req *abi.Request) (*abi.Response, error) {
	method, ok := strings.CutPrefix(req.URL, viber.BaseURL)
	if !ok || f.h.substitute(abi.Get(req.Headers, viber.AuthHeader)) != viberToken {
		return &abi.Response{Status: 200, Body: []byte(`{"status":2,"status_message":"invalidAuthToken"}`)}, nil
	}
	switch method {
	case "get_account_info":
		return &abi.Response{Status: 200, Body: []byte(`{"status":0,"status_message":"ok","id":"pa:5234","name":"ACME","uri":"acme"}`)}, nil
	case "set_webhook":
		var p struct{ URL string }
		_ = json.Unmarshal(req.Body, &p)
		if p.URL != "" {
			// Viber checks the URL before it answers.
			check := f.h.trigger(&abi.WebTriggerRequest{Trigger: "viber-webhook", Method: "POST",
				Body: []byte(`{"event":"webhook","timestamp":1457764197627,"chat_hostname":"SN-376_","message_token":5241256543215}`)})
			f.mu.Lock()
			f.check = check
			f.mu.Unlock()
			if check.Status != 200 {
				return &abi.Response{Status: 200, Body: []byte(`{"status":1,"status_message":"Result[HttpRequest failed]"}`)}, nil
			}
		}
		return &abi.Response{Status: 200, Body: []byte(`{"status":0,"status_message":"ok"}`)}, nil
	case "send_message":
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.statuses) > 0 {
			st := f.statuses[0]
			f.statuses = f.statuses[1:]
			return &abi.Response{Status: 200, Body: fmt.Appendf(nil, `{"status":%d,"status_message":"tooManyRequests"}`, st)}, nil
		}
		var m struct{ Receiver, Text string }
		_ = json.Unmarshal(req.Body, &m)
		if m.Receiver != viberUser {
			f.h.t.Errorf("sent to %q", m.Receiver)
		}
		f.sent = append(f.sent, m.Text)
		return &abi.Response{Status: 200, Body: []byte(`{"status":0,"status_message":"ok","message_token":1}`)}, nil
	}
	return &abi.Response{Status: 200, Body: []byte(`{"status":3,"status_message":"badData"}`)}, nil
}

func viberConversation(t *testing.T) (*harness, *fakeViber) {
	h := newHarness(t)
	h.withTriggers()
	f := &fakeViber{h: h}
	h.env.HTTP.Handler = f.serve
	h.configure(map[string]any{"channel": "viber", "botToken": viberToken})
	if f.check == nil || f.check.Status != 200 {
		t.Fatalf("the webhook check during set_webhook was answered %+v", f.check)
	}
	return h, f
}

func (h *harness) viberPost(body []byte, signature string) *abi.Response {
	return h.trigger(&abi.WebTriggerRequest{Trigger: "viber-webhook", Method: "POST", Body: body,
		Headers: []abi.Header{{Name: viber.SignatureHeader, Value: signature}}})
}

func viberText(token int64, text string) []byte {
	b, _ := json.Marshal(map[string]any{"event": "message", "timestamp": 1457764197627, "message_token": token,
		"sender":  map[string]any{"id": viberUser, "name": "Anna Schmidt"},
		"message": map[string]any{"type": "text", "text": text}})
	return b
}

func TestViberMessagesOpenARequestOnceAndForgeriesAreRefused(t *testing.T) {
	h, _ := viberConversation(t)
	body := viberText(4912661846655238145, "Where is my parcel?")
	sig := hmacHex([]byte(viberToken), body)
	if r := h.viberPost(body, hmacHex([]byte("another-token"), body)); r.Status != 401 {
		t.Fatalf("forged signature answered %d", r.Status)
	}
	for range 3 { // Viber retries until it gets 200: a replayed message_token
		if r := h.viberPost(body, sig); r.Status != 200 {
			t.Fatalf("answered %d", r.Status)
		}
	}
	h.drain()
	if n := h.jira.issueCount(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	is := h.jira.issue("SUP-1")
	if !strings.Contains(is.Description, "Where is my parcel?") || !strings.Contains(is.Description, "via Viber") || len(is.Comments) != 0 {
		t.Errorf("request %+v", is)
	}
}

func TestViberConversationStartedIsGreetedInTheAnswer(t *testing.T) {
	h, f := viberConversation(t)
	body := []byte(`{"event":"conversation_started","timestamp":1,"message_token":77,"type":"open","user":{"id":"` + viberUser + `","name":"Anna"},"subscribed":false}`)
	r := h.viberPost(body, hmacHex([]byte(viberToken), body))
	if r.Status != 200 || !strings.Contains(string(r.Body), `"text":"Hello! Write your question here`) {
		t.Fatalf("answer %d %s", r.Status, r.Body)
	}
	h.drain()
	if len(f.sent) != 0 || h.jira.issueCount() != 0 {
		t.Errorf("sent %v, %d requests", f.sent, h.jira.issueCount())
	}
}

func TestViberStatus12BacksOffAndTheReplyArrivesLater(t *testing.T) {
	h, f := viberConversation(t)
	body := viberText(1, "Hello")
	h.viberPost(body, hmacHex([]byte(viberToken), body))
	h.drain()
	f.statuses = []int{12}
	h.retries = nil
	h.event("comment_created_public.json")
	h.drain()
	if len(h.retries) != 1 || h.retries[0] != uint32(viber.TooManyWait.Seconds()) {
		t.Fatalf("retries %v", h.retries)
	}
	if len(f.sent) != 1 || strings.Contains(f.sent[0], "<b>") {
		t.Fatalf("sent %q", f.sent)
	}
	for _, c := range h.jira.issue("SUP-1").Comments {
		if !c.Public {
			t.Errorf("an internal note after a delivered reply: %q", c.Body)
		}
	}
}

func TestViberUnsubscribedMarksTheChat(t *testing.T) {
	h, f := viberConversation(t)
	body := viberText(1, "Hello")
	h.viberPost(body, hmacHex([]byte(viberToken), body))
	h.drain()
	unsub := []byte(`{"event":"unsubscribed","timestamp":2,"user_id":"` + viberUser + `","message_token":2}`)
	h.viberPost(unsub, hmacHex([]byte(viberToken), unsub))
	h.drain()
	h.event("comment_created_public.json")
	h.drain()
	if len(f.sent) != 0 {
		t.Fatalf("sent to an unsubscribed customer: %q", f.sent)
	}
	notes := 0
	for _, c := range h.jira.issue("SUP-1").Comments {
		if !c.Public && strings.Contains(c.Body, "Viber") {
			notes++
		}
	}
	if notes == 0 {
		t.Error("the agents were not told")
	}
}

// --- WhatsApp --------------------------------------------------------------

type fakeWhatsApp struct {
	h      *harness
	mu     sync.Mutex // guards the fields below
	sent   []string
	bodies []map[string]any // the send requests
	ids    []string         // the wamids of the sends
	window bool             // the customer wrote within 24 hours
	verify *abi.Response
	token  string // the verify token of the last subscription
}

func (f *fakeWhatsApp) serve(req *abi.Request) (*abi.Response, error) {
	path, ok := strings.CutPrefix(f.h.substitute(req.URL), whatsapp.GraphURL)
	if !ok || f.h.substitute(abi.Get(req.Headers, "Authorization")) != "Bearer "+waAccess {
		return &abi.Response{Status: 401, Body: []byte(`{"error":{"message":"Invalid OAuth access token","code":190}}`)}, nil
	}
	switch {
	case req.Method == "GET" && strings.HasPrefix(path, waPhone+"?"):
		return &abi.Response{Status: 200, Body: []byte(`{"id":"` + waPhone + `","display_phone_number":"+1 555-078-3881"}`)}, nil
	case req.Method == "POST" && path == waAccount+"/subscribed_apps":
		var p map[string]string
		_ = json.Unmarshal(req.Body, &p)
		u := p["override_callback_uri"]
		v := f.h.trigger(&abi.WebTriggerRequest{Trigger: "whatsapp-webhook", Method: "GET", Query: []abi.Header{
			{Name: "hub.mode", Value: "subscribe"}, {Name: "hub.verify_token", Value: p["verify_token"]}, {Name: "hub.challenge", Value: "1158201444"}}})
		f.mu.Lock()
		f.verify, f.token = v, p["verify_token"]
		f.mu.Unlock()
		if !strings.HasSuffix(u, "-whatsapp?project=SUP") || v.Status != 200 || string(v.Body) != "1158201444" {
			return &abi.Response{Status: 400, Body: []byte(`{"error":{"message":"callback verification failed","code":2200}}`)}, nil
		}
		return &abi.Response{Status: 200, Body: []byte(`{"success":true}`)}, nil
	case req.Method == "DELETE" && path == waAccount+"/subscribed_apps":
		return &abi.Response{Status: 200, Body: []byte(`{"success":true}`)}, nil
	case req.Method == "POST" && path == waPhone+"/messages":
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.window {
			return &abi.Response{Status: 400, Body: []byte(`{"error":{"message":"(#131047) Re-engagement message","code":131047}}`)}, nil
		}
		var m struct {
			Text struct{ Body string } `json:"text"`
		}
		_ = json.Unmarshal(req.Body, &m)
		var raw map[string]any
		_ = json.Unmarshal(req.Body, &raw)
		f.sent = append(f.sent, m.Text.Body)
		f.bodies = append(f.bodies, raw)
		id := fmt.Sprintf("wamid.HBgL%d+/=", len(f.ids)+1)
		f.ids = append(f.ids, id)
		return &abi.Response{Status: 200, Body: []byte(`{"messaging_product":"whatsapp","messages":[{"id":"` + id + `"}]}`)}, nil
	}
	return &abi.Response{Status: 404, Body: []byte(`{"error":{"message":"Unknown path","code":100}}`)}, nil
}

func whatsappConversation(t *testing.T) (*harness, *fakeWhatsApp) {
	h := newHarness(t)
	h.withTriggers()
	f := &fakeWhatsApp{h: h, window: true}
	h.env.HTTP.Handler = f.serve
	h.configure(map[string]any{"channel": "whatsapp", "botToken": waPhone + ":" + waAccount + ":" + waApp + ":" + waAccess})
	if f.verify == nil || f.verify.Status != 200 {
		t.Fatalf("verification during registration: %+v", f.verify)
	}
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": waAccount, "changes": []any{
		map[string]any{"field": "messages", "value": map[string]any{
			"metadata": map[string]any{"phone_number_id": waPhone},
			"contacts": []any{map[string]any{"profile": map[string]any{"name": "Anna"}, "wa_id": waCustomer}},
			"messages": []any{
				map[string]any{"from": waCustomer, "id": "wamid.A==", "type": "text", "text": map[string]any{"body": "My order is late"}},
				map[string]any{"from": waCustomer, "id": "wamid.B+/", "type": "text", "text": map[string]any{"body": "Order 4711"}},
			}}}}}}})
	if r := h.waPost(body, "sha256="+hmacHex([]byte(waApp), body)); r.Status != 200 {
		t.Fatalf("delivery answered %d", r.Status)
	}
	h.waPost(body, "sha256="+hmacHex([]byte(waApp), body)) // Meta's retry
	h.drain()
	return h, f
}

func (h *harness) waPost(body []byte, signature string) *abi.Response {
	return h.trigger(&abi.WebTriggerRequest{Trigger: "whatsapp-webhook", Method: "POST", Body: body,
		Headers: []abi.Header{{Name: whatsapp.SignatureHeader, Value: signature}}})
}

func TestWhatsAppBatchedMessagesGoToOneRequestOnce(t *testing.T) {
	h, f := whatsappConversation(t)
	if n := h.jira.issueCount(); n != 1 {
		t.Fatalf("%d requests", n)
	}
	is := h.jira.issue("SUP-1")
	if !strings.Contains(is.Description, "My order is late") || len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Body, "Order 4711") {
		t.Errorf("request %+v", is)
	}
	h.event("comment_created_public.json")
	h.drain()
	if len(f.sent) != 1 {
		t.Fatalf("sent %q", f.sent)
	}
	bad := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	if r := h.waPost(bad, "sha256="+hmacHex([]byte(waAccess), bad)); r.Status != 401 {
		t.Errorf("signed with the access token instead of the app secret: %d", r.Status)
	}
}

func TestWhatsAppReplyOutsideThe24HourWindowBecomesAnInternalNote(t *testing.T) {
	h, f := whatsappConversation(t)
	f.window = false
	h.retries = nil
	h.event("comment_created_public.json")
	h.drain()
	if len(f.sent) != 0 || len(h.retries) != 0 {
		t.Fatalf("sent %q, retries %v", f.sent, h.retries)
	}
	var notes []string
	for _, c := range h.jira.issue("SUP-1").Comments {
		if !c.Public {
			notes = append(notes, c.Body)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "WhatsApp") {
		t.Errorf("internal notes %q", notes)
	}
}

// reverify is Meta's verification GET of the webhook URL with token.
func (f *fakeWhatsApp) reverify(token string) *abi.Response {
	return f.h.trigger(&abi.WebTriggerRequest{Trigger: "whatsapp-webhook", Method: "GET", Query: []abi.Header{
		{Name: "hub.mode", Value: "subscribe"}, {Name: "hub.verify_token", Value: token}, {Name: "hub.challenge", Value: "2093847561"}}})
}

func TestWhatsAppReverificationAnswersWhileTheProjectIsConfigured(t *testing.T) {
	h, f := whatsappConversation(t)
	f.mu.Lock()
	token := f.token
	f.mu.Unlock()
	if token == "" {
		t.Fatal("no subscription seen")
	}
	if r := f.reverify(token); r.Status != 200 || string(r.Body) != "2093847561" {
		t.Fatalf("Meta's later re-verification: %d %s", r.Status, r.Body)
	}
	if r := f.reverify(token + "x"); r.Status != 403 {
		t.Errorf("a wrong verify token: %d", r.Status)
	}
	// Saving again registers a new token; the old one is refused.
	h.configure(map[string]any{"channel": "whatsapp", "botToken": waPhone + ":" + waAccount + ":" + waApp + ":" + waAccess})
	f.mu.Lock()
	renewed := f.token
	f.mu.Unlock()
	if renewed == token {
		t.Fatal("a new registration kept the token")
	}
	if r := f.reverify(renewed); r.Status != 200 {
		t.Errorf("re-verification after a new registration: %d", r.Status)
	}
	if r := f.reverify(token); r.Status != 403 {
		t.Errorf("the previous registration's token: %d", r.Status)
	}
	// A deleted configuration answers no verification.
	if a, err := h.resolve("config.delete", map[string]any{"projectKey": testProject}); err != nil || a["ok"] != true {
		t.Fatalf("%v %v", a, err)
	}
	if r := f.reverify(renewed); r.Status != 403 {
		t.Errorf("after the configuration was deleted: %d", r.Status)
	}
}

func TestWhatsAppDeleteRemovesEveryDerivedSecret(t *testing.T) {
	h, _ := whatsappConversation(t)
	var cfg Config
	if _, err := (store{h.env.Storage}).get(configKey(testProject), &cfg); err != nil {
		t.Fatal(err)
	}
	names := builtin[whatsapp.Name].secretNames(cfg.TokenSecret, cfg.WebhookSecret)
	if len(names) != 5 {
		t.Fatalf("names %v", names)
	}
	for _, n := range names {
		if !h.env.Secret.Has(n) {
			t.Fatalf("secret %s missing", n)
		}
	}
	if a, err := h.resolve("config.delete", map[string]any{"projectKey": testProject}); err != nil || a["ok"] != true {
		t.Fatalf("%v %v", a, err)
	}
	for _, n := range names {
		if h.env.Secret.Has(n) {
			t.Errorf("secret %s left behind", n)
		}
	}
}
