package whatsapp

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

type hook struct {
	mu         sync.Mutex
	deliveries []map[string]any
	bad        int
	verify     string // the verify token the endpoint expects
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Method == "GET" {
		q := r.URL.Query()
		if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != h.verify || q.Get("project") != "SUP" {
			w.WriteHeader(403)
			return
		}
		w.Write([]byte(q.Get("hub.challenge")))
		return
	}
	body, _ := io.ReadAll(r.Body)
	if !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(Sign(DefaultAppSecret, body))) {
		h.bad++
		w.WriteHeader(401)
		return
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	h.deliveries = append(h.deliveries, m)
}

type fixture struct {
	t    *testing.T
	now  time.Time
	mu   sync.Mutex
	sim  *Sim
	api  *httptest.Server
	hook *hook
	hs   *httptest.Server
	ctl  http.Handler
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, hook: &hook{verify: "v3rify"}, now: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)}
	f.hs = httptest.NewTLSServer(f.hook)
	t.Cleanup(f.hs.Close)
	f.api = httptest.NewUnstartedServer(nil)
	f.sim = New(Config{Client: f.hs.Client(), Now: f.clock})
	t.Cleanup(f.sim.Close) // before the hook's server closes: status deliveries end first
	f.api.Config.Handler = f.sim.API()
	f.api.Start()
	t.Cleanup(f.api.Close)
	f.ctl = sim.Control(f.sim)
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) call(method, path, contentType string, body []byte) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.api.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+DefaultAccessToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
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

func code(m map[string]any) int {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

func (f *fixture) subscribe(verify string) (int, map[string]any) {
	b, _ := json.Marshal(map[string]string{"override_callback_uri": f.hs.URL + "/hook?project=SUP", "verify_token": verify})
	return f.call("POST", "/"+DefaultVersion+"/"+DefaultAccountID+"/subscribed_apps", "application/json", b)
}

func text(to, body string) []byte {
	b, _ := json.Marshal(map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text", "text": map[string]any{"body": body}})
	return b
}

// messageDeliveries are the deliveries carrying customer messages.
func (h *hook) messageDeliveries() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for _, d := range h.deliveries {
		if _, ok := value(d)["messages"]; ok {
			out = append(out, d)
		}
	}
	return out
}

func value(d map[string]any) map[string]any {
	return d["entry"].([]any)[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)
}

// statusesOf waits until the statuses of message id include last, and
// returns them in order of delivery.
func (f *fixture) statusesOf(id, last string) []map[string]any {
	f.t.Helper()
	var out []map[string]any
	waitfor.Until(f.t, 0, "the "+last+" status of "+id, func() string {
		out = nil
		done := false
		f.hook.mu.Lock()
		for _, d := range f.hook.deliveries {
			list, _ := value(d)["statuses"].([]any)
			for _, st := range list {
				m := st.(map[string]any)
				if m["id"] == id {
					out = append(out, m)
					done = done || m["status"] == last
				}
			}
		}
		f.hook.mu.Unlock()
		if !done {
			return fmt.Sprintf("statuses so far %v", out)
		}
		return ""
	})
	return out
}

func sentID(m map[string]any) string {
	list, _ := m["messages"].([]any)
	if len(list) != 1 {
		return ""
	}
	id, _ := list[0].(map[string]any)["id"].(string)
	return id
}

func statusCode(st map[string]any) int {
	errs, _ := st["errors"].([]any)
	if len(errs) != 1 {
		return 0
	}
	c, _ := errs[0].(map[string]any)["code"].(float64)
	return int(c)
}

func TestSubscriptionVerifiesTheCallback(t *testing.T) {
	f := newFixture(t)
	if st, m := f.subscribe("wrong"); st != 400 || code(m) != CodeVerifyFailed {
		t.Fatalf("a wrong verify token was accepted: %d %v", st, m)
	}
	if st, m := f.subscribe("v3rify"); st != 200 || m["success"] != true {
		t.Fatalf("subscribe: %d %v", st, m)
	}
	var wh Webhook
	f.control("GET", "/_sim/whatsapp/webhook", nil, &wh)
	if wh.VerifyToken != "v3rify" || !strings.HasSuffix(wh.URL, "/hook?project=SUP") {
		t.Errorf("webhook %+v", wh)
	}
	req, _ := http.NewRequest("GET", f.api.URL+"/"+DefaultVersion+"/"+DefaultPhoneID, nil)
	req.Header.Set("Authorization", "Bearer nope")
	resp, _ := http.DefaultClient.Do(req)
	if resp.StatusCode != 401 {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
}

func TestBatchedDeliveryIsSignedAndOpensTheWindow(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	// Accepted, then reported failed, as the Cloud API does.
	st, m := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", text("4915112345678", "hi"))
	if st != 200 || sentID(m) == "" {
		t.Fatalf("a message before the customer wrote: %d %v", st, m)
	}
	if sts := f.statusesOf(sentID(m), "failed"); len(sts) != 1 || statusCode(sts[0]) != CodeWindowClosed || sts[0]["recipient_id"] != "4915112345678" {
		t.Fatalf("statuses %v", sts)
	}
	var res SendResult
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"messages": []any{
		map[string]any{"from": "4915112345678", "name": "Anna", "text": "hello"},
		map[string]any{"from": "4915112345678", "image": true, "caption": "label"},
		map[string]any{"from": "4917600000000", "document": map[string]any{"filename": "a.pdf", "size": 10, "mime_type": "application/pdf"}},
	}}, &res)
	if res.Status != 200 || len(res.IDs) != 3 || f.hook.bad != 0 || len(f.hook.messageDeliveries()) != 1 {
		t.Fatalf("send %+v; bad %d; deliveries %d", res, f.hook.bad, len(f.hook.messageDeliveries()))
	}
	v := value(f.hook.messageDeliveries()[0])
	msgs := v["messages"].([]any)
	if len(msgs) != 3 || v["metadata"].(map[string]any)["phone_number_id"] != DefaultPhoneID {
		t.Fatalf("value %+v", v)
	}
	// The image is fetched by id, then from the media URL, with the token.
	imgID := msgs[1].(map[string]any)["image"].(map[string]any)["id"].(string)
	st, info := f.call("GET", "/"+DefaultVersion+"/"+imgID, "", nil)
	if st != 200 || info["file_size"].(float64) == 0 {
		t.Fatalf("media info %d %v", st, info)
	}
	u := strings.TrimPrefix(info["url"].(string), "https://lookaside.fbsbx.com")
	req, _ := http.NewRequest("GET", f.api.URL+u, nil)
	req.Header.Set("Authorization", "Bearer "+DefaultAccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("download: %v %v", resp, err)
	}
	st, m = f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", text("4915112345678", "Your parcel left."))
	if st != 200 {
		t.Fatalf("reply within the window: %d %v", st, m)
	}
	if sts := f.statusesOf(sentID(m), "delivered"); len(sts) != 2 || sts[0]["status"] != "sent" {
		t.Errorf("statuses of a delivered reply: %v", sts)
	}
	if st, _ := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", text("4915112345678", strings.Repeat("x", MaxText+1))); st != 400 {
		t.Errorf("4097 characters: %d", st)
	}
	var sent []Sent
	f.control("GET", "/_sim/whatsapp/sent?to=4915112345678", nil, &sent)
	if len(sent) != 1 || sent[0].Text != "Your parcel left." {
		t.Errorf("sent %+v", sent)
	}
}

