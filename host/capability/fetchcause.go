package capability

import (
	"errors"
	"net/url"
	"strings"
)

// maxLogCause bounds the cause of a failed outbound request in the log.
const maxLogCause = 300

// fetchCause says why an outbound request to u failed, for the log line
// behind the module's "unavailable": the transport's own error (refused
// connection, unknown host, certificate, proxy) without the URL, whose path
// and query may hold a secret (a Telegram bot token is in the path). What
// is left is redacted of every secret the call used, then escaped and
// bounded like every value from outside.
func fetchCause(c *Call, u *url.URL, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	s := err.Error()
	for _, whole := range []string{u.String(), u.RequestURI(), u.EscapedPath(), u.Path, u.RawQuery} {
		if len(whole) > 1 {
			s = strings.ReplaceAll(s, whole, "[url]")
		}
	}
	return escapeLog(c.redact(s), maxLogCause)
}
