package whatsapp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func TestAgentsFilesGoAsWhatTheyAreWithinMetasLimits(t *testing.T) {
	tests := []struct {
		name string
		mime string
		size int
		want string // the message's type and object
	}{
		{"jpeg as an image", "image/jpeg", 1000, `"image":{"id":"77"}`},
		{"png as an image", "image/png", MaxImage, `"image":{"id":"77"}`},
		{"an image over 5 MB as a document", "image/png", MaxImage + 1, `"document":{"filename":"f","id":"77"}`},
		{"webp as a document (stickers only)", "image/webp", 1000, `"document":{"filename":"f","id":"77"}`},
		{"ogg as audio (a voice message)", "audio/ogg; codecs=opus", 1000, `"audio":{"id":"77"}`},
		{"mp3 as audio", "audio/mpeg", 1000, `"audio":{"id":"77"}`},
		{"wav as a document", "audio/wav", 1000, `"document":{"filename":"f","id":"77"}`},
		{"mp4 as a video", "video/mp4", 1000, `"video":{"id":"77"}`},
		{"a video over 16 MB as a document", "video/mp4", MaxVideo + 1, `"document":{"filename":"f","id":"77"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := sdktest.NewEnv()
			s := setup(env)
			env.HTTP.Handler = func(r *abi.Request) (*abi.Response, error) {
				if strings.HasSuffix(r.URL, "/media") {
					return &abi.Response{Status: 200, Body: []byte(`{"id":"77"}`)}, nil
				}
				return &abi.Response{Status: 200, Body: []byte(graphReply)}, nil
			}
			if err := New(env.Env, s).SendFile(annaWaID, channel.File{Name: "f", MIME: tt.mime, Data: make([]byte, tt.size)}); err != nil {
				t.Fatal(err)
			}
			reqs := env.HTTP.Requests()
			typ := tt.want[1 : strings.Index(tt.want[1:], `"`)+1]
			if body := string(reqs[len(reqs)-1].Body); !strings.Contains(body, tt.want) || !strings.Contains(body, `"type":"`+typ+`"`) {
				t.Errorf("message %s, want %s", body, tt.want)
			}
		})
	}
}

func TestRevokesAndReactionsNameTheMessageTheyConcern(t *testing.T) {
	revoke := map[string]any{"from": annaWaID, "id": "wamid.REV", "timestamp": "1700000003", "type": "revoke",
		"revoke": map[string]any{"original_message_id": "wamid.ORIG"}}
	unreact := map[string]any{"from": annaWaID, "id": "wamid.UNR", "timestamp": "1700000004", "type": "reaction",
		"reaction": map[string]any{"message_id": "wamid.SIM1=="}}
	empty := map[string]any{"from": annaWaID, "id": "wamid.E", "timestamp": "1700000005", "type": "revoke"}
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{
		map[string]any{"id": wabaID, "changes": []any{change(phoneID, revoke, unreact, empty)}}}})
	evs, err := Parse(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("events %+v, want 2", evs)
	}
	if evs[0].Kind != channel.Deleted || evs[0].MessageID != "wamid.ORIG" || evs[0].ChatID != annaWaID || evs[0].ID != EventID("wamid.REV") {
		t.Errorf("revoke: %+v", evs[0])
	}
	if evs[1].Kind != channel.Reaction || evs[1].Reaction != "" || evs[1].MessageID != "wamid.SIM1==" {
		t.Errorf("reaction taken back: %+v", evs[1])
	}
}
