package telegram

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAPI_TokensAndMethods(t *testing.T) {
	e := newEnv(t, Config{Tokens: []string{"111:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "222:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"}})
	get := func(path string) (int, string) {
		resp, err := e.api.Client().Get(e.api.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name   string
		path   string
		status int
		body   string
	}{
		{"unknown token is unauthorized", "/bot999:nope/getMe", 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`},
		{"unknown method is not found", "/bot111:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/sendCarrierPigeon", 404, `{"ok":false,"error_code":404,"description":"Not Found"}`},
		{"path without bot prefix is not found", "/getMe", 404, `{"ok":false,"error_code":404,"description":"Not Found"}`},
		{"empty method is not found", "/bot111:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/", 404, `{"ok":false,"error_code":404,"description":"Not Found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(tt.path)
			if status != tt.status || body != tt.body {
				t.Errorf("got %d %s, want %d %s", status, body, tt.status, tt.body)
			}
		})
	}
	t.Run("each token is its own bot, named by the number before the colon", func(t *testing.T) {
		for token, id := range map[string]int64{"111:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA": 111, "222:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB": 222} {
			e.token = token
			var me User
			r := e.call(t, "getMe", nil)
			r.into(t, &me)
			if me.ID != id || !me.IsBot || me.Username == "" || me.CanJoinGroups == nil {
				t.Errorf("getMe for %d: %s", id, r.Raw)
			}
		}
	})
	t.Run("method names are case-insensitive and GET works", func(t *testing.T) {
		status, body := get("/bot111:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/GETME")
		if status != 200 || !strings.Contains(body, `"is_bot":true`) {
			t.Errorf("got %d %s", status, body)
		}
	})
}

func TestAPI_ParametersInEveryEncoding(t *testing.T) {
	e := newEnv(t, Config{})
	e.userSays(t, map[string]any{"chat_id": 7, "text": "hi"})
	calls := []struct {
		name string
		do   func() apiResult
	}{
		{"JSON body", func() apiResult {
			return e.call(t, "sendMessage", map[string]any{"chat_id": 7, "text": "<b>x</b>", "parse_mode": "HTML"})
		}},
		{"JSON body with chat_id as a string", func() apiResult {
			return e.call(t, "sendMessage", map[string]any{"chat_id": "7", "text": "<b>x</b>", "parse_mode": "HTML"})
		}},
		{"urlencoded body", func() apiResult {
			return e.callForm(t, "sendMessage", url.Values{"chat_id": {"7"}, "text": {"<b>x</b>"}, "parse_mode": {"HTML"}})
		}},
		{"query string", func() apiResult {
			q := url.Values{"chat_id": {"7"}, "text": {"<b>x</b>"}, "parse_mode": {"HTML"}}
			req, _ := http.NewRequest(http.MethodGet, e.api.URL+"/bot"+e.token+"/sendMessage?"+q.Encode(), nil)
			return e.do(t, req)
		}},
		{"multipart fields", func() apiResult {
			return e.callMultipart(t, "sendMessage", url.Values{"chat_id": {"7"}, "text": {"<b>x</b>"}, "parse_mode": {"HTML"}})
		}},
		{"query string and body mixed", func() apiResult {
			req, _ := http.NewRequest(http.MethodPost, e.api.URL+"/bot"+e.token+"/sendMessage?chat_id=7",
				strings.NewReader(`{"text":"<b>x</b>","parse_mode":"HTML"}`))
			req.Header.Set("Content-Type", "application/json")
			return e.do(t, req)
		}},
		{"reply_parameters as a JSON string in a form", func() apiResult {
			return e.callForm(t, "sendMessage", url.Values{"chat_id": {"7"}, "text": {"<b>x</b>"}, "parse_mode": {"HTML"},
				"reply_parameters": {`{"message_id":1}`}})
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			r := c.do()
			var m Message
			if !r.OK {
				t.Fatalf("%s", r.Raw)
			}
			r.into(t, &m)
			if m.Text != "x" || len(m.Entities) != 1 || m.Entities[0].Type != "bold" || m.Chat.ID != 7 {
				t.Errorf("message %s", r.Result)
			}
		})
	}
}

func TestSendMessage(t *testing.T) {
	e := newEnv(t, Config{})
	first := e.userSays(t, map[string]any{"chat_id": 42, "text": "hello", "first_name": "Ann"})
	tests := []struct {
		name   string
		params map[string]any
		status int
		desc   string
	}{
		{"without chat_id", map[string]any{"text": "x"}, 400, "Bad Request: chat_id is empty"},
		{"to a chat that never wrote", map[string]any{"chat_id": 43, "text": "x"}, 400, "Bad Request: chat not found"},
		{"to a username", map[string]any{"chat_id": "@someone", "text": "x"}, 400, "Bad Request: chat not found"},
		{"without text", map[string]any{"chat_id": 42}, 400, "Bad Request: message text is empty"},
		{"with only white space", map[string]any{"chat_id": 42, "text": " \n "}, 400, "Bad Request: message text is empty"},
		{"with only empty markup", map[string]any{"chat_id": 42, "text": "<b></b>", "parse_mode": "HTML"}, 400, "Bad Request: message text is empty"},
		{"with broken HTML", map[string]any{"chat_id": 42, "text": "<b>x", "parse_mode": "HTML"}, 400,
			`Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`},
		{"with an unknown parse_mode", map[string]any{"chat_id": 42, "text": "x", "parse_mode": "BBCode"}, 400, "Bad Request: unsupported parse_mode"},
		{"replying to a missing message", map[string]any{"chat_id": 42, "text": "x", "reply_parameters": map[string]any{"message_id": 99}}, 400,
			"Bad Request: message to be replied not found"},
		{"with bad reply_parameters", map[string]any{"chat_id": 42, "text": "x", "reply_parameters": "nope"}, 400,
			"Bad Request: can't parse reply parameters JSON object"},
		{"with explicit entities out of bounds", map[string]any{"chat_id": 42, "text": "x",
			"entities": []map[string]any{{"type": "bold", "offset": 0, "length": 5}}}, 400,
			"Bad Request: can't parse entities: entity beginning at UTF-16 offset 0 is out of bounds"},
		{"plain", map[string]any{"chat_id": 42, "text": "plain"}, 200, ""},
		{"replying to the user's message", map[string]any{"chat_id": 42, "text": "re", "reply_parameters": map[string]any{"message_id": first.MessageID}}, 200, ""},
		{"replying to a missing message, allowed", map[string]any{"chat_id": 42, "text": "x",
			"reply_parameters": map[string]any{"message_id": 99, "allow_sending_without_reply": true}}, 200, ""},
		{"with link_preview_options", map[string]any{"chat_id": 42, "text": "see https://x.org",
			"link_preview_options": map[string]any{"is_disabled": true}}, 200, ""},
		{"with MarkdownV2 (taken as is)", map[string]any{"chat_id": 42, "text": "*b*", "parse_mode": "MarkdownV2"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, "sendMessage", tt.params)
			if r.Status != tt.status || r.Description != tt.desc {
				t.Fatalf("got %d %q, want %d %q", r.Status, r.Description, tt.status, tt.desc)
			}
			if tt.status != 200 && (r.OK || r.ErrorCode != tt.status) {
				t.Errorf("error answer %s", r.Raw)
			}
		})
	}

	t.Run("the message is realistic", func(t *testing.T) {
		r := e.call(t, "sendMessage", map[string]any{"chat_id": 42, "text": "<i>hi</i> /help", "parse_mode": "HTML",
			"reply_parameters": map[string]any{"message_id": first.MessageID}})
		var m Message
		r.into(t, &m)
		if m.From == nil || !m.From.IsBot || m.From.ID != 7000000001 || m.Chat.Type != "private" || m.Chat.FirstName != "Ann" || m.Date == 0 {
			t.Errorf("message %s", r.Result)
		}
		if m.ReplyToMessage == nil || m.ReplyToMessage.Text != "hello" || m.ReplyToMessage.From.IsBot {
			t.Errorf("reply_to_message %+v", m.ReplyToMessage)
		}
		if m.From.CanJoinGroups != nil {
			t.Errorf("a message's from carries getMe-only fields: %s", r.Result)
		}
	})
	t.Run("message ids increase per chat across both sides", func(t *testing.T) {
		e := newEnv(t, Config{})
		u1 := e.userSays(t, map[string]any{"chat_id": 1, "text": "a"})
		var ids []int64
		for range 2 {
			var m Message
			e.call(t, "sendMessage", map[string]any{"chat_id": 1, "text": "b"}).into(t, &m)
			ids = append(ids, m.MessageID)
		}
		u2 := e.userSays(t, map[string]any{"chat_id": 1, "text": "c"})
		other := e.userSays(t, map[string]any{"chat_id": 2, "text": "d"})
		if u1.MessageID != 1 || ids[0] != 2 || ids[1] != 3 || u2.MessageID != 4 || other.MessageID != 1 {
			t.Errorf("ids user %d, bot %v, user %d, other chat %d", u1.MessageID, ids, u2.MessageID, other.MessageID)
		}
	})
	t.Run("everything sent is recorded in order", func(t *testing.T) {
		list := e.sent(t, 42)
		var texts []string
		for _, s := range list {
			texts = append(texts, s.Text)
		}
		want := []string{"plain", "re", "x", "see https://x.org", "*b*", "<i>hi</i> /help"}
		if strings.Join(texts, "|") != strings.Join(want, "|") {
			t.Errorf("sent %q, want %q", texts, want)
		}
		last := list[len(list)-1]
		if last.Method != "sendMessage" || last.ParseMode != "HTML" || last.Plain != "hi /help" || last.ReplyToMessageID != first.MessageID {
			t.Errorf("last record %+v", last)
		}
	})
}

// pngImage is a w×h PNG.
func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 100, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSendPhotoAndDocument(t *testing.T) {
	e := newEnv(t, Config{MaxUploadBytes: 64 << 10, MaxPhotoBytes: 48 << 10})
	e.userSays(t, map[string]any{"chat_id": 5, "text": "hi"})
	form := url.Values{"chat_id": {"5"}}
	small := pngImage(t, 400, 200)

	t.Run("a photo is stored in sizes, largest last", func(t *testing.T) {
		f := url.Values{"chat_id": {"5"}, "caption": {"<b>look</b>"}, "parse_mode": {"HTML"}}
		r := e.callMultipart(t, "sendPhoto", f, part{"photo", "p.png", "image/png", small})
		var m Message
		if !r.OK {
			t.Fatal(r.Raw)
		}
		r.into(t, &m)
		if len(m.Photo) != 3 || m.Photo[0].Width != 90 || m.Photo[2].Width != 400 || m.Photo[2].Height != 200 {
			t.Fatalf("photo sizes %+v", m.Photo)
		}
		if m.Caption != "look" || len(m.CaptionEntities) != 1 {
			t.Errorf("caption %q %+v", m.Caption, m.CaptionEntities)
		}
		// The largest size can be fetched and is a JPEG of that size.
		data := e.download(t, m.Photo[2].FileID)
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || format != "jpeg" || cfg.Width != 400 {
			t.Errorf("downloaded photo: %v %s %d", err, format, cfg.Width)
		}
		// Sending it again by file_id reuses the sizes.
		var again Message
		e.call(t, "sendPhoto", map[string]any{"chat_id": 5, "photo": m.Photo[2].FileID}).into(t, &again)
		if len(again.Photo) != 3 || again.Photo[2].FileID != m.Photo[2].FileID {
			t.Errorf("resent photo %+v", again.Photo)
		}
	})
	t.Run("a document keeps its name and type and can be downloaded", func(t *testing.T) {
		data := []byte("line 1\nline 2\n")
		r := e.callMultipart(t, "sendDocument", url.Values{"chat_id": {"5"}, "caption": {"log"}}, part{"document", "app.log", "application/octet-stream", data})
		var m Message
		if !r.OK {
			t.Fatal(r.Raw)
		}
		r.into(t, &m)
		if m.Document == nil || m.Document.FileName != "app.log" || m.Document.FileSize != int64(len(data)) || m.Caption != "log" {
			t.Fatalf("document %s", r.Result)
		}
		if got := e.download(t, m.Document.FileID); !bytes.Equal(got, data) {
			t.Errorf("downloaded %q", got)
		}
		pdf := e.callMultipart(t, "sendDocument", form, part{"document", "r.pdf", "application/octet-stream", []byte("%PDF-1.4")})
		var pm Message
		pdf.into(t, &pm)
		if pm.Document.MimeType != "application/pdf" {
			t.Errorf("mime_type %q", pm.Document.MimeType)
		}
		last := e.sent(t, 5)
		if l := last[len(last)-1]; l.Method != "sendDocument" || l.FileName != "r.pdf" {
			t.Errorf("record %+v", l)
		}
	})
	tests := []struct {
		name   string
		method string
		form   url.Values
		files  []part
		status int
		desc   string
	}{
		{"a photo over the photo limit", "sendPhoto", form, []part{{"photo", "big.png", "image/png", make([]byte, 50<<10)}}, 413, "Request Entity Too Large"},
		{"a document over the upload limit", "sendDocument", form, []part{{"document", "big.bin", "application/octet-stream", make([]byte, 65<<10)}}, 413, "Request Entity Too Large"},
		{"a photo that is not an image", "sendPhoto", form, []part{{"photo", "x.png", "image/png", []byte("not an image")}}, 400, "Bad Request: IMAGE_PROCESS_FAILED"},
		{"a photo too narrow", "sendPhoto", form, []part{{"photo", "x.png", "image/png", pngImage(t, 210, 10)}}, 400, "Bad Request: PHOTO_INVALID_DIMENSIONS"},
		{"no photo", "sendPhoto", form, nil, 400, "Bad Request: there is no photo in the request"},
		{"no document", "sendDocument", form, nil, 400, "Bad Request: there is no document in the request"},
		{"an empty document", "sendDocument", form, []part{{"document", "e.txt", "text/plain", nil}}, 400, "Bad Request: file must be non-empty"},
		{"an unknown file_id", "sendDocument", url.Values{"chat_id": {"5"}, "document": {"nope"}}, nil, 400, "Bad Request: wrong file identifier/HTTP URL specified"},
		{"a caption over 1024", "sendDocument", url.Values{"chat_id": {"5"}, "caption": {strings.Repeat("c", 1025)}},
			[]part{{"document", "a.txt", "text/plain", []byte("a")}}, 400, "Bad Request: message caption is too long"},
		{"a caption of 1024", "sendDocument", url.Values{"chat_id": {"5"}, "caption": {strings.Repeat("c", 1024)}},
			[]part{{"document", "a.txt", "text/plain", []byte("a")}}, 200, ""},
		{"a photo by URL", "sendPhoto", url.Values{"chat_id": {"5"}, "photo": {"https://example.org/p.jpg"}}, nil, 400, "Bad Request: failed to get HTTP URL content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.callMultipart(t, tt.method, tt.form, tt.files...)
			if r.Status != tt.status || r.Description != tt.desc {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Description, tt.status, tt.desc)
			}
		})
	}
}

// download fetches a file by file_id the way a client does: getFile, then
// the file URL.
func (e *env) download(t *testing.T, fileID string) []byte {
	t.Helper()
	var f File
	r := e.call(t, "getFile", map[string]any{"file_id": fileID})
	if !r.OK {
		t.Fatalf("getFile: %s", r.Raw)
	}
	r.into(t, &f)
	resp, err := e.api.Client().Get(e.api.URL + "/file/bot" + e.token + "/" + f.FilePath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("download %s: %d %s", f.FilePath, resp.StatusCode, data)
	}
	if int64(len(data)) != f.FileSize {
		t.Errorf("downloaded %d bytes, getFile said %d", len(data), f.FileSize)
	}
	return data
}

func TestGetFile(t *testing.T) {
	e := newEnv(t, Config{MaxDownloadBytes: 1 << 20})
	small := e.userSays(t, map[string]any{"chat_id": 3, "text": "doc", "document": map[string]any{"file_name": "a.zip", "size": 3000}})
	big := e.userSays(t, map[string]any{"chat_id": 3, "document": map[string]any{"file_name": "b.iso", "size": 2 << 20}})
	_ = small
	_ = big
	// The user's files are in the updates; find them through the chat.
	var smallDoc, bigDoc *Document
	e.sim.mu.Lock()
	c := e.sim.bots[0].chats[3]
	smallDoc, bigDoc = c.messages[1].Document, c.messages[2].Document
	e.sim.mu.Unlock()

	if got := e.download(t, smallDoc.FileID); len(got) != 3000 {
		t.Errorf("downloaded %d bytes", len(got))
	}
	tests := []struct {
		name, fileID, desc string
	}{
		{"an unknown file_id", "AgACAgIAAxkBAAIfake", "Bad Request: invalid file_id"},
		{"an empty file_id", "", "Bad Request: file_id is empty"},
		{"a file over the download limit", bigDoc.FileID, "Bad Request: file is too big"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, "getFile", map[string]any{"file_id": tt.fileID})
			if r.Status != 400 || r.Description != tt.desc {
				t.Errorf("got %d %q", r.Status, r.Description)
			}
		})
	}
	t.Run("a file path of another token is unauthorized, an unknown path not found", func(t *testing.T) {
		resp, _ := e.api.Client().Get(e.api.URL + "/file/bot1:x/documents/file_1.zip")
		resp.Body.Close()
		resp2, _ := e.api.Client().Get(e.api.URL + "/file/bot" + e.token + "/documents/nope.zip")
		resp2.Body.Close()
		if resp.StatusCode != 401 || resp2.StatusCode != 404 {
			t.Errorf("got %d and %d", resp.StatusCode, resp2.StatusCode)
		}
	})
}

