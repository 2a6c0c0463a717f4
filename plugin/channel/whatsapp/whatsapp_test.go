package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/channeltest"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

const (
	phoneID    = "106540352242922"
	wabaID     = "102290129340398"
	appSecret  = "0123456789abcdef0123456789abcdef"
	accessTok  = "EAAJB3xUNq1sBAFzZBp9ZCqYLU5ZAZCZCKZB7Q"
	annaWaID   = "4915112345678"
	tokenName  = "wa.token"
	graphReply = `{"messaging_product":"whatsapp","contacts":[{"input":"4915112345678","wa_id":"4915112345678"}],"messages":[{"id":"wamid.HBgLNDkxNTExMjM0NTY3OBUCABEYEjQ2"}]}`
)

var secretsSeq int

func setup(env *sdktest.Env) channel.Secrets {
	secretsSeq++
	app := fmt.Sprintf("%s%04d", appSecret[:28], secretsSeq)
	if err := StoreToken(env.Secret, tokenName, phoneID+":"+wabaID+":"+app+":"+accessTok); err != nil {
		panic(err)
	}
	return channel.Secrets{Token: tokenName, Webhook: "wa.webhook"}
}

func sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func deliver(env *sdktest.Env, s channel.Secrets, body []byte) *abi.WebTriggerRequest {
	return &abi.WebTriggerRequest{Method: "POST", Trigger: "whatsapp-webhook", Body: body,
		Headers: []abi.Header{{Name: SignatureHeader, Value: sign(env.Secret.Reveal(s.Token+SuffixAppSecret), body)}}}
}

func change(phone string, msgs ...map[string]any) map[string]any {
	return map[string]any{"field": "messages", "value": map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": phone},
		"contacts":          []any{map[string]any{"profile": map[string]any{"name": "Anna Schmidt"}, "wa_id": annaWaID}},
		"messages":          msgs,
	}}
}

func delivery(changes ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": wabaID, "changes": changes}}})
	return b
}

func textMsg(id int64, from, text string) map[string]any {
	return map[string]any{"from": from, "id": fmt.Sprintf("wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjA%d=", id),
		"timestamp": "1700000000", "type": "text", "text": map[string]any{"body": text}}
}

func graphError(status uint16, code int, msg string) *abi.Response {
	return &abi.Response{Status: status, Body: fmt.Appendf(nil, `{"error":{"message":%q,"type":"OAuthException","code":%d,"error_data":{"messaging_product":"whatsapp","details":%q},"fbtrace_id":"AbCd"}}`, msg, code, msg)}
}

func answer(want error) func(*abi.Request) (*abi.Response, error) {
	return func(*abi.Request) (*abi.Response, error) {
		switch want {
		case nil:
			return &abi.Response{Status: 200, Body: []byte(graphReply)}, nil
		case channel.ErrBlocked:
			return graphError(400, CodeUndeliverable, "Message Undeliverable."), nil
		case channel.ErrUnauthorized:
			return graphError(401, CodeAccessToken, "Error validating access token: Session has expired"), nil
		case channel.ErrTemporary:
			return graphError(500, 1, "An unknown error occurred"), nil
		case channel.ErrNotFound:
			return graphError(400, CodeNotAllowed, "Recipient phone number not in allowed list"), nil
		case channeltest.ErrFlood:
			return graphError(400, CodeTooMany, "Too many messages sent from this phone number to the same phone number in a short period of time"), nil
		case ErrWindowClosed:
			return graphError(400, CodeWindowClosed, "Re-engagement message"), nil
		}
		return nil, errors.New("unexpected")
	}
}

func TestConformance(t *testing.T) {
	channeltest.Run(t, channeltest.Suite{
		New:     func(env *sdk.Env, s channel.Secrets) channel.Channel { return New(env, s) },
		Setup:   setup,
		Deliver: deliver, SignsBody: true,
		Text: func(id int64, chat, text string) []byte { return delivery(change(phoneID, textMsg(id, chat, text))) },
		Chat: annaWaID, ChatID: annaWaID,
		Answer: answer,
		Waits:  []error{channeltest.ErrFlood},
	})
}

