package capability

import (
	"bytes"
	"context"
	"log/slog"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// maxLogAttrs bounds one record's attributes.
const maxLogAttrs = 32

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
	msg := c.redact(readString(m, mp, mn))
	var attrs []any
	if an > 0 && an <= 64<<10 {
		if hs, err := abi.DecodeHeaders(read(m, ap, an)); err == nil {
			for i, kv := range hs {
				if i == maxLogAttrs {
					break
				}
				v := kv.Value
				if isSensitive(kv.Name) {
					v = "[redacted]"
				}
				attrs = append(attrs, slog.String("plugin."+kv.Name, c.redact(v)))
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
