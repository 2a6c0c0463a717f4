package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/valyala/fasthttp"
)

// fasthttpLogger receives fasthttp's own error logs. It never formats the
// arguments: they may hold remote addresses and, in some error texts,
// pieces of the request. It logs which message it was and a coarse class
// of the error instead.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	if !f.l.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	event := format
	if i := strings.IndexAny(event, "%:"); i > 0 {
		event = strings.TrimSpace(event[:i])
	}
	class := ""
	for _, a := range args {
		if err, ok := a.(error); ok {
			class = errorClass(err)
		}
	}
	f.l.Warn("proxy: fasthttp", "event", event, "error_class", class)
}

// errorClass names what kind of error err is without quoting it.
func errorClass(err error) string {
	var (
		small *fasthttp.ErrSmallBuffer
		ne    net.Error
		rh    tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "body_too_large"
	case errors.As(err, &small), errors.Is(err, fasthttp.ErrSmallReadBuffer):
		return "header_too_large"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &rh), strings.HasPrefix(err.Error(), "tls:"):
		return "tls"
	case errors.Is(err, net.ErrClosed), strings.Contains(err.Error(), "connection reset"),
		strings.Contains(err.Error(), "broken pipe"):
		return "connection_closed"
	case errors.Is(err, fasthttp.ErrDuplicateContentLength),
		errors.Is(err, fasthttp.ErrUnsupportedTransferEncoding):
		return "framing"
	default:
		return "parse"
	}
}
