package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// fasthttpLogger receives fasthttp's own error logs. It never formats the
// arguments: they may hold remote addresses and, in some error texts,
// pieces of the request. It counts the error by class and logs which
// message it was and the class, at most logsPerSecond times a second, so
// that a flood of bad requests cannot flood the log.
type fasthttpLogger struct {
	l      *slog.Logger
	m      *metrics
	second atomic.Int64 // unix second of the current window
	count  atomic.Int64 // logs in that window
}

const logsPerSecond = 10

func (f *fasthttpLogger) Printf(format string, args ...any) {
	class := "other"
	for _, a := range args {
		if err, ok := a.(error); ok {
			class = errorClass(err)
		}
	}
	f.m.connErrors[connErrorIndex(class)].Add(1)
	if now := time.Now().Unix(); f.second.Swap(now) != now {
		f.count.Store(0)
	}
	if f.count.Add(1) > logsPerSecond || !f.l.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	event := format
	if i := strings.IndexAny(event, "%:"); i > 0 {
		event = strings.TrimSpace(event[:i])
	}
	f.l.Warn("proxy: fasthttp", "event", event, "error_class", class)
}

// Error classes, as the metric labels them.
var connErrorLabels = [...]string{"other", "body_too_large", "header_too_large", "timeout", "tls", "connection_closed", "framing", "parse"}

func connErrorIndex(class string) int {
	for i, l := range connErrorLabels {
		if l == class {
			return i
		}
	}
	return 0
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
