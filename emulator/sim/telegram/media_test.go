package telegram

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// oggOpus is the start of an OGG/Opus file: the page header and OpusHead.
var oggOpus = append([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead\x01\x01"), make([]byte, 64)...)

func TestSendVoice_PlaysOGGOpusMP3AndM4AAndRefusesOtherFormats(t *testing.T) {
	e := newEnv(t, Config{})
	e.setHook(t, "s")
	e.userSays(t, map[string]any{"chat_id": 42, "text": "hi"})
	e.hook.next(t)
	form := url.Values{"chat_id": {"42"}}
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"ogg opus", oggOpus, true},
		{"mp3 with an ID3 tag", append([]byte("ID3\x04\x00\x00"), make([]byte, 32)...), true},
		{"m4a", append([]byte("\x00\x00\x00\x20ftypM4A "), make([]byte, 32)...), true},
		{"ogg vorbis", append([]byte("OggS\x00\x02"), append(make([]byte, 22), []byte("\x01vorbis")...)...), false},
		{"wav", append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 32)...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.callMultipart(t, "sendVoice", form, part{"voice", "note.bin", "application/octet-stream", tt.data})
			if r.OK != tt.ok || !tt.ok && (r.ErrorCode != 400 || !strings.Contains(r.Description, "OGG encoded with OPUS")) {
				t.Fatalf("answer %s", r.Raw)
			}
			if tt.ok {
				var m Message
				r.into(t, &m)
				if m.Voice == nil || m.Voice.FileSize != int64(len(tt.data)) || m.Document != nil {
					t.Errorf("message %s", r.Raw)
				}
			}
		})
	}
	if s := e.sent(t, 42); len(s) != 3 || s[0].Method != "sendVoice" {
		t.Errorf("sent %+v, want the three voice messages", s)
	}
}

func TestSendVideo_PlaysMPEG4AndRefusesOtherFormats(t *testing.T) {
	e := newEnv(t, Config{})
	e.setHook(t, "s")
	e.userSays(t, map[string]any{"chat_id": 42, "text": "hi"})
	mp4 := append([]byte("\x00\x00\x00\x18ftypmp42"), make([]byte, 64)...)
	r := e.callMultipart(t, "sendVideo", url.Values{"chat_id": {"42"}, "duration": {"3"}}, part{"video", "clip.mp4", "video/mp4", mp4})
	var m Message
	if !r.OK {
		t.Fatalf("mp4 refused: %s", r.Raw)
	}
	r.into(t, &m)
	if m.Video == nil || m.Video.Duration != 3 || m.Video.FileSize != int64(len(mp4)) {
		t.Errorf("message %s", r.Raw)
	}
	webm := append([]byte("\x1a\x45\xdf\xa3"), make([]byte, 64)...)
	if r := e.callMultipart(t, "sendVideo", url.Values{"chat_id": {"42"}}, part{"video", "clip.webm", "video/webm", webm}); r.OK || r.ErrorCode != 400 {
		t.Errorf("webm answered %s", r.Raw)
	}
}

func TestSendVoice_RefusedToAUserWhoForbidsVoiceMessages(t *testing.T) {
	e := newEnv(t, Config{})
	e.setHook(t, "s")
	e.userSays(t, map[string]any{"chat_id": 42, "text": "hi"})
	if code, out := e.control(t, http.MethodPost, "/_sim/telegram/forbid-voice", map[string]any{"chat_id": 42, "forbid": true}); code != http.StatusOK {
		t.Fatalf("forbid-voice: %d %s", code, out)
	}
	r := e.callMultipart(t, "sendVoice", url.Values{"chat_id": {"42"}}, part{"voice", "n.ogg", "audio/ogg", oggOpus})
	if r.OK || r.ErrorCode != 400 || r.Description != "Bad Request: VOICE_MESSAGES_FORBIDDEN" {
		t.Fatalf("answer %s", r.Raw)
	}
}

