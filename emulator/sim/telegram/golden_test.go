package telegram

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/sim")

// golden compares JSON with testdata/sim/telegram/<name>.json (indented).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("%s is not JSON: %s", name, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("..", "..", "..", "testdata", "sim", "telegram", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from %s (run with -update if the change is intended):\n%s", name, path, buf.Bytes())
	}
}

func TestGolden_WireShapes(t *testing.T) {
	clk := newClock()
	e := newEnv(t, Config{Now: clk.Now})
	e.setHook(t, "secret")
	e.userSays(t, map[string]any{"chat_id": 5123456789, "text": "/start ref-42", "first_name": "Anna", "last_name": "Schmidt", "username": "anna_s", "language_code": "de"})
	golden(t, "update_start", e.hook.next(t).body)

	r := e.call(t, "sendMessage", map[string]any{"chat_id": 5123456789, "parse_mode": "HTML",
		"text": "Hi <b>Anna</b>, see <a href=\"https://example.com/faq\">the FAQ</a>.", "reply_parameters": map[string]any{"message_id": 1}})
	golden(t, "sendMessage", []byte(r.Raw))

	clk.Add(60e9)
	e.userSays(t, map[string]any{"chat_id": 5123456789, "text": "the invoice", "document": map[string]any{"file_name": "invoice.pdf", "size": 48213}, "reply_to_message_id": 2})
	golden(t, "update_document_reply", e.hook.next(t).body)

	e.userSays(t, map[string]any{"chat_id": 5123456789, "text": "/start ref-43", "edit_of": 1})
	golden(t, "update_edited", e.hook.next(t).body)

	e.control(t, http.MethodPost, "/_sim/telegram/block", map[string]any{"chat_id": 5123456789})
	golden(t, "update_my_chat_member_kicked", e.hook.next(t).body)

	golden(t, "error_403_blocked", []byte(e.call(t, "sendMessage", map[string]any{"chat_id": 5123456789, "text": "x"}).Raw))
	golden(t, "getMe", []byte(e.call(t, "getMe", nil).Raw))
	golden(t, "getWebhookInfo", []byte(e.call(t, "getWebhookInfo", nil).Raw))
	e.control(t, http.MethodPost, "/_sim/fail", map[string]any{"service": "telegram", "match": "getMe", "status": 429, "retry_after": 17})
	golden(t, "error_429", []byte(e.call(t, "getMe", nil).Raw))
}
