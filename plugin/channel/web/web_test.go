package web

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func send(session, id, text string) []byte {
	b, _ := json.Marshal(Request{Op: "send", Session: session, Name: "Ada", ID: id, Text: text})
	return b
}

func TestASendIsOneMessageOfTheSessionsChatAndARetryIsTheSameEvent(t *testing.T) {
	env := sdktest.NewEnv()
	ch := New(env.Env, channel.Secrets{})
	s := NewSession()
	evs, err := ch.Parse(send(s, "m1", "  Where is {color:red}my order{color}?  "))
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	ev := evs[0]
	if ev.ChatID != ChatOf(s) || ev.Sender != "Ada" || ev.Plain != "Where is {color:red}my order{color}?" {
		t.Errorf("event %+v", ev)
	}
	if strings.Contains(strings.NewReplacer(`\{`, "").Replace(ev.Wiki), "{color") {
		t.Errorf("customer text became markup: %q", ev.Wiki)
	}
	if strings.Contains(ev.ChatID, s) || strings.Contains(ev.ID, s) {
		t.Error("the session (the credential) appears in an id that is stored")
	}
	for _, key := range []string{"dedupe:wb:PROJ:" + ev.ID, "chat:PROJ:web:" + ev.ChatID} {
		if p := abi.KeyProblem(key); p != "" {
			t.Errorf("%s: %s", key, p)
		}
	}
	if p := abi.ChannelProblem(RealtimeChannel(ev.ChatID)); p != "" {
		t.Errorf("realtime channel: %s", p)
	}
	again, _ := ch.Parse(send(s, "m1", "Where is my order?"))
	other, _ := ch.Parse(send(s, "m2", "Where is my order?"))
	if again[0].ID != ev.ID || other[0].ID == ev.ID {
		t.Errorf("ids: %q, again %q, other %q", ev.ID, again[0].ID, other[0].ID)
	}
	if ChatOf(NewSession()) == ev.ChatID {
		t.Error("two sessions share a chat")
	}
}

