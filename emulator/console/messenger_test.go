package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/telegram"
	"github.com/chatbridge/chatbridge/emulator/sim/viber"
	"github.com/chatbridge/chatbridge/emulator/sim/whatsapp"
)

// The messenger pane switches the project to a simulator's bot with that
// simulator's default token: the page must carry the tokens the simulators
// really accept, and offer all three messengers.
func TestMessengerPaneSpeaksEverySimulatedMessenger(t *testing.T) {
	get := func(path string) string {
		rec := httptest.NewRecorder()
		New().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		return rec.Body.String()
	}
	js := get("/console/console.js")
	for name, token := range map[string]string{
		"telegram": telegram.DefaultToken,
		"viber":    viber.DefaultToken,
		"whatsapp": whatsapp.DefaultPhoneID + ":" + whatsapp.DefaultAccountID + ":" + whatsapp.DefaultAppSecret + ":" + whatsapp.DefaultAccessToken,
	} {
		if !strings.Contains(js, "'"+token+"'") {
			t.Errorf("console.js lacks the %s simulator's token", name)
		}
		if !strings.Contains(js, "/_sim/"+name+"/sent") {
			t.Errorf("console.js does not read what the %s bot sent", name)
		}
	}
	// Voice messages and videos the bot sends show as what they are.
	for _, shown := range []string{"m.method === 'sendVoice'", "m.type === 'audio'", "m.type === 'video'"} {
		if !strings.Contains(js, shown) {
			t.Errorf("console.js does not show %s", shown)
		}
	}
	page := get("/")
	if !strings.Contains(page, `name="relayReactions"`) || !strings.Contains(js, "relayReactions: f.elements.relayReactions.checked") {
		t.Error("the settings form does not offer the reactions setting")
	}
	for _, opt := range []string{`<option value="telegram">`, `<option value="viber">`, `<option value="whatsapp">`} {
		if !strings.Contains(page, opt) {
			t.Errorf("the channel select lacks %s", opt)
		}
	}
	if strings.Contains(page, "not in this pane yet") {
		t.Error("the page still says Viber and WhatsApp are not in the pane")
	}
}
