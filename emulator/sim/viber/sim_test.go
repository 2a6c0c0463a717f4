package viber

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim"
)

type hook struct {
	mu     sync.Mutex
	bodies []map[string]any
	bad    int
	token  string
	status int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !hmac.Equal([]byte(r.Header.Get("X-Viber-Content-Signature")), []byte(Sign(h.token, body))) {
		h.bad++
		w.WriteHeader(401)
		return
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	h.bodies = append(h.bodies, m)
	if h.status != 0 {
		w.WriteHeader(h.status)
		return
	}
	if m["event"] == "conversation_started" {
		w.Write([]byte(`{"sender":{"name":"Support"},"type":"text","text":"Welcome"}`))
	}
}

type fixture struct {
	t    *testing.T
	sim  *Sim
	api  *httptest.Server
	hook *hook
	hs   *httptest.Server
	ctl  http.Handler
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, hook: &hook{token: DefaultToken}}
	f.hs = httptest.NewTLSServer(f.hook)
	t.Cleanup(f.hs.Close)
	f.sim = New(Config{Client: f.hs.Client()})
	f.api = httptest.NewServer(f.sim.API())
	t.Cleanup(f.api.Close)
	f.ctl = sim.Control(f.sim)
	return f
}

func (f *fixture) call(method, token string, params any) map[string]any {
	f.t.Helper()
	b, _ := json.Marshal(params)
	req, _ := http.NewRequest("POST", f.api.URL+"/pa/"+method, bytes.NewReader(b))
	req.Header.Set("X-Viber-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return map[string]any{"http": resp.StatusCode}
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m
}

func (f *fixture) control(method, path string, body any, out any) int {
	f.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	rec := httptest.NewRecorder()
	f.ctl.ServeHTTP(rec, httptest.NewRequest(method, path, r))
	if out != nil {
		_ = json.Unmarshal(rec.Body.Bytes(), out)
	}
	return rec.Code
}

func status(m map[string]any) int {
	s, _ := m["status"].(float64)
	return int(s)
}

func (f *fixture) register() {
	f.t.Helper()
	r := f.call("set_webhook", DefaultToken, map[string]any{"url": f.hs.URL + "/hook", "event_types": []string{"conversation_started", "message"}, "send_name": true})
	if status(r) != 0 {
		f.t.Fatalf("set_webhook: %v", r)
	}
}

func TestSetWebhookChecksTheURLWithASignedCallback(t *testing.T) {
	f := newFixture(t)
	if r := f.call("set_webhook", "wrong", map[string]any{"url": f.hs.URL}); status(r) != StatusInvalidToken {
		t.Fatalf("wrong token: %v", r)
	}
	f.hook.status = 500
	if r := f.call("set_webhook", DefaultToken, map[string]any{"url": f.hs.URL}); status(r) != StatusInvalidURL {
		t.Fatalf("a failing URL was accepted: %v", r)
	}
	f.hook.status = 0
	f.register()
	if f.hook.bad != 0 || len(f.hook.bodies) != 2 || f.hook.bodies[1]["event"] != "webhook" {
		t.Fatalf("checks %+v, bad signatures %d", f.hook.bodies, f.hook.bad)
	}
	var wh Webhook
	f.control("GET", "/_sim/viber/webhook", nil, &wh)
	if wh.URL != f.hs.URL+"/hook" || !wh.SendName || len(wh.EventTypes) != 2 {
		t.Errorf("webhook %+v", wh)
	}
	if r := f.call("get_account_info", DefaultToken, map[string]any{}); status(r) != 0 || r["id"] != "pa:5000000001" || r["webhook"] != wh.URL {
		t.Errorf("account %v", r)
	}
}

func TestCustomerEventsAreSignedCallbacks(t *testing.T) {
	f := newFixture(t)
	f.register()
	var res SendResult
	f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "abc=", "name": "Anna", "event": "conversation_started"}, &res)
	if res.Status != 200 || !strings.Contains(res.Body, "Welcome") {
		t.Fatalf("conversation_started: %+v", res)
	}
	f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "abc=", "name": "Anna", "picture": true, "text": "label"}, &res)
	if res.Status != 200 {
		t.Fatalf("picture: %+v", res)
	}
	last := f.hook.bodies[len(f.hook.bodies)-1]
	msg := last["message"].(map[string]any)
	if last["event"] != "message" || msg["type"] != "picture" || msg["text"] != "label" || last["sender"].(map[string]any)["id"] != "abc=" {
		t.Fatalf("callback %+v", last)
	}
	media := strings.TrimPrefix(msg["media"].(string), "https://dl-media.viber.com")
	resp, err := http.Get(f.api.URL + media)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("media %s: %v %v", media, resp, err)
	}
	// A replayed token is delivered again, as Viber's retries are.
	f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "abc=", "text": "again", "message_token": 42}, &res)
	f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "abc=", "text": "again", "message_token": 42}, &res)
	n := len(f.hook.bodies)
	if f.hook.bodies[n-1]["message_token"] != f.hook.bodies[n-2]["message_token"] || res.MessageToken != 42 {
		t.Errorf("replay: %+v", res)
	}
	if f.hook.bad != 0 {
		t.Errorf("%d callbacks with a bad signature", f.hook.bad)
	}
	if code := f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "abc=", "bogus": 1}, nil); code != 400 {
		t.Errorf("unknown field: %d", code)
	}
}

func TestSendMessageLimitsAndSubscription(t *testing.T) {
	f := newFixture(t)
	f.register()
	f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "abc=", "text": "hi"}, nil)
	send := func(text, name string) map[string]any {
		return f.call("send_message", DefaultToken, map[string]any{"receiver": "abc=", "type": "text", "text": text, "sender": map[string]any{"name": name}})
	}
	if r := send("Hello", "Support"); status(r) != 0 {
		t.Fatalf("send: %v", r)
	}
	if r := send(strings.Repeat("x", MaxText+1), "Support"); status(r) != StatusBadData {
		t.Errorf("7001 characters: %v", r)
	}
	if r := send(strings.Repeat("<", 6000), "Support"); status(r) != StatusBadData {
		t.Errorf("over 30 KB: %v", r)
	}
	if r := send("x", strings.Repeat("n", 29)); status(r) != StatusBadData {
		t.Errorf("long sender name: %v", r)
	}
	if code := f.control("POST", "/_sim/fail", map[string]any{"service": "viber", "match": "send_message", "status": 429}, nil); code != 200 {
		t.Fatalf("fail rule: %d", code)
	}
	if r := send("x", "Support"); status(r) != StatusTooManyRequests {
		t.Errorf("fault 429: %v", r)
	}
	f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "abc=", "event": "unsubscribed"}, nil)
	if r := send("x", "Support"); status(r) != StatusNotSubscribed {
		t.Errorf("unsubscribed: %v", r)
	}
	if r := f.call("send_message", DefaultToken, map[string]any{"receiver": "nobody=", "type": "text", "text": "x", "sender": map[string]any{"name": "S"}}); status(r) != StatusNotRegistered {
		t.Errorf("unknown receiver: %v", r)
	}
	var sent []Sent
	f.control("GET", "/_sim/viber/sent?receiver=abc=", nil, &sent)
	if len(sent) != 1 || sent[0].Text != "Hello" || sent[0].SenderName != "Support" {
		t.Errorf("sent %+v", sent)
	}
}
