package telegram

import (
	"encoding/json"
	"net/http"
	"testing"
)

// A call of a method the Bot API lacks is answered 404 and counted, so the
// end-to-end tests can hold the bridge's calls to the specification.
func TestStats_CountCallsOfMethodsTheBotAPILacks(t *testing.T) {
	e := newEnv(t, Config{})
	if r := e.call(t, "sendCarrierPigeon", map[string]any{"chat_id": 1}); r.OK || r.ErrorCode != 404 {
		t.Fatalf("unknown method answered %+v", r)
	}
	e.call(t, "getMe", nil)
	st, body := e.control(t, http.MethodGet, "/_sim/telegram/stats", nil)
	var s stats
	if err := json.Unmarshal(body, &s); st != http.StatusOK || err != nil {
		t.Fatalf("stats: %d %v", st, err)
	}
	if s.Refused["sendCarrierPigeon"] != 1 || len(s.Refused) != 1 {
		t.Fatalf("refused %v, want the one unknown call", s.Refused)
	}
	if s.Requests["getMe"] != 1 {
		t.Fatalf("requests %v", s.Requests)
	}
}