func TestBatchedEntriesAndMessages(t *testing.T) {
	env := sdktest.NewEnv()
	ch := New(env.Env, setup(env))
	img := map[string]any{"from": annaWaID, "id": "wamid.IMG==", "timestamp": "1700000001", "type": "image",
		"image": map[string]any{"id": "1479537139650973", "mime_type": "image/jpeg", "sha256": "x", "caption": "the label"}}
	doc := map[string]any{"from": "4917600000000", "id": "wamid.DOC+/", "timestamp": "1700000002", "type": "document",
		"document": map[string]any{"id": "1479537139650974", "mime_type": "application/pdf", "filename": "../invoice.pdf"}}
	loc := map[string]any{"from": annaWaID, "id": "wamid.LOC", "type": "location", "location": map[string]any{"latitude": 52.52, "longitude": 13.405, "name": "Office"}}
	reaction := map[string]any{"from": annaWaID, "id": "wamid.R", "type": "reaction", "reaction": map[string]any{"message_id": "x", "emoji": "👍"}}
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{
		map[string]any{"id": wabaID, "changes": []any{change(phoneID, textMsg(1, annaWaID, "first"), img)}},
		map[string]any{"id": wabaID, "changes": []any{change(phoneID, doc, loc, reaction),
			change("999999999999", textMsg(2, annaWaID, "to another number of the account")),
			map[string]any{"field": "messages", "value": map[string]any{"metadata": map[string]any{"phone_number_id": phoneID},
				"statuses": []any{map[string]any{"id": "wamid.S", "status": "read", "recipient_id": annaWaID}}}}}},
	}})
	evs, err := ch.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 {
		t.Fatalf("got %d events, want 5: %+v", len(evs), evs)
	}
	if evs[0].Plain != "first" || evs[0].Sender != "Anna Schmidt" || evs[0].ChatID != annaWaID {
		t.Errorf("text: %+v", evs[0])
	}
	if a := evs[1].Attachments; len(a) != 1 || a[0].Kind != channel.Photo || a[0].Ref != "1479537139650973" || evs[1].Plain != "the label" {
		t.Errorf("image: %+v", evs[1])
	}
	if a := evs[2].Attachments; len(a) != 1 || a[0].Kind != channel.Document || a[0].Name != "invoice.pdf" || a[0].MIME != "application/pdf" || evs[2].Sender != "WhatsApp user" {
		t.Errorf("document: %+v", evs[2])
	}
	if evs[3].Plain != "Location: Office https://www.openstreetmap.org/?mlat=52.520000&mlon=13.405000#map=17/52.520000/13.405000" {
		t.Errorf("location: %+v", evs[3])
	}
	if evs[4].Kind != channel.Reaction || evs[4].Reaction != "👍" || evs[4].MessageID != "x" {
		t.Errorf("reaction: %+v", evs[4])
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		if seen[ev.ID] || abi.KeyProblem("dedupe:wa:P:"+ev.ID) != "" {
			t.Errorf("id %q repeated or not storage-safe", ev.ID)
		}
		seen[ev.ID] = true
	}
}