func TestRequestsOutsideTheLimitsAreRefused(t *testing.T) {
	s := NewSession()
	for _, c := range []struct {
		name string
		body string
		want error
	}{
		{"not JSON", "hello", ErrBadRequest},
		{"an unknown op", `{"op":"delete"}`, ErrBadRequest},
		{"a send without a session", `{"op":"send","id":"m1","text":"x"}`, ErrBadRequest},
		{"a session of another shape", `{"op":"send","session":"abc","id":"m1","text":"x"}`, ErrBadRequest},
		{"an empty text", string(send(s, "m1", "   ")), ErrBadRequest},
		{"a message id with a slash", string(send(s, "m/1", "x")), ErrBadRequest},
		{"a text over the limit", string(send(s, "m1", strings.Repeat("é", MaxText+1))), ErrTooLong},
		{"a body over the limit", strings.Repeat(" ", MaxBody+1), ErrTooLong},
		{"a name over the limit", `{"op":"connect","session":"` + s + `","name":"` + strings.Repeat("a", MaxName+1) + `"}`, ErrBadRequest},
	} {
		if _, err := ReadRequest([]byte(c.body)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	up := func(id, file, mime string, size int64) string {
		b, _ := json.Marshal(Request{Op: "upload", Session: s, ID: id, File: file, MIME: mime, Size: size})
		return string(b)
	}
	for _, c := range []struct {
		name string
		body string
		want error
	}{
		{"an upload without a file name", up("f1", "  ", "image/png", 10), ErrBadRequest},
		{"an upload of nothing", up("f1", "a.png", "image/png", 0), ErrBadRequest},
		{"an upload without an id", up("", "a.png", "image/png", 10), ErrBadRequest},
		{"an upload over the limit", up("f1", "a.png", "image/png", MaxUpload+1), ErrTooLong},
		{"an upload with a file name over 255 characters", up("f1", strings.Repeat("é", 256), "", 10), ErrBadRequest},
		{"an attach without a link", `{"op":"attach","session":"` + s + `","id":"f1"}`, ErrBadRequest},
		{"an attach with a link over the bound", `{"op":"attach","session":"` + s + `","id":"f1","link":"` + strings.Repeat("l", abi.MaxUploadResultLinkLen+1) + `"}`, ErrBadRequest},
	} {
		if _, err := ReadRequest([]byte(c.body)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if r, err := ReadRequest([]byte(up("f1", "../x\\y.png", "image/png; charset=x", MaxUpload))); err != nil || r.File != ".._x_y.png" || r.MIME != "image/png" || r.Kind() != channel.Photo {
		t.Errorf("an upload at the limit: %+v %v", r, err)
	}
	if r, err := ReadRequest([]byte(up("f1", "notes.pdf", "not a type", 1))); err != nil || r.MIME != "application/octet-stream" || r.Kind() != channel.Document {
		t.Errorf("an upload of an unknown type: %+v %v", r, err)
	}
	if a, b := UploadSubject("chat1", "f1"), UploadSubject("chat1", "f2"); a == b || len(a) > abi.MaxUploadSubjectLen || strings.Contains(a, "chat1") {
		t.Errorf("subjects %q %q: want distinct hashes within the contract's bound", a, b)
	}
	if r, err := ReadRequest(send(s, "m1", strings.Repeat("é", MaxText))); err != nil || r.Op != "send" {
		t.Errorf("a text at the limit: %v", err)
	}
	env := sdktest.NewEnv()
	ch := New(env.Env, channel.Secrets{})
	if err := ch.Authenticate(&abi.WebTriggerRequest{Body: []byte(`{"op":"send"}`)}); !errors.Is(err, channel.ErrUnauthorized) {
		t.Errorf("a send without a session authenticated: %v", err)
	}
}

func TestRepliesAndFilesArePublishedToTheChatsRealtimeChannel(t *testing.T) {
	env := sdktest.NewEnv()
	ch := New(env.Env, channel.Secrets{})
	chat := ChatOf(NewSession())
	for _, p := range ch.Render(channel.Content{Wiki: "*Hello*, your parcel left."}) {
		if err := ch.SendText(chat, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.SendFileURL(chat, channel.FileLink{URL: "https://bridge.example/dl/tok", Name: "label.pdf", MIME: "application/pdf", Size: 10}); err != nil {
		t.Fatal(err)
	}
	pub := env.Live.Published()
	if len(pub) != 2 {
		t.Fatalf("published %d", len(pub))
	}
	var reply, file Event
	_ = json.Unmarshal(pub[0].Payload, &reply)
	_ = json.Unmarshal(pub[1].Payload, &file)
	if pub[0].Channel != RealtimeChannel(chat) || reply.Type != "reply" || reply.Text != "Hello, your parcel left." {
		t.Errorf("reply %s %+v", pub[0].Channel, reply)
	}
	if file.Type != "file" || file.URL != "https://bridge.example/dl/tok" || file.Name != "label.pdf" {
		t.Errorf("file %+v", file)
	}
	env.Live.Fail = sdk.ErrLimitExceeded
	if err := ch.SendText(chat, "x"); !errors.Is(err, channel.ErrTemporary) {
		t.Errorf("a publish over the rate: %v, want a temporary failure the bridge retries", err)
	}
}

// The bridge offers a file whose size is within Limits().Upload and sends a
// notice for a larger one: zero would refuse every file.
func TestLimitsOfferAgentsFilesUpTo50MiB(t *testing.T) {
	if got := New(sdktest.NewEnv().Env, channel.Secrets{}).Limits(); got.Upload != 50<<20 || got.Text != MaxText {
		t.Errorf("Limits = %+v", got)
	}
}

func TestChoicesArePublishedAsButtonsAndAPressComesBackAsAChosenEvent(t *testing.T) {
	env := sdktest.NewEnv()
	ch := New(env.Env, channel.Secrets{})
	s := NewSession()
	chat := ChatOf(s)
	choices := []channel.Choice{{Label: "Bad", Data: "csat:1:SUP-1"}, {Label: "Great", Data: "csat:5:SUP-1"}}
	if err := ch.SendChoices(chat, "How did we do?", choices); err != nil {
		t.Fatal(err)
	}
	pub := env.Live.Published()
	if len(pub) != 1 || pub[0].Channel != RealtimeChannel(chat) {
		t.Fatalf("published %+v", pub)
	}
	var ev Event
	if err := json.Unmarshal(pub[0].Payload, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "choices" || ev.Text != "How did we do?" || len(ev.Choices) != 2 || ev.Choices[1] != (Button{Label: "Great", Data: "csat:5:SUP-1"}) {
		t.Errorf("event %+v", ev)
	}
	if ch.MaxChoices() < 10 {
		t.Errorf("MaxChoices %d: a menu of ten request types does not fit", ch.MaxChoices())
	}
	for name, bad := range map[string][]channel.Choice{"none": nil, "eleven": make([]channel.Choice, 11), "bad data": {{Label: "x", Data: "a b"}}} {
		if err := ch.SendChoices(chat, "x", bad); err == nil {
			t.Errorf("%s: sent", name)
		}
	}

	press, _ := json.Marshal(Request{Op: "choose", Session: s, ID: "c1", Data: ev.Choices[1].Data, Lang: "de"})
	if err := ch.Authenticate(&abi.WebTriggerRequest{Body: press}); err != nil {
		t.Fatalf("a press did not authenticate: %v", err)
	}
	evs, err := ch.Parse(press)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if got := evs[0]; got.Kind != channel.Chosen || got.Choice != "csat:5:SUP-1" || got.ChatID != chat || got.ID != chat+":c1" || got.Lang != "de" || got.Plain != "" {
		t.Errorf("press %+v", got)
	}
}

func TestPressesOutsideTheirShapeAreRefused(t *testing.T) {
	s := NewSession()
	req := func(r Request) string { b, _ := json.Marshal(r); return string(b) }
	for _, c := range []struct {
		name string
		body string
	}{
		{"a press without data", req(Request{Op: "choose", Session: s, ID: "c1"})},
		{"a press without an id", req(Request{Op: "choose", Session: s, Data: "rt:10"})},
		{"a press with data no button carries", req(Request{Op: "choose", Session: s, ID: "c1", Data: "rt:10 <b>"})},
		{"a press with data over the limit", req(Request{Op: "choose", Session: s, ID: "c1", Data: strings.Repeat("a", channel.MaxChoiceData+1)})},
		{"a press without a session", req(Request{Op: "choose", ID: "c1", Data: "rt:10"})},
	} {
		if _, err := ReadRequest([]byte(c.body)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v, want %v", c.name, err, ErrBadRequest)
		}
	}
}

// The browser's language travels as its primary subtag only; anything else
// is refused, not guessed at.
func TestTheBrowsersLanguageIsAPrimarySubtagOrRefused(t *testing.T) {
	s := NewSession()
	req := func(r Request) string { b, _ := json.Marshal(r); return string(b) }
	for _, c := range []struct {
		name string
		body string
	}{
		{"a full language tag", req(Request{Op: "send", Session: s, ID: "m1", Text: "x", Lang: "de-AT"})},
		{"a language in capitals", req(Request{Op: "send", Session: s, ID: "m1", Text: "x", Lang: "DE"})},
		{"a language of one letter", req(Request{Op: "send", Session: s, ID: "m1", Text: "x", Lang: "d"})},
		{"a language of four letters", req(Request{Op: "send", Session: s, ID: "m1", Text: "x", Lang: "deut"})},
		{"a press with a language of another shape", req(Request{Op: "choose", Session: s, ID: "c1", Data: "rt:10", Lang: "pt_BR"})},
	} {
		if _, err := ReadRequest([]byte(c.body)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v, want %v", c.name, err, ErrBadRequest)
		}
	}
	ch := New(sdktest.NewEnv().Env, channel.Secrets{})
	evs, err := ch.Parse([]byte(req(Request{Op: "send", Session: s, ID: "m1", Text: "Hallo", Lang: "de"})))
	if err != nil || len(evs) != 1 || evs[0].Lang != "de" || evs[0].Kind != channel.Message {
		t.Errorf("a send with a language: %+v, %v", evs, err)
	}
}