func TestTheWindowClosesAfter24Hours(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"from": "4915112345678", "text": "hello"}, nil)
	if code := f.control("POST", "/_sim/whatsapp/age", map[string]any{"wa_id": "4915112345678", "hours": 25}, nil); code != 200 {
		t.Fatalf("age: %d", code)
	}
	st, m := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", text("4915112345678", "late"))
	if st != 200 {
		t.Fatalf("after 25 hours: %d %v", st, m)
	}
	if sts := f.statusesOf(sentID(m), "failed"); statusCode(sts[len(sts)-1]) != CodeWindowClosed {
		t.Fatalf("after 25 hours: %v", sts)
	}
	var sent []Sent
	f.control("GET", "/_sim/whatsapp/sent?to=4915112345678", nil, &sent)
	if len(sent) != 0 {
		t.Errorf("a message outside the window reached the customer: %+v", sent)
	}
}

func TestDocumentsAreUploadedThenSent(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"from": "4915112345678", "text": "hello"}, nil)
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("messaging_product", "whatsapp")
	part, _ := w.CreateFormFile("file", "invoice.pdf")
	part.Write([]byte("%PDF-1.4"))
	w.Close()
	st, up := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/media", w.FormDataContentType(), buf.Bytes())
	if st != 200 || up["id"] == "" {
		t.Fatalf("upload %d %v", st, up)
	}
	b, _ := json.Marshal(map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915112345678", "type": "document",
		"document": map[string]any{"id": up["id"], "filename": "invoice.pdf"}})
	if st, m := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", b); st != 200 {
		t.Fatalf("document %d %v", st, m)
	}
	var sent []Sent
	f.control("GET", "/_sim/whatsapp/sent?to=4915112345678", nil, &sent)
	if len(sent) != 1 || sent[0].Filename != "invoice.pdf" || sent[0].Size != 8 {
		t.Errorf("sent %+v", sent)
	}
}