func TestSendChatActionAndCommands(t *testing.T) {
	e := newEnv(t, Config{})
	e.userSays(t, map[string]any{"chat_id": 9, "text": "/start"})
	tests := []struct {
		name   string
		method string
		params map[string]any
		status int
		desc   string
	}{
		{"typing", "sendChatAction", map[string]any{"chat_id": 9, "action": "typing"}, 200, ""},
		{"an unknown action", "sendChatAction", map[string]any{"chat_id": 9, "action": "dancing"}, 400, "Bad Request: wrong parameter action in request"},
		{"an action to an unknown chat", "sendChatAction", map[string]any{"chat_id": 10, "action": "typing"}, 400, "Bad Request: chat not found"},
		{"valid commands", "setMyCommands", map[string]any{"commands": []map[string]string{{"command": "start", "description": "Start"}, {"command": "help", "description": "Help"}}}, 200, ""},
		{"a command with capitals", "setMyCommands", map[string]any{"commands": []map[string]string{{"command": "Bad Cmd", "description": "x"}}}, 400, "Bad Request: BOT_COMMAND_INVALID"},
		{"a command without description", "setMyCommands", map[string]any{"commands": []map[string]string{{"command": "x", "description": ""}}}, 400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"},
		{"commands that are not JSON", "setMyCommands", map[string]any{"commands": "start"}, 400, "Bad Request: can't parse bot commands JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, tt.method, tt.params)
			if r.Status != tt.status || r.Description != tt.desc {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Description, tt.status, tt.desc)
			}
		})
	}
	t.Run("getMyCommands returns what was set", func(t *testing.T) {
		var cmds []BotCommand
		e.call(t, "getMyCommands", nil).into(t, &cmds)
		if len(cmds) != 2 || cmds[0].Command != "start" || cmds[1].Description != "Help" {
			t.Errorf("commands %+v", cmds)
		}
	})
	t.Run("a chat action is recorded", func(t *testing.T) {
		list := e.sent(t, 9)
		if len(list) != 1 || list[0].Method != "sendChatAction" || list[0].Action != "typing" {
			t.Errorf("sent %+v", list)
		}
	})
}

