package viber

import (
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// Viber's user events may come without a message_token (its SDK reads none
// on subscribed and unsubscribed), and a sticker may be named by its id
// alone; all are events, not malformed callbacks (issue 16, finding 6).
func TestUserEventsWithoutTokenAndStickersByID(t *testing.T) {
	tests := []struct {
		name, body string
		kind       channel.Kind
		command    string
		plain      string
	}{
		{"subscribed", `{"event":"subscribed","timestamp":1457764197627,"user":{"id":"01234567890A=","name":"Anna"},"api_version":1}`, channel.Unblocked, "", ""},
		{"unsubscribed", `{"event":"unsubscribed","timestamp":1457764197627,"user_id":"01234567890A="}`, channel.Blocked, "", ""},
		{"conversation_started", `{"event":"conversation_started","timestamp":1457764197627,"type":"open","user":{"id":"01234567890A=","name":"Anna"},"subscribed":false}`, channel.Message, channel.CommandStart, ""},
		{"sticker by id", `{"event":"message","timestamp":1457764197627,"message_token":4912661846655238145,"sender":{"id":"01234567890A=","name":"Anna"},"message":{"type":"sticker","sticker_id":46105}}`, channel.Message, "", "(sticker 46105)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := Parse([]byte(tt.body))
			if err != nil || len(evs) != 1 {
				t.Fatalf("%+v %v", evs, err)
			}
			ev := evs[0]
			if ev.Kind != tt.kind || ev.Command != tt.command || ev.Plain != tt.plain || ev.ChatID != "01234567890A." || ev.ID == "" {
				t.Errorf("%+v", ev)
			}
			again, _ := Parse([]byte(tt.body))
			if again[0].ID != ev.ID {
				t.Errorf("a redelivery got another id: %q %q", again[0].ID, ev.ID)
			}
		})
	}
	a, _ := Parse([]byte(`{"event":"subscribed","timestamp":1,"user":{"id":"01234567890A="}}`))
	b, _ := Parse([]byte(`{"event":"subscribed","timestamp":2,"user":{"id":"01234567890A="}}`))
	if a[0].ID == b[0].ID {
		t.Error("two subscriptions at different times share an id")
	}
	if _, err := Parse([]byte(`{"event":"subscribed","timestamp":1}`)); err == nil {
		t.Error("a subscription without a user was accepted")
	}
}
