package capability

import (
	"time"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// Event is one thing an invocation did, reported to Deps.Trace (and, for the
// invocation itself, by the host). It never holds a value, a token or a
// message text; Key holds a storage key or a queue name, so a Trace
// subscriber that shows it belongs in development tools only.
type Event struct {
	Time         time.Time     `json:"time"`
	Installation string        `json:"installation"`
	Invocation   string        `json:"invocation"`
	Kind         string        `json:"kind"` // "invocation", "storage", "fetch", "jira", "queue", "realtime"
	Op           string        `json:"op"`   // the export or trigger; "get", "set", ...; the HTTP method; "push"
	Key          string        `json:"key,omitempty"`
	Host         string        `json:"host,omitempty"`   // fetch and jira: the host name, never the path
	Status       int           `json:"status,omitempty"` // fetch and jira: the HTTP status
	Outcome      string        `json:"outcome"`          // "ok" or the error code
	Duration     time.Duration `json:"duration"`
}

// trace reports an event of the call c to Deps.Trace, when set.
func (h *host) trace(c *Call, ev Event) {
	if h.deps.Trace == nil {
		return
	}
	ev.Installation, ev.Invocation = c.Installation, c.InvocationID
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	h.deps.Trace(ev)
}

// outcome names a result code as an Event shows it.
func outcome(code abi.Code) string {
	if code == abi.OK {
		return "ok"
	}
	return code.String()
}