func TestParseRejectsOtherObjects(t *testing.T) {
	for _, body := range []string{`{"object":"page","entry":[]}`, `{}`, `[`} {
		if _, err := Parse([]byte(body), nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestSignature(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	ch := New(env.Env, s)
	body := delivery(change(phoneID, textMsg(1, annaWaID, "hi")))
	good := deliver(env, s, body)
	if err := ch.Authenticate(good); err != nil {
		t.Fatal(err)
	}
	bare := strings.TrimPrefix(good.Headers[0].Value, "sha256=")
	for name, v := range map[string]string{
		"without the sha256= prefix":  bare,
		"keyed with the access token": sign(env.Secret.Reveal(tokenName), body),
		"sha1 prefix":                 "sha1=" + bare,
		"empty":                       "",
	} {
		req := &abi.WebTriggerRequest{Method: "POST", Body: body, Headers: []abi.Header{{Name: SignatureHeader, Value: v}}}
		if err := ch.Authenticate(req); !errors.Is(err, channel.ErrUnauthorized) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestHandshake(t *testing.T) {
	env := sdktest.NewEnv()
	_ = env.Secret.Set(VerifySecretName("SUP"), []byte("verify-me"))
	q := func(kv ...string) []abi.Header {
		var h []abi.Header
		for i := 0; i+1 < len(kv); i += 2 {
			h = append(h, abi.Header{Name: kv[i], Value: kv[i+1]})
		}
		return h
	}
	ok := Handshake(env.Env, &abi.WebTriggerRequest{Method: "GET", Query: q("project", "SUP", "hub.mode", "subscribe", "hub.verify_token", "verify-me", "hub.challenge", "1158201444")}, "")
	if ok == nil || ok.Status != 200 || string(ok.Body) != "1158201444" {
		t.Fatalf("good verification: %+v", ok)
	}
	for name, query := range map[string][]abi.Header{
		"wrong token":       q("project", "SUP", "hub.mode", "subscribe", "hub.verify_token", "verify-you", "hub.challenge", "1"),
		"other project":     q("project", "OPS", "hub.mode", "subscribe", "hub.verify_token", "verify-me", "hub.challenge", "1"),
		"not subscribe":     q("project", "SUP", "hub.mode", "unsubscribe", "hub.verify_token", "verify-me", "hub.challenge", "1"),
		"without challenge": q("project", "SUP", "hub.mode", "subscribe", "hub.verify_token", "verify-me"),
	} {
		if r := Handshake(env.Env, &abi.WebTriggerRequest{Method: "GET", Query: query}, ""); r == nil || r.Status != 403 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if r := Handshake(env.Env, &abi.WebTriggerRequest{Method: "POST", Body: []byte("{}")}, ""); r != nil {
		t.Errorf("a delivery was answered by the handshake")
	}
}

func TestHandshakeAfterRegistrationComparesWithTheSavedWebhookSecret(t *testing.T) {
	env := sdktest.NewEnv()
	_ = env.Secret.Set("chatbridge.wa.webhook.SUP.n1", []byte("registered-token"))
	verify := func(token, webhook string) *abi.Response {
		return Handshake(env.Env, &abi.WebTriggerRequest{Method: "GET", Query: []abi.Header{{Name: "project", Value: "SUP"},
			{Name: "hub.mode", Value: "subscribe"}, {Name: "hub.verify_token", Value: token}, {Name: "hub.challenge", Value: "77"}}}, webhook)
	}
	if r := verify("registered-token", "chatbridge.wa.webhook.SUP.n1"); r == nil || r.Status != 200 || string(r.Body) != "77" {
		t.Fatalf("Meta's re-verification: %+v", r)
	}
	if r := verify("another-token", "chatbridge.wa.webhook.SUP.n1"); r == nil || r.Status != 403 {
		t.Errorf("a wrong token: %+v", r)
	}
	if r := verify("registered-token", ""); r == nil || r.Status != 403 {
		t.Errorf("without a saved configuration: %+v", r)
	}
}

func TestRegisterKeepsTheVerifyTokenOnlyDuringTheCall(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	var during *abi.Response
	env.HTTP.Handler = func(r *abi.Request) (*abi.Response, error) {
		if r.URL != GraphURL+"{{secret:wa.token.waba}}/subscribed_apps" || abi.Get(r.Headers, "Authorization") != "Bearer {{secret:wa.token}}" {
			t.Errorf("%s %s %+v", r.Method, r.URL, r.Headers)
		}
		var p map[string]string
		_ = json.Unmarshal(r.Body, &p)
		// Meta verifies the URL while the call runs.
		during = Handshake(env.Env, &abi.WebTriggerRequest{Method: "GET", Query: []abi.Header{{Name: "project", Value: "SUP"},
			{Name: "hub.mode", Value: "subscribe"}, {Name: "hub.verify_token", Value: p["verify_token"]}, {Name: "hub.challenge", Value: "42"}}}, "")
		return &abi.Response{Status: 200, Body: []byte(`{"success":true}`)}, nil
	}
	if err := New(env.Env, s).Register("https://bridge.example/wt/w?project=SUP", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if during == nil || during.Status != 200 || string(during.Body) != "42" {
		t.Fatalf("verification during Register: %+v", during)
	}
	if env.Secret.Has(VerifySecretName("SUP")) {
		t.Error("the verify token outlived the registration")
	}
}

func TestWindowClosedIsPermanentAndNamed(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(ErrWindowClosed)
	err := New(env.Env, s).SendText(annaWaID, "Your parcel left.")
	if !errors.Is(err, ErrWindowClosed) {
		t.Fatalf("got %v", err)
	}
	if errors.Is(err, channel.ErrTemporary) || errors.Is(err, channel.ErrBlocked) {
		t.Errorf("131047 must be permanent and not a block: %v", err)
	}
}

func TestSendTextRequest(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(nil)
	if err := New(env.Env, s).SendText(annaWaID, "Hello"); err != nil {
		t.Fatal(err)
	}
	r := env.HTTP.Requests()[0]
	if r.URL != GraphURL+"{{secret:wa.token.phone}}/messages" || abi.Get(r.Headers, "Authorization") != "Bearer {{secret:wa.token}}" {
		t.Errorf("%s %+v", r.URL, r.Headers)
	}
	var m struct {
		Product string `json:"messaging_product"`
		To      string `json:"to"`
		Type    string `json:"type"`
		Text    struct {
			Body string `json:"body"`
		} `json:"text"`
	}
	_ = json.Unmarshal(r.Body, &m)
	if m.Product != "whatsapp" || m.To != annaWaID || m.Type != "text" || m.Text.Body != "Hello" {
		t.Errorf("%s", r.Body)
	}
}

func TestSendFileUploadsThenSendsADocument(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = func(r *abi.Request) (*abi.Response, error) {
		if strings.HasSuffix(r.URL, "/media") {
			if !strings.Contains(string(r.Body), "%PDF") || !strings.Contains(abi.Get(r.Headers, "Content-Type"), "multipart/form-data") {
				t.Errorf("upload: %s", r.Body)
			}
			return &abi.Response{Status: 200, Body: []byte(`{"id":"4490709327384033"}`)}, nil
		}
		return &abi.Response{Status: 200, Body: []byte(graphReply)}, nil
	}
	if err := New(env.Env, s).SendFile(annaWaID, channel.File{Name: "invoice.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.4")}); err != nil {
		t.Fatal(err)
	}
	reqs := env.HTTP.Requests()
	if len(reqs) != 2 || !strings.Contains(string(reqs[1].Body), `"document":{"filename":"invoice.pdf","id":"4490709327384033"}`) {
		t.Fatalf("%d requests; last %s", len(reqs), reqs[len(reqs)-1].Body)
	}
}

func TestDownloadByID(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	mediaURL := "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1479537139650973&ext=1700000000&hash=ATs"
	env.HTTP.Handler = func(r *abi.Request) (*abi.Response, error) {
		if abi.Get(r.Headers, "Authorization") != "Bearer {{secret:wa.token}}" {
			t.Errorf("no bearer on %s", r.URL)
		}
		switch r.URL {
		case GraphURL + "1479537139650973":
			return &abi.Response{Status: 200, Body: fmt.Appendf(nil, `{"messaging_product":"whatsapp","url":%q,"mime_type":"image/jpeg","sha256":"x","file_size":4,"id":"1479537139650973"}`, mediaURL)}, nil
		case GraphURL + "666":
			return &abi.Response{Status: 200, Body: []byte(`{"url":"https://evil.example/steal","file_size":4}`)}, nil
		case GraphURL + "777":
			return &abi.Response{Status: 200, Body: []byte(`{"url":"https://lookaside.fbsbx.com/x","file_size":30000000}`)}, nil
		case mediaURL:
			return &abi.Response{Status: 200, Body: []byte("JPEG")}, nil
		}
		return graphError(404, 100, "Unsupported get request"), nil
	}
	ch := New(env.Env, s)
	if b, err := ch.Download(channel.Attachment{Ref: "1479537139650973"}); err != nil || string(b) != "JPEG" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := ch.Download(channel.Attachment{Ref: "666"}); err == nil {
		t.Error("the token was sent to a host outside Meta's")
	}
	if _, err := ch.Download(channel.Attachment{Ref: "777"}); !errors.Is(err, channel.ErrTooLarge) {
		t.Errorf("over 20 MB: %v", err)
	}
	if _, err := ch.Download(channel.Attachment{Ref: "../me"}); !errors.Is(err, channel.ErrNotFound) {
		t.Errorf("path in a media id: %v", err)
	}
	for _, r := range env.HTTP.Requests() {
		if strings.Contains(r.URL, "evil") {
			t.Errorf("fetched %s", r.URL)
		}
	}
}

func TestValidate(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = func(r *abi.Request) (*abi.Response, error) {
		return &abi.Response{Status: 200, Body: []byte(`{"verified_name":"ACME Support","display_phone_number":"+1 555-078-3881","id":"106540352242922"}`)}, nil
	}
	bot, err := New(env.Env, s).Validate()
	if err != nil || bot.ID != phoneID || bot.Username != "+1 555-078-3881" {
		t.Fatalf("%+v %v", bot, err)
	}
	env.HTTP.Handler = answer(channel.ErrUnauthorized)
	if _, err := New(env.Env, s).Validate(); !errors.Is(err, channel.ErrUnauthorized) {
		t.Errorf("%v", err)
	}
}

func TestTokenProblemAndStoreToken(t *testing.T) {
	good := phoneID + ":" + wabaID + ":" + appSecret + ":" + accessTok
	for token, ok := range map[string]bool{
		good:                      true,
		"":                        false,
		accessTok:                 false,
		phoneID + ":" + accessTok: false,
		good + "\n":               false,
	} {
		if got := TokenProblem(token) == ""; got != ok {
			t.Errorf("TokenProblem(%q) ok=%v, want %v", token, got, ok)
		}
	}
	env := sdktest.NewEnv()
	if err := StoreToken(env.Secret, "n", good); err != nil {
		t.Fatal(err)
	}
	for suffix, want := range map[string]string{"": accessTok, SuffixAppSecret: appSecret, SuffixPhone: phoneID, SuffixAccount: wabaID} {
		if got := string(env.Secret.Reveal("n" + suffix)); got != want {
			t.Errorf("n%s = %q, want %q", suffix, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(delivery(change(phoneID, textMsg(1, annaWaID, "hi"))))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1234","id":"x","type":"document","document":{"id":"1","filename":"../../a"}}]}}]}]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1234","id":"y","type":"contacts","contacts":[{"name":{"formatted_name":"A"},"phones":[{"phone":"+1"}]}]}]}}]}]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1234","id":"r","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}},{"from":"1234","id":"d","type":"revoke","revoke":{"original_message_id":"wamid.Y"}}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Parse(body, nil)
		if err != nil {
			return
		}
		for _, ev := range evs {
			if abi.KeyProblem("dedupe:wa:P:"+ev.ID) != "" || abi.KeyProblem("chat:P:whatsapp:"+ev.ChatID) != "" || !validChat(ev.ChatID) {
				t.Fatalf("ids unusable: %+v", ev)
			}
			switch {
			case ev.Kind == channel.Undelivered:
				if ev.Failure == nil || ev.MessageID == "" {
					t.Fatalf("failure without its reason or message: %+v", ev)
				}
			case ev.Kind == channel.Reaction || ev.Kind == channel.Deleted:
				if ev.MessageID == "" || ev.Wiki != "" || len(ev.Attachments) != 0 {
					t.Fatalf("a reaction or deletion without its message, or with content: %+v", ev)
				}
			case ev.Wiki == "" && len(ev.Attachments) == 0 && !ev.Unreadable:
				t.Fatalf("empty event: %+v", ev)
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}