func TestGetUpdates(t *testing.T) {
	e := newEnv(t, Config{})
	a := e.userSays(t, map[string]any{"chat_id": 1, "text": "one"})
	e.userSays(t, map[string]any{"chat_id": 1, "text": "two"})
	if !a.Pending || a.Status != 0 {
		t.Errorf("without a webhook the update waits: %+v", a)
	}
	var ups []Update
	e.call(t, "getUpdates", map[string]any{"timeout": 0}).into(t, &ups)
	if len(ups) != 2 || ups[0].Message.Text != "one" || ups[1].UpdateID != ups[0].UpdateID+1 {
		t.Fatalf("updates %+v", ups)
	}
	e.call(t, "getUpdates", map[string]any{"offset": ups[1].UpdateID}).into(t, &ups)
	if len(ups) != 1 || ups[0].Message.Text != "two" {
		t.Errorf("after confirming the first: %+v", ups)
	}
	e.setHook(t, "s")
	r := e.call(t, "getUpdates", nil)
	if r.Status != 409 || !strings.HasPrefix(r.Description, "Conflict: can't use getUpdates method while webhook is active") {
		t.Errorf("getUpdates with a webhook: %s", r.Raw)
	}
	// The update left is delivered to the new webhook.
	if d := e.hook.next(t); d.update.Message == nil || d.update.Message.Text != "two" {
		t.Errorf("delivered %s", d.body)
	}
}
