package telegram

import (
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

func TestAgentsSoundAndVideoLeaveAsVoiceAndVideoAndFallBackToADocument(t *testing.T) {
	tests := []struct {
		name    string
		mime    string
		refusal string // sendVoice's answer, "" for success
		want    []string
	}{
		{"ogg as voice", "audio/ogg", "", []string{"sendVoice"}},
		{"ogg with codec parameter as voice", "audio/ogg; codecs=opus", "", []string{"sendVoice"}},
		{"mp3 as voice", "audio/mpeg", "", []string{"sendVoice"}},
		{"m4a as voice", "audio/mp4", "", []string{"sendVoice"}},
		{"wav as a document", "audio/wav", "", []string{"sendDocument"}},
		{"mp4 as a video", "video/mp4", "", []string{"sendVideo"}},
		{"a video Telegram cannot play as a document", "video/mp4",
			`{"ok":false,"error_code":400,"description":"Bad Request: wrong file type"}`, []string{"sendVideo", "sendDocument"}},
		{"a user who forbids voice messages gets a document", "audio/ogg",
			`{"ok":false,"error_code":400,"description":"Bad Request: VOICE_MESSAGES_FORBIDDEN"}`, []string{"sendVoice", "sendDocument"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBot(t)
			if tt.refusal != "" {
				f.replies[tt.want[0]] = []string{tt.refusal}
			}
			if err := f.channel().SendFile("42", channel.File{Name: "note.ogg", MIME: tt.mime, Data: []byte("OggS")}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range f.env.HTTP.Requests() {
				got = append(got, r.URL[strings.LastIndex(r.URL, "/")+1:])
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("methods %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReactionsOfPrivateChatsBecomeReactionEvents(t *testing.T) {
	tests := []struct {
		name   string
		update string
		want   *channel.Inbound
	}{
		{"an emoji", `{"update_id":9,"message_reaction":{"chat":{"id":42,"type":"private"},"message_id":7,"user":{"id":42,"is_bot":false,"first_name":"Ann","language_code":"de"},"date":1,"old_reaction":[],"new_reaction":[{"type":"emoji","emoji":"👍"}]}}`,
			&channel.Inbound{ID: "9", Kind: channel.Reaction, ChatID: "42", MessageID: "7", Sender: "Ann", Lang: "de", Reaction: "👍"}},
		{"taken back", `{"update_id":10,"message_reaction":{"chat":{"id":42,"type":"private"},"message_id":7,"user":{"id":42,"is_bot":false,"first_name":"Ann"},"date":1,"old_reaction":[{"type":"emoji","emoji":"👍"}],"new_reaction":[]}}`,
			&channel.Inbound{ID: "10", Kind: channel.Reaction, ChatID: "42", MessageID: "7", Sender: "Ann"}},
		{"a custom emoji", `{"update_id":11,"message_reaction":{"chat":{"id":42,"type":"private"},"message_id":7,"user":{"id":42,"is_bot":false,"first_name":"Ann"},"date":1,"old_reaction":[],"new_reaction":[{"type":"custom_emoji","custom_emoji_id":"5368324170671202286"}]}}`,
			&channel.Inbound{ID: "11", Kind: channel.Reaction, ChatID: "42", MessageID: "7", Sender: "Ann", Reaction: "(custom emoji)"}},
		{"a paid star before an emoji", `{"update_id":12,"message_reaction":{"chat":{"id":42,"type":"private"},"message_id":7,"user":{"id":42,"is_bot":false,"first_name":"Ann"},"date":1,"old_reaction":[],"new_reaction":[{"type":"paid"},{"type":"emoji","emoji":"🔥"}]}}`,
			&channel.Inbound{ID: "12", Kind: channel.Reaction, ChatID: "42", MessageID: "7", Sender: "Ann", Reaction: "🔥"}},
		{"a group's reaction is left out", `{"update_id":13,"message_reaction":{"chat":{"id":-100,"type":"supergroup","title":"x"},"message_id":7,"user":{"id":42,"is_bot":false,"first_name":"Ann"},"date":1,"old_reaction":[],"new_reaction":[{"type":"emoji","emoji":"👍"}]}}`, nil},
		{"an anonymous reaction is left out", `{"update_id":14,"message_reaction":{"chat":{"id":42,"type":"private"},"message_id":7,"actor_chat":{"id":42,"type":"private"},"date":1,"old_reaction":[],"new_reaction":[{"type":"emoji","emoji":"👍"}]}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := ParseUpdate([]byte(tt.update))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if len(evs) != 0 {
					t.Errorf("events %+v, want none", evs)
				}
				return
			}
			if len(evs) != 1 || evs[0].ID != tt.want.ID || evs[0].Kind != tt.want.Kind || evs[0].ChatID != tt.want.ChatID ||
				evs[0].MessageID != tt.want.MessageID || evs[0].Sender != tt.want.Sender || evs[0].Lang != tt.want.Lang || evs[0].Reaction != tt.want.Reaction {
				t.Errorf("events %+v, want %+v", evs, *tt.want)
			}
		})
	}
}

func TestLocationsVenuesAndContactsArriveAsText(t *testing.T) {
	tests := []struct{ name, message, want string }{
		{"location as a map link", `"location":{"latitude":48.858370,"longitude":2.294481}`,
			"Location: https://www.openstreetmap.org/?mlat=48.858370&mlon=2.294481#map=17/48.858370/2.294481"},
		{"venue with its name and address", `"location":{"latitude":48.85837,"longitude":2.294481},"venue":{"location":{"latitude":48.85837,"longitude":2.294481},"title":"Eiffel Tower","address":"Champ de Mars"}`,
			"Location: Eiffel Tower Champ de Mars https://www.openstreetmap.org/?mlat=48.858370&mlon=2.294481#map=17/48.858370/2.294481"},
		{"contact with name and phone", `"contact":{"phone_number":"+49 30 1234","first_name":"Max","last_name":"Muster"}`, "Contact: Max Muster +49 30 1234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := ParseUpdate([]byte(`{"update_id":5,"message":{"message_id":3,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":42,"type":"private"},"date":1,` + tt.message + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].Plain != tt.want {
				t.Errorf("events %+v, want text %q", evs, tt.want)
			}
		})
	}
}

func TestEditsCarryTheNewTextButNeitherTheFileAgainNorALiveLocation(t *testing.T) {
	caption, err := ParseUpdate([]byte(`{"update_id":20,"edited_message":{"message_id":3,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":42,"type":"private"},"date":1,"edit_date":2,"photo":[{"file_id":"p1","file_unique_id":"u1","width":90,"height":90,"file_size":900}],"caption":"the right label"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(caption) != 1 || !caption[0].Edited || caption[0].Plain != "the right label" || len(caption[0].Attachments) != 0 {
		t.Errorf("caption edit: %+v", caption)
	}
	live, err := ParseUpdate([]byte(`{"update_id":21,"edited_message":{"message_id":4,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":42,"type":"private"},"date":1,"edit_date":3,"location":{"latitude":1.5,"longitude":2.5,"live_period":900}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 0 {
		t.Errorf("a live location's move gave events %+v", live)
	}
}
