package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "telegram", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseUpdateTurnsRealUpdatesIntoEvents(t *testing.T) {
	tests := []struct {
		fixture string
		check   func(t *testing.T, ev channel.Inbound)
	}{
		{"update_text.json", func(t *testing.T, ev channel.Inbound) {
			if ev.Kind != channel.Message || ev.ChatID != "5123456789" || ev.ID != "861432017" || ev.MessageID != "1204" {
				t.Errorf("ids: %+v", ev)
			}
			if ev.Sender != "Anna Schmidt" || ev.Group {
				t.Errorf("sender %q group %v", ev.Sender, ev.Group)
			}
			if !strings.HasPrefix(ev.Plain, "Hello 👋 my order #4711") {
				t.Errorf("plain %q", ev.Plain)
			}
			// The bold entity starts after an emoji (two UTF-16 units): it
			// must cover "#4711", not a shifted range.
			if !strings.Contains(ev.Wiki, "*#4711*") {
				t.Errorf("wiki %q does not make #4711 bold", ev.Wiki)
			}
		}},
		{"update_start.json", func(t *testing.T, ev channel.Inbound) {
			if ev.Command != channel.CommandStart || ev.Wiki != "" || ev.Plain != "" {
				t.Errorf("a /start with a deep link must be the bare command: %+v", ev)
			}
		}},
		{"update_edit.json", func(t *testing.T, ev channel.Inbound) {
			if !ev.Edited || ev.Plain != "It was supposed to come on Tuesday." {
				t.Errorf("edit: %+v", ev)
			}
		}},
		{"update_reply.json", func(t *testing.T, ev channel.Inbound) {
			if !strings.Contains(ev.ReplyTo, "photo of the parcel label") || ev.Plain != "Sure, one moment." {
				t.Errorf("reply: %+v", ev)
			}
		}},
		{"update_photo.json", func(t *testing.T, ev channel.Inbound) {
			if len(ev.Attachments) != 1 {
				t.Fatalf("attachments: %+v", ev.Attachments)
			}
			a := ev.Attachments[0]
			if a.Kind != channel.Photo || a.Ref != "AgACAgIAAxkBAAIEu2dLarge" || a.Size != 101234 || a.MIME != "image/jpeg" {
				t.Errorf("the largest photo size must be chosen: %+v", a)
			}
			if ev.Plain != "The label" {
				t.Errorf("caption %q", ev.Plain)
			}
		}},
		{"update_document.json", func(t *testing.T, ev channel.Inbound) {
			a := ev.Attachments[0]
			if a.Kind != channel.Document || a.Name != "invoice-4711.pdf" || a.MIME != "application/pdf" || a.Size != 48213 {
				t.Errorf("document: %+v", a)
			}
		}},
		{"update_album_1.json", func(t *testing.T, ev channel.Inbound) {
			if ev.MediaGroup != "13828416411526045" || len(ev.Attachments) != 1 {
				t.Errorf("album: %+v", ev)
			}
		}},
		{"update_voice.json", func(t *testing.T, ev channel.Inbound) {
			a := ev.Attachments[0]
			if a.Kind != channel.Voice || a.Name != "voice_1216.ogg" || a.MIME != "audio/ogg" {
				t.Errorf("voice: %+v", a)
			}
		}},
		{"update_sticker.json", func(t *testing.T, ev channel.Inbound) {
			a := ev.Attachments[0]
			if a.Kind != channel.Sticker || a.Ref != "CAACAgIAAxkBAAIEwWdSticker" || a.MIME != "image/webp" {
				t.Errorf("sticker: %+v", a)
			}
		}},
		{"update_group_text.json", func(t *testing.T, ev channel.Inbound) {
			if ev.ChatID != "-1001987654321" || !ev.Group || ev.Command != channel.CommandStatus {
				t.Errorf("a supergroup id needs 64 bits and /status@bot is /status: %+v", ev)
			}
		}},
		{"update_my_chat_member_kicked.json", func(t *testing.T, ev channel.Inbound) {
			if ev.Kind != channel.Blocked || ev.ChatID != "5123456789" {
				t.Errorf("kicked: %+v", ev)
			}
		}},
		{"update_my_chat_member_member.json", func(t *testing.T, ev channel.Inbound) {
			if ev.Kind != channel.Unblocked {
				t.Errorf("member again: %+v", ev)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			events, err := ParseUpdate(fixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 {
				t.Fatalf("got %d events, want 1", len(events))
			}
			tt.check(t, events[0])
		})
	}
}

func TestParseUpdateIgnoresWhatTheBridgeDoesNotCarry(t *testing.T) {
	tests := map[string]string{
		"callback query": `{"update_id":5,"callback_query":{"id":"1","from":{"id":1,"is_bot":false,"first_name":"A"},"data":"x"}}`,
		"member joined":  `{"update_id":6,"message":{"message_id":3,"chat":{"id":-5,"type":"group"},"date":1,"new_chat_members":[{"id":2,"is_bot":false,"first_name":"B"}]}}`,
		"channel post":   `{"update_id":7,"channel_post":{"message_id":3,"chat":{"id":-1005,"type":"channel"},"date":1,"text":"hi"}}`,
		"promoted admin": `{"update_id":8,"my_chat_member":{"chat":{"id":-5,"type":"group"},"from":{"id":1,"is_bot":false,"first_name":"A"},"date":1,"old_chat_member":{"status":"member"},"new_chat_member":{"status":"administrator"}}}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			events, err := ParseUpdate([]byte(body))
			if err != nil || len(events) != 0 {
				t.Fatalf("got %v, %v; want nothing", events, err)
			}
		})
	}
}

func TestParseUpdateRejectsWhatIsNotAnUpdate(t *testing.T) {
	for _, body := range []string{``, `[]`, `{"message":"x"}`, `{}`, `{"update_id":"1"}`} {
		if _, err := ParseUpdate([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: got %v, want ErrMalformed", body, err)
		}
	}
}

// fakeBot answers Bot API calls from a table of method -> reply body.
type fakeBot struct {
	env     *sdktest.Env
	replies map[string][]string // method -> bodies, used in order; the last repeats
	files   map[string][]byte   // file path -> content
}

func newFakeBot(t *testing.T) *fakeBot {
	f := &fakeBot{env: sdktest.NewEnv(), replies: map[string][]string{}, files: map[string][]byte{}}
	f.env.HTTP.Handler = func(req *abi.Request) (*abi.Response, error) {
		if path, ok := strings.CutPrefix(req.URL, BaseURL+"/file/bot{{secret:tok}}/"); ok {
			if b, ok := f.files[path]; ok {
				return &abi.Response{Status: 200, Body: b}, nil
			}
			return &abi.Response{Status: 404, Body: []byte(`{"ok":false,"error_code":404,"description":"Not Found"}`)}, nil
		}
		method, ok := strings.CutPrefix(req.URL, BaseURL+"/bot{{secret:tok}}/")
		if !ok {
			t.Errorf("request to %q does not name the token by reference", req.URL)
			return &abi.Response{Status: 404}, nil
		}
		list := f.replies[method]
		if len(list) == 0 {
			return &abi.Response{Status: 200, Body: []byte(`{"ok":true,"result":true}`)}, nil
		}
		body := list[0]
		if len(list) > 1 {
			f.replies[method] = list[1:]
		}
		var r struct {
			ErrorCode int `json:"error_code"`
		}
		_ = json.Unmarshal([]byte(body), &r)
		status := uint16(200)
		if r.ErrorCode != 0 {
			status = uint16(r.ErrorCode)
		}
		return &abi.Response{Status: status, Body: []byte(body)}, nil
	}
	return f
}

func (f *fakeBot) channel() *Channel {
	return New(f.env.Env, channel.Secrets{Token: "tok", Webhook: "hook"})
}

func TestBotAPIErrorsMatchTheChannelSentinels(t *testing.T) {
	tests := []struct {
		fixture    string
		want       error
		retryAfter time.Duration
		migrated   string
	}{
		{"error_401.json", channel.ErrUnauthorized, 0, ""},
		{"error_403_blocked.json", channel.ErrBlocked, 0, ""},
		{"error_429.json", channel.ErrTemporary, 17 * time.Second, ""},
		{"error_400_migrated.json", nil, 0, "-1001987654321"},
		{"error_400_file_too_big.json", channel.ErrTooLarge, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			f := newFakeBot(t)
			f.replies["sendMessage"] = []string{string(fixture(t, tt.fixture))}
			err := f.channel().SendText("5123456789", "hi")
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want a *telegram.Error", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("%v does not match %v", err, tt.want)
			}
			if d, _ := channel.RetryAfter(err); d != tt.retryAfter {
				t.Errorf("retry after %v, want %v", d, tt.retryAfter)
			}
			if id, _ := channel.MigratedTo(err); id != tt.migrated {
				t.Errorf("migrated to %q, want %q", id, tt.migrated)
			}
		})
	}
}

func TestSendTextSendsHTMLWithTheTokenOnlyByReference(t *testing.T) {
	f := newFakeBot(t)
	if err := f.channel().SendText("-1001987654321", "<b>Hi</b> &amp; bye"); err != nil {
		t.Fatal(err)
	}
	reqs := f.env.HTTP.Requests()
	if len(reqs) != 1 || reqs[0].URL != "https://api.telegram.org/bot{{secret:tok}}/sendMessage" {
		t.Fatalf("requests: %+v", reqs)
	}
	var params struct {
		ChatID    int64  `json:"chat_id"`
		Text      string `json:"text"`
		ParseMode string `json:"parse_mode"`
	}
	if err := json.Unmarshal(reqs[0].Body, &params); err != nil {
		t.Fatal(err)
	}
	if params.ChatID != -1001987654321 || params.Text != "<b>Hi</b> &amp; bye" || params.ParseMode != "HTML" {
		t.Errorf("params: %+v", params)
	}
}

func TestSendTextFallsBackToPlainTextWhenTelegramCannotParseTheHTML(t *testing.T) {
	f := newFakeBot(t)
	f.replies["sendMessage"] = []string{
		`{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"}`,
		`{"ok":true,"result":{"message_id":1}}`,
	}
	if err := f.channel().SendText("1", "<b>5 &lt; 6</b>"); err != nil {
		t.Fatal(err)
	}
	reqs := f.env.HTTP.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	var params map[string]any
	_ = json.Unmarshal(reqs[1].Body, &params)
	if params["text"] != "5 < 6" || params["parse_mode"] != nil {
		t.Errorf("fallback params: %v", params)
	}
}

func TestSendFileUploadsMultipartPhotosAndDocuments(t *testing.T) {
	tests := []struct {
		name       string
		file       channel.File
		wantMethod string
		wantField  string
	}{
		{"small image as a photo", channel.File{Name: "label.jpg", MIME: "image/jpeg", Data: []byte("jpeg"), Caption: "a < b"}, "sendPhoto", "photo"},
		{"pdf as a document", channel.File{Name: "form.pdf", MIME: "application/pdf", Data: []byte("%PDF")}, "sendDocument", "document"},
		{"image over 10 MB as a document", channel.File{Name: "big.png", MIME: "image/png", Data: make([]byte, 10<<20+1)}, "sendDocument", "document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBot(t)
			if err := f.channel().SendFile("42", tt.file); err != nil {
				t.Fatal(err)
			}
			req := f.env.HTTP.Requests()[0]
			if !strings.HasSuffix(req.URL, "/"+tt.wantMethod) {
				t.Fatalf("url %s, want method %s", req.URL, tt.wantMethod)
			}
			_, params, err := mime.ParseMediaType(abi.Get(req.Headers, "Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			r := multipart.NewReader(bytes.NewReader(req.Body), params["boundary"])
			fields := map[string]string{}
			for {
				p, err := r.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(p)
				if p.FormName() == tt.wantField {
					if p.FileName() != tt.file.Name || !bytes.Equal(b, tt.file.Data) || p.Header.Get("Content-Type") != tt.file.MIME {
						t.Errorf("file part: name %q type %q, %d bytes", p.FileName(), p.Header.Get("Content-Type"), len(b))
					}
				}
				fields[p.FormName()] = string(b)
			}
			if fields["chat_id"] != "42" {
				t.Errorf("chat_id %q", fields["chat_id"])
			}
			if tt.file.Caption != "" && (fields["caption"] != "a &lt; b" || fields["parse_mode"] != "HTML") {
				t.Errorf("caption %q parse_mode %q", fields["caption"], fields["parse_mode"])
			}
		})
	}
}

func TestSendFileRefusesFilesOverTheUploadLimitWithoutCallingTelegram(t *testing.T) {
	f := newFakeBot(t)
	err := f.channel().SendFile("42", channel.File{Name: "huge.bin", Data: make([]byte, 50<<20+1)})
	if !errors.Is(err, channel.ErrTooLarge) || len(f.env.HTTP.Requests()) != 0 {
		t.Fatalf("got %v after %d requests", err, len(f.env.HTTP.Requests()))
	}
}

func TestAuthenticateComparesTheSecretTokenHeader(t *testing.T) {
	f := newFakeBot(t)
	_ = f.env.Secrets.Set("hook", []byte("s3cret_-token"))
	tests := []struct {
		name   string
		header []abi.Header
		ok     bool
	}{
		{"right token", []abi.Header{{Name: "x-telegram-bot-api-secret-token", Value: "s3cret_-token"}}, true},
		{"wrong token", []abi.Header{{Name: SecretHeader, Value: "s3cret_-tokeN"}}, false},
		{"no header", nil, false},
		{"empty header", []abi.Header{{Name: SecretHeader, Value: ""}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.channel().Authenticate(&abi.WebTriggerRequest{Headers: tt.header})
			if tt.ok != (err == nil) {
				t.Fatalf("got %v", err)
			}
			if err != nil && !errors.Is(err, channel.ErrUnauthorized) {
				t.Fatalf("%v is not ErrUnauthorized", err)
			}
		})
	}
}

func TestDownloadUsesGetFileThenTheFileURL(t *testing.T) {
	f := newFakeBot(t)
	f.replies["getFile"] = []string{string(fixture(t, "getFile.json"))}
	f.files["photos/file_17.jpg"] = []byte("JPEG")
	data, err := f.channel().Download(channel.Attachment{Ref: "AgACAgIAAxkBAAIEu2dLarge", Size: 101234})
	if err != nil || string(data) != "JPEG" {
		t.Fatalf("got %q, %v", data, err)
	}
	reqs := f.env.HTTP.Requests()
	if got := reqs[1].URL; got != "https://api.telegram.org/file/bot{{secret:tok}}/photos/file_17.jpg" {
		t.Errorf("download url %q", got)
	}
}

func TestDownloadRefusesOversizeAndUnsafeFiles(t *testing.T) {
	tests := []struct {
		name    string
		size    int64
		getFile string
	}{
		{"size known from the update", 21 << 20, ""},
		{"getFile says too big", 0, string(fixture(t, "error_400_file_too_big.json"))},
		{"getFile reports a size over the limit", 0, `{"ok":true,"result":{"file_id":"x","file_size":31457280,"file_path":"videos/file_1.mp4"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBot(t)
			if tt.getFile != "" {
				f.replies["getFile"] = []string{tt.getFile}
			}
			_, err := f.channel().Download(channel.Attachment{Ref: "x", Size: tt.size})
			if !errors.Is(err, channel.ErrTooLarge) {
				t.Fatalf("got %v, want ErrTooLarge", err)
			}
		})
	}
	t.Run("a path that would inject a secret placeholder", func(t *testing.T) {
		f := newFakeBot(t)
		f.replies["getFile"] = []string{`{"ok":true,"result":{"file_id":"x","file_size":10,"file_path":"{{secret:other}}/a"}}`}
		if _, err := f.channel().Download(channel.Attachment{Ref: "x"}); err == nil {
			t.Fatal("downloaded from an unsafe path")
		}
		if n := len(f.env.HTTP.Requests()); n != 1 {
			t.Fatalf("%d requests, want only getFile", n)
		}
	})
}

func TestValidateAndRegister(t *testing.T) {
	f := newFakeBot(t)
	f.replies["getMe"] = []string{string(fixture(t, "getMe.json"))}
	bot, err := f.channel().Validate()
	if err != nil || bot.Username != "acme_support_bot" || bot.ID != "7000000001" {
		t.Fatalf("got %+v, %v", bot, err)
	}
	if err := f.channel().Register("https://bridge.example/wt/abc?project=SUP", "sec_ret-1"); err != nil {
		t.Fatal(err)
	}
	req := f.env.HTTP.Requests()[1]
	var params struct {
		URL            string   `json:"url"`
		SecretToken    string   `json:"secret_token"`
		AllowedUpdates []string `json:"allowed_updates"`
	}
	_ = json.Unmarshal(req.Body, &params)
	if params.URL != "https://bridge.example/wt/abc?project=SUP" || params.SecretToken != "sec_ret-1" ||
		strings.Join(params.AllowedUpdates, ",") != "message,edited_message,my_chat_member,callback_query,message_reaction" {
		t.Errorf("setWebhook params: %+v", params)
	}

	f.replies["getMe"] = []string{string(fixture(t, "error_401.json"))}
	if _, err := f.channel().Validate(); !errors.Is(err, channel.ErrUnauthorized) {
		t.Fatalf("401: got %v", err)
	}
}

func TestTokenProblem(t *testing.T) {
	for token, ok := range map[string]bool{
		"7000000001:AAH3kP0aWq4sV9bFz2yXcL8mN1oR6tU5eQd": true,
		"":                         false,
		"7000000001":               false,
		"abc:AAH3kP0aWq4sV9bFz2yX": false,
		"7000000001:short":         false,
		"7000000001:AAH3kP0aWq4sV9bFz2yXcL8mN1oR6tU5eQd/../x": false,
	} {
		if got := TokenProblem(token) == ""; got != ok {
			t.Errorf("TokenProblem(%q) ok=%v, want %v", token, got, ok)
		}
	}
}

func FuzzParseUpdate(f *testing.F) {
	for _, name := range []string{"update_text.json", "update_photo.json", "update_reply.json", "update_edit.json",
		"update_album_1.json", "update_sticker.json", "update_group_text.json", "update_my_chat_member_kicked.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"text":"/start","entities":[{"type":"bot_command","offset":0,"length":99}]}}`))
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"text":"😀😀","entities":[{"type":"bold","offset":1,"length":-3}]}}`))
	f.Add([]byte(`{"update_id":2,"message_reaction":{"chat":{"id":1,"type":"private"},"message_id":3,"user":{"id":1,"is_bot":false,"first_name":"A"},"date":1,"old_reaction":[],"new_reaction":[{"type":"emoji","emoji":"👍"}]}}`))
	f.Add([]byte(`{"update_id":3,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"venue":{"location":{"latitude":1,"longitude":2},"title":"T","address":"A"},"location":{"latitude":1,"longitude":2}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseUpdate(body)
		if err != nil {
			return
		}
		for _, ev := range events {
			if ev.ChatID == "" || ev.ID == "" {
				t.Fatalf("event without ids: %+v", ev)
			}
			if ev.Command != "" && (ev.Wiki != "" || ev.Plain != "") {
				t.Fatalf("a command carries text: %+v", ev)
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatalf("event does not encode for the queue: %v", err)
			}
		}
	})
}
