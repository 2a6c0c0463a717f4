package sdk

import (
	"context"
	"log/slog"
	"slices"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// logHandler is a slog.Handler that hands each record to a logWriter; the
// host adds time, installation and invocation.
type logHandler struct {
	write  func(level int32, msg string, attrs []abi.Header)
	attrs  []abi.Header
	prefix string // group prefix, "a.b."
}

// NewLogger returns a logger that hands each record to w: the wasm build
// passes the log.write import, sdktest a recorder, so attributes are
// flattened the same way everywhere ("group.key").
func NewLogger(w func(level int32, msg string, attrs []abi.Header)) *slog.Logger {
	return slog.New(&logHandler{write: w})
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := slices.Clip(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		attrs = appendAttr(attrs, h.prefix, a)
		return true
	})
	h.write(levelOf(r.Level), r.Message, attrs)
	return nil
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = slices.Clip(h.attrs)
	for _, a := range as {
		n.attrs = appendAttr(n.attrs, h.prefix, a)
	}
	return &n
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix = h.prefix + name + "."
	return &n
}

func appendAttr(dst []abi.Header, prefix string, a slog.Attr) []abi.Header {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			dst = appendAttr(dst, p, g)
		}
		return dst
	}
	if a.Key == "" {
		return dst
	}
	return append(dst, abi.Header{Name: prefix + a.Key, Value: a.Value.String()})
}

func levelOf(l slog.Level) int32 {
	switch {
	case l >= slog.LevelError:
		return abi.LevelError
	case l >= slog.LevelWarn:
		return abi.LevelWarn
	case l >= slog.LevelInfo:
		return abi.LevelInfo
	}
	return abi.LevelDebug
}