func TestFaultRules(t *testing.T) {
	f := newFixture(t)
	if c := f.control("POST", "/_sim/fail", map[string]any{"service": "whatsapp", "match": "phone", "status": 429}, nil); c != 200 {
		t.Fatalf("rule: %d", c)
	}
	if st, m := f.call("GET", "/"+DefaultVersion+"/"+DefaultPhoneID, "", nil); st != 429 || code(m) != CodeRateLimit {
		t.Fatalf("fault: %d %v", st, m)
	}
	if st, _ := f.call("GET", "/"+DefaultVersion+"/"+DefaultPhoneID, "", nil); st != 200 {
		t.Fatalf("after the fault: %d", st)
	}
	if c := f.control("POST", "/_sim/fail", map[string]any{"service": "telegram", "match": "*", "status": 500}, nil); c != 400 {
		t.Errorf("a rule for an unmounted service: %d", c)
	}
}

// A delivery that fails is accepted with a message id and reported later in
// a failed status with its code, as the Cloud API reports most failures.
func TestFailedDeliveryIsReportedLaterInAStatus(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"from": "4915112345678", "text": "hello"}, nil)
	if c := f.control("POST", "/_sim/whatsapp/fail-delivery", map[string]any{"to": "4915112345678", "code": CodeUndeliverable}, nil); c != 200 {
		t.Fatalf("fail-delivery: %d", c)
	}
	st, m := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", text("4915112345678", "Your parcel left."))
	if st != 200 || sentID(m) == "" {
		t.Fatalf("send: %d %v", st, m)
	}
	sts := f.statusesOf(sentID(m), "failed")
	if len(sts) != 1 || statusCode(sts[0]) != CodeUndeliverable || sts[0]["recipient_id"] != "4915112345678" {
		t.Fatalf("statuses %v", sts)
	}
	var sent []Sent
	f.control("GET", "/_sim/whatsapp/sent?to=4915112345678", nil, &sent)
	if len(sent) != 0 {
		t.Errorf("an undeliverable message reached the customer: %+v", sent)
	}
	f.control("POST", "/_sim/whatsapp/fail-delivery", map[string]any{"to": "4915112345678", "code": 0}, nil)
	_, m = f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", text("4915112345678", "Again."))
	if sts := f.statusesOf(sentID(m), "delivered"); len(sts) != 2 {
		t.Errorf("statuses after the fault: %v", sts)
	}
}

// A customer who hides their number arrives with a business-scoped user id
// only, and replies reach them by "recipient".
func TestCustomerWhoHidesTheirNumber(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	var res SendResult
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"from": "4915112345678", "user_id": "DE.1502576394655843", "hide_phone": true, "name": "Bea", "text": "hi"}, &res)
	d := f.hook.messageDeliveries()
	if res.Status != 200 || len(d) != 1 {
		t.Fatalf("send %+v", res)
	}
	v := value(d[0])
	msg := v["messages"].([]any)[0].(map[string]any)
	contact := v["contacts"].([]any)[0].(map[string]any)
	if _, ok := msg["from"]; ok || msg["from_user_id"] != "DE.1502576394655843" || contact["wa_id"] != nil || contact["user_id"] != "DE.1502576394655843" {
		t.Fatalf("the number was not withheld: %v %v", msg, contact)
	}
	b, _ := json.Marshal(map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "recipient": "DE.1502576394655843", "type": "text", "text": map[string]any{"body": "Hello Bea"}})
	st, m := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", b)
	if st != 200 {
		t.Fatalf("reply by user id: %d %v", st, m)
	}
	if sts := f.statusesOf(sentID(m), "delivered"); sts[0]["recipient_user_id"] != "DE.1502576394655843" || sts[0]["recipient_id"] != nil {
		t.Errorf("statuses %v", sts)
	}
	var sent []Sent
	f.control("GET", "/_sim/whatsapp/sent?to=DE.1502576394655843", nil, &sent)
	if len(sent) != 1 || sent[0].Text != "Hello Bea" {
		t.Errorf("sent %+v", sent)
	}
}
func TestVerifyRepeatsMetasCheckWithTheSubscriptionsToken(t *testing.T) {
	f := newFixture(t)
	var out map[string]any
	if st := f.control("POST", "/_sim/whatsapp/verify", nil, &out); st != http.StatusConflict {
		t.Fatalf("without a subscription: %d %v", st, out)
	}
	if st, m := f.subscribe("v3rify"); st != 200 {
		t.Fatalf("subscribe: %d %v", st, m)
	}
	if st := f.control("POST", "/_sim/whatsapp/verify", nil, &out); st != 200 || out["verified"] != true {
		t.Fatalf("re-verification of a callback that answers: %d %v", st, out)
	}
	f.hook.mu.Lock()
	f.hook.verify = "forgot-it" // the callback no longer knows the token
	f.hook.mu.Unlock()
	if st := f.control("POST", "/_sim/whatsapp/verify", nil, &out); st != 200 || out["verified"] != false || out["error"] == nil {
		t.Fatalf("re-verification of a callback that answers 403: %d %v", st, out)
	}
}
