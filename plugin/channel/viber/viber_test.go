package viber

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/channeltest"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

const (
	testToken = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
	annaID    = "01234567890A+b/c="
	annaChat  = "01234567890A-b_c."
)

var tokens int

func setup(env *sdktest.Env) channel.Secrets {
	tokens++
	token := fmt.Sprintf("%s%04d", testToken[:len(testToken)-4], tokens)
	_ = env.Secret.Set("viber.token", []byte(token))
	return channel.Secrets{Token: "viber.token", Webhook: "viber.webhook"}
}

func sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func deliver(env *sdktest.Env, s channel.Secrets, body []byte) *abi.WebTriggerRequest {
	return &abi.WebTriggerRequest{Method: "POST", Trigger: "viber-webhook", Body: body,
		Headers: []abi.Header{{Name: SignatureHeader, Value: sign(env.Secret.Reveal(s.Token), body)}}}
}

func textBody(id int64, user, text string) []byte {
	b, _ := json.Marshal(map[string]any{
		"event": "message", "timestamp": 1457764197627, "message_token": id,
		"sender":  map[string]any{"id": user, "name": "Anna Schmidt", "language": "de", "country": "DE", "api_version": 10},
		"message": map[string]any{"type": "text", "text": text},
	})
	return b
}

func statusReply(status int, msg string) *abi.Response {
	return &abi.Response{Status: 200, Body: fmt.Appendf(nil, `{"status":%d,"status_message":%q,"message_token":5741311803571721087}`, status, msg)}
}

func answer(want error) func(*abi.Request) (*abi.Response, error) {
	return func(*abi.Request) (*abi.Response, error) {
		switch want {
		case nil:
			return statusReply(0, "ok"), nil
		case channel.ErrBlocked:
			return statusReply(StatusReceiverNotSubscribed, "receiverNotSubscribed"), nil
		case channel.ErrUnauthorized:
			return statusReply(StatusInvalidAuthToken, "invalidAuthToken"), nil
		case channel.ErrTemporary:
			return &abi.Response{Status: 503, Body: []byte("Service Unavailable")}, nil
		case channel.ErrNotFound:
			return statusReply(StatusReceiverNotRegistered, "receiverNotRegistered"), nil
		case channeltest.ErrFlood:
			return statusReply(StatusTooManyRequests, "tooManyRequests"), nil
		}
		return nil, errors.New("unexpected")
	}
}

func TestConformance(t *testing.T) {
	channeltest.Run(t, channeltest.Suite{
		New:     func(env *sdk.Env, s channel.Secrets) channel.Channel { return New(env, s) },
		Setup:   setup,
		Deliver: deliver, SignsBody: true,
		Text: textBody,
		Chat: annaID, ChatID: annaChat,
		Answer: answer,
		Waits:  []error{channeltest.ErrFlood},
	})
}