func TestUserMedia_VoiceVideoNoteLocationContactAndStickerAsTheBotAPIShapesThem(t *testing.T) {
	e := newEnv(t, Config{})
	e.setHook(t, "s")
	tests := []struct {
		name  string
		body  map[string]any
		check func(m *Message) bool
	}{
		{"voice", map[string]any{"voice": map[string]any{"duration": 3}}, func(m *Message) bool {
			return m.Voice != nil && m.Voice.Duration == 3 && m.Voice.MimeType == "audio/ogg" && m.Voice.FileID != ""
		}},
		{"video note", map[string]any{"video_note": map[string]any{"duration": 5}}, func(m *Message) bool {
			return m.VideoNote != nil && m.VideoNote.Length > 0 && m.VideoNote.FileID != ""
		}},
		{"location", map[string]any{"location": map[string]any{"latitude": 52.52, "longitude": 13.405}}, func(m *Message) bool {
			return m.Location != nil && m.Location.Latitude == 52.52 && m.Text == ""
		}},
		{"contact", map[string]any{"contact": map[string]any{"phone_number": "+4930123", "first_name": "Max"}}, func(m *Message) bool {
			return m.Contact != nil && m.Contact.PhoneNumber == "+4930123"
		}},
		{"sticker", map[string]any{"sticker": map[string]any{"emoji": "😀"}}, func(m *Message) bool {
			return m.Sticker != nil && m.Sticker.Type == "regular" && m.Sticker.Emoji == "😀" && !m.Sticker.IsAnimated
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.body["chat_id"] = 42
			e.userSays(t, tt.body)
			d := e.hook.next(t)
			if d.update.Message == nil || !tt.check(d.update.Message) {
				t.Errorf("update %s", d.body)
			}
		})
	}
	for _, bad := range []map[string]any{
		{"chat_id": 42, "location": map[string]any{"latitude": 91, "longitude": 0}},
		{"chat_id": 42, "contact": map[string]any{"first_name": "Max"}},
		{"chat_id": 42, "sticker": map[string]any{"emoji": "😀"}, "photo": true},
		{"chat_id": 42, "location": map[string]any{"latitude": 1, "longitude": 1}, "text": "a caption"},
	} {
		if code, out := e.control(t, http.MethodPost, "/_sim/telegram/send", bad); code != http.StatusBadRequest {
			t.Errorf("%v: %d %s", bad, code, out)
		}
	}
}

func TestReactions_DeliveredOnlyToABotThatAsksForThem(t *testing.T) {
	e := newEnv(t, Config{})
	e.setHook(t, "s")
	res := e.userSays(t, map[string]any{"chat_id": 42, "text": "hi"})
	e.hook.next(t)
	react := func(emoji string) deliveryResult {
		code, out := e.control(t, http.MethodPost, "/_sim/telegram/react", map[string]any{"chat_id": 42, "message_id": res.MessageID, "emoji": emoji})
		if code != http.StatusOK {
			t.Fatalf("react: %d %s", code, out)
		}
		var r deliveryResult
		mustUnmarshal(t, out, &r)
		return r
	}
	if r := react("👍"); !r.Filtered {
		t.Fatalf("a reaction reached a bot that did not ask for them: %+v", r)
	}
	e.hook.none(t, e.sim)

	if r := e.call(t, "setWebhook", map[string]any{"url": "https://example.com/tg", "secret_token": "s",
		"allowed_updates": []string{"message", "message_reaction"}}); !r.OK {
		t.Fatal(r.Raw)
	}
	react("🔥")
	d := e.hook.next(t)
	mr := d.update.MessageReaction
	if mr == nil || mr.MessageID != res.MessageID || len(mr.OldReaction) != 1 || mr.OldReaction[0].Emoji != "👍" ||
		len(mr.NewReaction) != 1 || mr.NewReaction[0].Emoji != "🔥" || mr.User == nil || mr.Chat.Type != "private" {
		t.Fatalf("update %s", d.body)
	}
	react("")
	if d := e.hook.next(t); d.update.MessageReaction == nil || len(d.update.MessageReaction.NewReaction) != 0 {
		t.Fatalf("taking the reaction back: %s", d.body)
	}
	for _, bad := range []map[string]any{
		{"chat_id": 42, "message_id": 999, "emoji": "👍"},
		{"chat_id": 42, "message_id": res.MessageID, "emoji": "🦆"},
		{"chat_id": 42, "message_id": res.MessageID, "emoji": ""},
	} {
		if code, out := e.control(t, http.MethodPost, "/_sim/telegram/react", bad); code == http.StatusOK {
			t.Errorf("%v accepted: %s", bad, out)
		}
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}
