package capability

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// What a module's log record may put into the host's log (SECURITY.md,
// "Logs"): its message and attribute values escaped (escapeLog) and
// bounded, attribute names of a fixed alphabet, sensitive names and every
// secret value the call used redacted. The host cannot tell an issue key
// from a status word: that the bridge logs neither issue keys nor chat ids
// is the bridge's promise, checked end to end.
const (
	// maxLogAttrs bounds one record's attributes.
	maxLogAttrs = 32
	// maxLogValue bounds one attribute value, escaped, in bytes.
	maxLogValue = 256
	// maxLogName bounds an attribute name.
	maxLogName = 48
	// maxLogHost bounds a host name the host logs, escaped (a DNS name has
	// at most 253 bytes).
	maxLogHost = 253
)

// sensitive attribute names are redacted whatever their value.
var sensitive = []string{"token", "secret", "password", "authorization", "cookie", "chat_id", "chatid", "text", "body"}

// registerLog provides chatbridge:plugin/log.
func (h *host) registerLog(b wazero.HostModuleBuilder) {
	i32 := api.ValueTypeI32
	// write(level: s32, message-ptr, message-len, attrs-ptr, attrs-len: u32)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, s []uint64) {
		h.logWrite(ctx, m, int32(u32(s[0])), u32(s[1]), u32(s[2]), u32(s[3]), u32(s[4]))
	}), []api.ValueType{i32, i32, i32, i32, i32}, nil).Export(abi.FuncLogWrite)
}

func (h *host) logWrite(ctx context.Context, m api.Module, level int32, mp, mn, ap, an uint32) {
	c := callOf(ctx)
	if !h.policy.HasCapability(abi.CapabilityLog) {
		return
	}
	if mn > uint32(h.limits.LogMessageBytes) {
		mn = uint32(h.limits.LogMessageBytes)
	}
	msg := escapeLog(c.redact(readString(m, mp, mn)), h.limits.LogMessageBytes)
	var attrs []any
	if an > 0 && an <= 64<<10 {
		if hs, err := abi.DecodeHeaders(read(m, ap, an)); err == nil {
			dropped := 0
			for i, kv := range hs {
				if i == maxLogAttrs {
					dropped += len(hs) - i
					break
				}
				if !validLogName(kv.Name) {
					dropped++
					continue
				}
				v := "[redacted]"
				if !isSensitive(kv.Name) {
					v = escapeLog(c.redact(kv.Value), maxLogValue)
				}
				attrs = append(attrs, slog.String("plugin."+kv.Name, v))
			}
			if dropped > 0 {
				attrs = append(attrs, slog.Int("plugin_attrs_dropped", dropped))
			}
		}
	}
	var l slog.Level
	switch level {
	case abi.LevelDebug:
		l = slog.LevelDebug
	case abi.LevelWarn:
		l = slog.LevelWarn
	case abi.LevelError:
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	c.Log.Log(ctx, l, msg, attrs...)
}

// validLogName reports whether name is a letter followed by letters,
// digits, '_' and '.' (slog groups), at most maxLogName bytes.
func validLogName(name string) bool {
	if name == "" || len(name) > maxLogName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func isSensitive(name string) bool {
	n := strings.ToLower(name)
	for _, s := range sensitive {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// redact replaces every secret value the call has used with a marker.
func (c *Call) redact(s string) string {
	for _, v := range c.used {
		if len(v) >= 4 && strings.Contains(s, string(v)) {
			s = string(bytes.ReplaceAll([]byte(s), v, []byte("[secret]")))
		}
	}
	return s
}

// escapeLog makes s safe to quote in any log format and at most max bytes:
// a character that is not graphic (control characters, line breaks,
// bidirectional overrides and other format characters), a backslash and an
// invalid byte are written as Go escapes (\n, \x1b, \u202e), so that a value
// from outside can neither forge a line nor hide text on a terminal. A
// longer result is cut at a character and ends in "…".
func escapeLog(s string, max int) string {
	const more = "…"
	var b strings.Builder
	cut := 0 // b.Len() at the last piece that leaves room for more
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && n == 1:
			piece = `\x` + strconv.FormatUint(uint64(s[i])|0x100, 16)[1:]
		case r == '\\':
			piece = `\\`
		case r == ' ' || unicode.IsGraphic(r) && !unicode.Is(unicode.Cf, r):
			piece = s[i : i+n]
		default:
			q := strconv.QuoteRuneToASCII(r) // 'x', with escapes
			piece = q[1 : len(q)-1]
		}
		if b.Len()+len(piece) > max {
			return b.String()[:cut] + more
		}
		b.WriteString(piece)
		if b.Len() <= max-len(more) {
			cut = b.Len()
		}
		i += n
	}
	return b.String()
}