func TestSignatureIsCheckedAgainstTheRawBody(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	ch := New(env.Env, s)
	body := textBody(7, annaID, "hi")
	good := deliver(env, s, body)
	tests := map[string]*abi.WebTriggerRequest{
		"upper-case hex is not what Viber sends but decodes the same": nil,
		"signature of another body":                                   {Method: "POST", Body: body, Headers: []abi.Header{{Name: SignatureHeader, Value: sign(env.Secret.Reveal(s.Token), []byte("{}"))}}},
		"signature keyed with another token":                          {Method: "POST", Body: body, Headers: []abi.Header{{Name: SignatureHeader, Value: sign([]byte("other"), body)}}},
		"truncated signature":                                         {Method: "POST", Body: body, Headers: []abi.Header{{Name: SignatureHeader, Value: good.Headers[0].Value[:62]}}},
		"not hex":                                                     {Method: "POST", Body: body, Headers: []abi.Header{{Name: SignatureHeader, Value: strings.Repeat("zz", 32)}}},
		"no header":                                                   {Method: "POST", Body: body},
	}
	for name, req := range tests {
		if req == nil {
			continue
		}
		if err := ch.Authenticate(req); !errors.Is(err, channel.ErrUnauthorized) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if err := ch.Authenticate(good); err != nil {
		t.Fatalf("good signature refused: %v", err)
	}
	if err := New(env.Env, channel.Secrets{Token: "missing"}).Authenticate(good); !errors.Is(err, channel.ErrUnauthorized) {
		t.Errorf("missing token secret: got %v", err)
	}
}

func TestParseEvents(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, evs []channel.Inbound)
	}{
		{"text", string(textBody(4912661846655238145, annaID, "Hallo *Welt*")), func(t *testing.T, evs []channel.Inbound) {
			ev := evs[0]
			if ev.ID != "4912661846655238145" || ev.ChatID != annaChat || ev.Sender != "Anna Schmidt" || ev.Plain != "Hallo *Welt*" {
				t.Errorf("%+v", ev)
			}
			if ev.Wiki != `Hallo \*Welt\*` {
				t.Errorf("wiki %q", ev.Wiki)
			}
		}},
		{"picture with caption", `{"event":"message","timestamp":1,"message_token":11,"sender":{"id":"abc=","name":"A"},"message":{"type":"picture","text":"the label","media":"https://dl-media.viber.com/5/share/2/long/vibes/icon/image/0x0/95e0/5688fdffdf.jpg","size":52133,"file_name":"label.jpg"}}`,
			func(t *testing.T, evs []channel.Inbound) {
				a := evs[0].Attachments
				if len(a) != 1 || a[0].Kind != channel.Photo || a[0].Name != "label.jpg" || a[0].Size != 52133 || evs[0].Plain != "the label" {
					t.Errorf("%+v", evs[0])
				}
			}},
		{"file", `{"event":"message","message_token":12,"sender":{"id":"abc="},"message":{"type":"file","media":"https://dl-media.viber.com/f","file_name":"../../etc/invoice.pdf","size":10}}`,
			func(t *testing.T, evs []channel.Inbound) {
				a := evs[0].Attachments
				if len(a) != 1 || a[0].Kind != channel.Document || a[0].Name != "invoice.pdf" || evs[0].Sender != "Viber user" {
					t.Errorf("%+v", evs[0])
				}
			}},
		{"video", `{"event":"message","message_token":13,"sender":{"id":"abc="},"message":{"type":"video","media":"https://dl-media.viber.com/v","size":1000}}`,
			func(t *testing.T, evs []channel.Inbound) {
				if a := evs[0].Attachments; len(a) != 1 || a[0].Kind != channel.Video {
					t.Errorf("%+v", evs[0])
				}
			}},
		{"sticker", `{"event":"message","message_token":14,"sender":{"id":"abc="},"message":{"type":"sticker","sticker_id":46105,"media":"https://viber.com/s.png"}}`,
			func(t *testing.T, evs []channel.Inbound) {
				if a := evs[0].Attachments; len(a) != 1 || a[0].Kind != channel.Sticker {
					t.Errorf("%+v", evs[0])
				}
			}},
		{"contact as text", `{"event":"message","message_token":15,"sender":{"id":"abc="},"message":{"type":"contact","contact":{"name":"Itamar","phone_number":"+972511123123"}}}`,
			func(t *testing.T, evs []channel.Inbound) {
				if evs[0].Plain != "Contact: Itamar +972511123123" || len(evs[0].Attachments) != 0 {
					t.Errorf("%+v", evs[0])
				}
			}},
		{"location as text", `{"event":"message","message_token":16,"sender":{"id":"abc="},"message":{"type":"location","location":{"lat":50.76891,"lon":6.11499}}}`,
			func(t *testing.T, evs []channel.Inbound) {
				if evs[0].Plain != "Location: https://www.openstreetmap.org/?mlat=50.768910&mlon=6.114990#map=17/50.768910/6.114990" {
					t.Errorf("%+v", evs[0])
				}
			}},
		{"media over http is not downloaded", `{"event":"message","message_token":17,"sender":{"id":"abc="},"message":{"type":"picture","media":"http://x/y.jpg"}}`, nil},
		{"conversation started greets", `{"event":"conversation_started","timestamp":1,"message_token":18,"type":"open","user":{"id":"abc=","name":"A"},"subscribed":false}`,
			func(t *testing.T, evs []channel.Inbound) {
				if evs[0].Command != channel.CommandStart || evs[0].ChatID != "abc." {
					t.Errorf("%+v", evs[0])
				}
			}},
		{"subscribed", `{"event":"subscribed","timestamp":1,"message_token":19,"user":{"id":"abc="}}`,
			func(t *testing.T, evs []channel.Inbound) {
				if evs[0].Kind != channel.Unblocked {
					t.Errorf("%+v", evs[0])
				}
			}},
		{"unsubscribed marks the chat", `{"event":"unsubscribed","timestamp":1,"user_id":"abc=","message_token":20}`,
			func(t *testing.T, evs []channel.Inbound) {
				if evs[0].Kind != channel.Blocked || evs[0].ChatID != "abc." || evs[0].ID != "20" {
					t.Errorf("%+v", evs[0])
				}
			}},
		{"delivered has no content", `{"event":"delivered","timestamp":1,"message_token":21,"user_id":"abc="}`, nil},
		{"seen has no content", `{"event":"seen","timestamp":1,"message_token":22,"user_id":"abc="}`, nil},
		{"failed has no content", `{"event":"failed","timestamp":1,"message_token":23,"user_id":"abc=","desc":"failure"}`, nil},
		{"webhook check has no content", `{"event":"webhook","timestamp":1,"chat_hostname":"SN-376_","message_token":24}`, nil},
		{"an id with characters Viber never uses is dropped", `{"event":"message","message_token":25,"sender":{"id":"a:b"},"message":{"type":"text","text":"x"}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.check == nil {
				if len(evs) != 0 {
					t.Errorf("got %+v, want no events", evs)
				}
				return
			}
			if len(evs) == 0 {
				t.Fatal("no events")
			}
			tt.check(t, evs)
		})
	}
	for _, bad := range []string{`{"event":"message","sender":{"id":"a"},"message":{"type":"text","text":"x"}}`, `{"event":"message","message_token":"1e5"}`, `[]`} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v", bad, err)
		}
	}
}

func TestChatIDRoundTrips(t *testing.T) {
	for _, id := range []string{"01234567890A=", "a+b/c==", "xyz"} {
		chat, ok := ChatID(id)
		back, ok2 := UserID(chat)
		if !ok || !ok2 || back != id || abi.KeyProblem("chat:P:viber:"+chat) != "" {
			t.Errorf("%q -> %q -> %q", id, chat, back)
		}
	}
}

func TestHandshakeAnswersOnlyTheWebhookCheck(t *testing.T) {
	if r := Handshake(&abi.WebTriggerRequest{Method: "POST", Body: []byte(`{"event":"webhook","timestamp":1457764197627,"chat_hostname":"SN-CHAT-01","message_token":241256543215}`)}); r == nil || r.Status != 200 {
		t.Fatalf("webhook check: %+v", r)
	}
	for _, body := range []string{string(textBody(1, "a", "x")), `{"event":"unsubscribed"}`, "not json"} {
		if r := Handshake(&abi.WebTriggerRequest{Method: "POST", Body: []byte(body)}); r != nil {
			t.Errorf("%s answered by the handshake", body)
		}
	}
}

func TestSendTextRequest(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(nil)
	ch := New(env.Env, s)
	ch.SenderName = "ACME Customer Support Team Berlin"
	if err := ch.SendText(annaChat, "Hello <Anna> & co"); err != nil {
		t.Fatal(err)
	}
	r := env.HTTP.Requests()[0]
	if r.URL != "https://chatapi.viber.com/pa/send_message" || abi.Get(r.Headers, AuthHeader) != "{{secret:viber.token}}" {
		t.Errorf("request %s %+v", r.URL, r.Headers)
	}
	var got sendRequest
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Receiver != annaID || got.Type != "text" || got.Text != "Hello <Anna> & co" || utf8.RuneCountInString(got.Sender.Name) != MaxSenderName {
		t.Errorf("%+v", got)
	}
}

func TestStatus12BacksOff(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(channeltest.ErrFlood)
	err := New(env.Env, s).SendText(annaChat, "hello")
	d, ok := channel.RetryAfter(err)
	if !errors.Is(err, channel.ErrTemporary) || !ok || d != TooManyWait {
		t.Fatalf("got %v, wait %v", err, d)
	}
	if errors.Is(err, channel.ErrBlocked) {
		t.Error("flood control must not look like a block")
	}
}

func TestRenderFitsTheRequestLimit(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(nil)
	ch := New(env.Env, s)
	// Characters whose JSON escape is longest, and four-byte ones.
	for _, unit := range []string{"<", "\x01", "😀", "a"} {
		parts := ch.Render(channel.Content{Plain: strings.Repeat(unit, 20000)})
		for i, p := range parts {
			if n := utf8.RuneCountInString(p); n > Limits.Text {
				t.Fatalf("%q part %d: %d characters", unit, i, n)
			}
			if err := ch.SendText(annaChat, p); err != nil {
				t.Fatalf("%q part %d: %v", unit, i, err)
			}
		}
	}
	for _, r := range env.HTTP.Requests() {
		if len(r.Body) > MaxRequest {
			t.Fatalf("request of %d bytes", len(r.Body))
		}
	}
}

func TestSendFileSendsANoticeWithoutALink(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(nil)
	if err := New(env.Env, s).SendFile(annaChat, channel.File{Name: "invoice.pdf", Data: []byte("%PDF")}); err != nil {
		t.Fatal(err)
	}
	reqs := env.HTTP.Requests()
	if len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), "invoice.pdf") || strings.Contains(string(reqs[0].Body), "http") {
		t.Fatalf("%+v", reqs)
	}
}

func TestDownload(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = func(r *abi.Request) (*abi.Response, error) {
		if len(r.Headers) != 0 {
			t.Errorf("media download sent headers %+v", r.Headers)
		}
		return &abi.Response{Status: 200, Body: []byte("JPEG")}, nil
	}
	ch := New(env.Env, s)
	if b, err := ch.Download(channel.Attachment{Ref: "https://dl-media.viber.com/x.jpg"}); err != nil || string(b) != "JPEG" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := ch.Download(channel.Attachment{Ref: "https://dl-media.viber.com/{{secret:viber.token}}"}); err == nil {
		t.Error("a URL naming a secret was fetched")
	}
	if _, err := ch.Download(channel.Attachment{Ref: "https://x/y", Size: 21 << 20}); !errors.Is(err, channel.ErrTooLarge) {
		t.Errorf("over 20 MB: %v", err)
	}
	if n := len(env.HTTP.Requests()); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestValidateAndRegister(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = func(r *abi.Request) (*abi.Response, error) {
		switch {
		case strings.HasSuffix(r.URL, "/get_account_info"):
			return &abi.Response{Status: 200, Body: []byte(`{"status":0,"status_message":"ok","id":"pa:75346594275468546724","name":"ACME Support","uri":"acmesupport","subscribers_count":35}`)}, nil
		case strings.HasSuffix(r.URL, "/set_webhook"):
			return &abi.Response{Status: 200, Body: []byte(`{"status":0,"status_message":"ok","event_types":["delivered","seen"]}`)}, nil
		}
		return nil, errors.New("unexpected")
	}
	ch := New(env.Env, s)
	bot, err := ch.Validate()
	if err != nil || bot.ID != "pa:75346594275468546724" || bot.Username != "acmesupport" {
		t.Fatalf("%+v %v", bot, err)
	}
	if err := ch.Register("https://bridge.example/wt/v?project=SUP", "ignored"); err != nil {
		t.Fatal(err)
	}
	var params struct {
		URL        string   `json:"url"`
		EventTypes []string `json:"event_types"`
		SendName   bool     `json:"send_name"`
		SendPhoto  *bool    `json:"send_photo"`
	}
	_ = json.Unmarshal(env.HTTP.Requests()[1].Body, &params)
	if params.URL != "https://bridge.example/wt/v?project=SUP" || !params.SendName || params.SendPhoto == nil || len(params.EventTypes) == 0 {
		t.Errorf("set_webhook %+v", params)
	}
	env.HTTP.Handler = answer(channel.ErrUnauthorized)
	if _, err := ch.Validate(); !errors.Is(err, channel.ErrUnauthorized) {
		t.Errorf("bad token: %v", err)
	}
}

func TestTokenProblem(t *testing.T) {
	for token, ok := range map[string]bool{
		testToken: true,
		"4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f": true,
		"":                        false,
		"7000000001:AAH3kP0aWq4s": false,
		"abc":                     false,
		testToken + "/../x":       false,
	} {
		if got := TokenProblem(token) == ""; got != ok {
			t.Errorf("TokenProblem(%q) ok=%v, want %v", token, got, ok)
		}
	}
}

func TestErrorWaitsOnlyOnFloodControl(t *testing.T) {
	if (&Error{Status: StatusTooManyRequests}).RetryAfter() != TooManyWait || (&Error{Status: 3}).RetryAfter() != 0 {
		t.Fatal("RetryAfter")
	}
	_ = time.Second
}

func FuzzParse(f *testing.F) {
	f.Add(textBody(1, annaID, "hi"))
	f.Add([]byte(`{"event":"message","message_token":12,"sender":{"id":"abc="},"message":{"type":"file","media":"https://dl-media.viber.com/f","file_name":"../../x","size":10}}`))
	f.Add([]byte(`{"event":"unsubscribed","user_id":"abc=","message_token":20}`))
	f.Add([]byte(`{"event":"conversation_started","message_token":18,"user":{"id":"abc="}}`))
	f.Add([]byte(`{"event":"message","message_token":16,"sender":{"id":"abc="},"message":{"type":"location","location":{"lat":1e308,"lon":-1e308}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Parse(body)
		if err != nil {
			return
		}
		for _, ev := range evs {
			if ev.ID == "" || ev.ChatID == "" || abi.KeyProblem("dedupe:vb:P:"+ev.ID) != "" || abi.KeyProblem("chat:P:viber:"+ev.ChatID) != "" {
				t.Fatalf("event ids unusable: %+v", ev)
			}
			if _, ok := UserID(ev.ChatID); !ok {
				t.Fatalf("chat id does not map back: %q", ev.ChatID)
			}
			for _, a := range ev.Attachments {
				if !strings.HasPrefix(a.Ref, "https://") {
					t.Fatalf("attachment URL %q", a.Ref)
				}
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestConversationStartedIsGreetedInTheAnswer(t *testing.T) {
	env := sdktest.NewEnv()
	ch := New(env.Env, setup(env))
	evs, err := ch.Parse([]byte(`{"event":"conversation_started","timestamp":1,"message_token":18,"type":"open","user":{"id":"abc=","name":"A"},"subscribed":false}`))
	if err != nil || len(evs) != 1 {
		t.Fatalf("%+v %v", evs, err)
	}
	answer, rest := ch.Greet(evs, "Hello! <Write> your question.")
	var got struct {
		Sender struct{ Name string } `json:"sender"`
		Type   string                `json:"type"`
		Text   string                `json:"text"`
	}
	if err := json.Unmarshal(answer, &got); err != nil || got.Type != "text" || got.Text != "Hello! <Write> your question." || got.Sender.Name != DefaultSenderName {
		t.Fatalf("answer %s: %v", answer, err)
	}
	if len(rest) != 0 {
		t.Errorf("the greeted event is still queued: %+v", rest)
	}
	msg, _ := ch.Parse(textBody(5, annaID, "hi"))
	if answer, rest := ch.Greet(msg, "Hello"); answer != nil || len(rest) != 1 {
		t.Errorf("a message was greeted: %s %+v", answer, rest)
	}
}
