package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/viber"
	"github.com/chatbridge/chatbridge/emulator/sim/whatsapp"
	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// Files as a messenger would look at them: a PNG, the start of an OGG/Opus
// voice note, and a WAV that no voice message plays.
var (
	e2eOggOpus = append([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead\x01\x01"), make([]byte, 512)...)
	e2eWAV     = append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 512)...)
	e2eMP4     = append([]byte("\x00\x00\x00\x18ftypmp42"), make([]byte, 512)...)
)

func e2ePNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := 0; x < 64; x++ {
		img.Set(x, x%48, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// attach has an agent attach a file with real content to a request, in a
// public comment.
func attach(t *testing.T, s *stacktest.Stack, key, name, mime string, content []byte) {
	t.Helper()
	var att stacktest.JiraAnswer
	s.Call(t, "POST", "/_sim/jira/requests/"+key+"/attachment", map[string]any{"filename": name, "public": true, "mime_type": mime, "content": content}, &att, http.StatusOK)
	stacktest.CheckWebhooks(t, att.Webhooks)
}

// waitFile waits until request key has an attachment whose name starts
// with prefix.
func waitFile(t *testing.T, s *stacktest.Stack, key, prefix string) {
	t.Helper()
	waitfor.Until(t, stacktest.Wait, "a file "+prefix+"* on "+key, func() string {
		r := s.Request(t, key)
		for _, a := range r.Attachments {
			if strings.HasPrefix(a.Filename, prefix) {
				return ""
			}
		}
		return fmt.Sprintf("attachments %+v", r.Attachments)
	})
}

// waitHolds waits until request key holds text.
func waitHolds(t *testing.T, s *stacktest.Stack, key, text string) {
	t.Helper()
	waitfor.Until(t, stacktest.Wait, strconv.Quote(text)+" on "+key, func() string {
		if !s.Request(t, key).Holds(text) {
			return "not yet"
		}
		return ""
	})
}

// noMediaStored checks that no record of the app's storage holds any of
// what the customer or the agent sent: the bridge stores no media, text,
// reaction or message id (SECURITY.md).
func noMediaStored(t *testing.T, s *stacktest.Stack, what ...string) {
	t.Helper()
	recs := s.StoredRecords(t)
	if len(recs) == 0 {
		t.Fatal("no stored records: the check would prove nothing")
	}
	for _, rec := range recs {
		for _, w := range what {
			if strings.Contains(rec, w) {
				t.Errorf("a stored record holds %q", w)
			}
		}
	}
}

// Issue 18, items 4 and 5, through Telegram: a customer's voice note,
// video note and sticker arrive as files, a location as a map link, a
// contact as text; an agent's image leaves as a photo, their voice note
// as a voice message (a WAV as a document); an edit is a new comment
// marked as one, the original kept; a reaction is ignored until the
// project relays reactions, then it is an internal note.
func TestE2E_TelegramMediaEditsAndReactions(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	chat := stacktest.NewChat()
	req := s.Opened(t, chat, "mediaE2E-tg-first")
	send := func(body map[string]any) stacktest.SendResult {
		t.Helper()
		body["chat_id"] = chat
		var res stacktest.SendResult
		s.Call(t, "POST", "/_sim/telegram/send", body, &res, http.StatusOK)
		if res.Status != http.StatusOK {
			t.Fatalf("delivery of %v: %+v", body, res)
		}
		return res
	}

	// Customer to Jira.
	send(map[string]any{"voice": map[string]any{"duration": 4}})
	waitFile(t, s, req.Key, "voice_")
	send(map[string]any{"video_note": map[string]any{"duration": 6}})
	waitFile(t, s, req.Key, "video_note_")
	send(map[string]any{"sticker": map[string]any{"emoji": "😀"}})
	waitFile(t, s, req.Key, "sticker_")
	send(map[string]any{"location": map[string]any{"latitude": 48.85837, "longitude": 2.294481}})
	waitHolds(t, s, req.Key, "https://www.openstreetmap.org/?mlat=48.858370&mlon=2.294481")
	send(map[string]any{"contact": map[string]any{"phone_number": "+49301234567", "first_name": "Max", "last_name": "Muster"}})
	waitHolds(t, s, req.Key, `Contact: Max Muster \+49301234567`) // "+" escaped in wiki markup

	// An edit: a new comment marked as one; the first version stays.
	first := send(map[string]any{"text": "mediaE2Etg parcel came Monday"})
	waitHolds(t, s, req.Key, "mediaE2Etg parcel came Monday")
	send(map[string]any{"text": "mediaE2Etg parcel came Tuesday", "edit_of": first.MessageID})
	waitHolds(t, s, req.Key, "(edited) mediaE2Etg parcel came Tuesday")
	if r := s.Request(t, req.Key); r.Count("mediaE2Etg parcel came Monday") != 1 {
		t.Errorf("the first version of the edited message is not kept once: %+v", r.Comments)
	}

	// Jira to the customer.
	attach(t, s, req.Key, "label.png", "image/png", e2ePNG(t))
	attach(t, s, req.Key, "answer.ogg", "audio/ogg", e2eOggOpus)
	attach(t, s, req.Key, "answer.wav", "audio/wav", e2eWAV)
	attach(t, s, req.Key, "clip.mp4", "video/mp4", e2eMP4)
	waitfor.Until(t, stacktest.Wait, "the agent's photo, voice message, video and document", func() string {
		got := map[string]string{}
		for _, m := range s.Sent(t, chat) {
			got[m.FileName] = m.Method
			if m.Method == "sendPhoto" {
				// Telegram names a photo itself; only one is sent here.
				got["label.png"] = m.Method
			}
		}
		if got["label.png"] != "sendPhoto" || got["answer.ogg"] != "sendVoice" || got["answer.wav"] != "sendDocument" || got["clip.mp4"] != "sendVideo" {
			return fmt.Sprintf("sent %v", got)
		}
		return ""
	})

	// Reactions: ignored by default, relayed once the project says so.
	s.Reply(t, req.Key, "mediaE2Etg we found it")
	m := s.WaitText(t, chat, "mediaE2Etg we found it")
	react := func(emoji string) {
		t.Helper()
		var res stacktest.SendResult
		s.Call(t, "POST", "/_sim/telegram/react", map[string]any{"chat_id": chat, "message_id": m.MessageID, "emoji": emoji}, &res, http.StatusOK)
		if res.Filtered || res.Status != http.StatusOK {
			t.Fatalf("reaction %q: %+v (the bridge must ask for message_reaction updates)", emoji, res)
		}
	}
	notes := len(s.Request(t, req.Key).AppComments(false))
	react("👍")
	s.Settle(t)
	if n := len(s.Request(t, req.Key).AppComments(false)); n != notes {
		t.Fatalf("a reaction was noted although the project does not relay reactions")
	}
	if a := s.AdminResolve(t, "config.set", map[string]any{"projectKey": stack.Project, "relayReactions": true}); a["ok"] != true {
		t.Fatalf("config.set relayReactions: %v", a)
	}
	react("🔥")
	got := s.WaitAppComments(t, req.Key, false, notes+1)
	if last := got[len(got)-1].Body; !strings.Contains(last, "reacted with 🔥") {
		t.Errorf("note %q", last)
	}
	if n := len(s.RequestsWith(t, "mediaE2E-tg-first")); n != 1 {
		t.Errorf("%d requests", n)
	}
	noMediaStored(t, s, "mediaE2Etg parcel", "openstreetmap", "Max Muster", "49301234567", "🔥", "👍", "OpusHead", "answer.ogg", "label.png", "voice_", "sticker_")
	stacktest.CheckMessengerCalls(t, s)
}

// Issue 18, items 4 and 5, through WhatsApp: a voice note arrives as audio,
// a location as a map link, a contact card as text; an agent's image,
// voice note and video leave as image, audio and video messages; a
// reaction is noted once relayed; a deletion (revoke) is noted.
func TestE2E_WhatsAppMediaReactionsAndDeletions(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Reconfigure(t, "whatsapp", whatsapp.DefaultPhoneID+":"+whatsapp.DefaultAccountID+":"+whatsapp.DefaultAppSecret+":"+whatsapp.DefaultAccessToken)
	const customer = "4915112347777"
	send := func(body map[string]any) whatsapp.SendResult {
		t.Helper()
		body["from"], body["name"] = customer, "Mira"
		var res whatsapp.SendResult
		s.Call(t, "POST", "/_sim/whatsapp/send", body, &res, http.StatusOK)
		if res.Status != http.StatusOK {
			t.Fatalf("delivery of %v: %+v", body, res)
		}
		return res
	}
	first := send(map[string]any{"text": "mediaE2Ewafirst"})
	req := s.WaitRequest(t, "mediaE2Ewafirst")
	s.Idle(t)

	send(map[string]any{"audio": map[string]any{"voice": true}})
	waitFile(t, s, req.Key, "audio_")
	send(map[string]any{"location": map[string]any{"latitude": 52.52, "longitude": 13.405, "name": "Office"}})
	waitHolds(t, s, req.Key, "Location: Office [https://www.openstreetmap.org/?mlat=52.520000&mlon=13.405000")
	send(map[string]any{"contacts": []any{map[string]any{"formatted_name": "Max Muster", "phones": []string{"+49 30 1234"}}}})
	waitHolds(t, s, req.Key, `Contact: Max Muster \+49 30 1234`) // "+" escaped in wiki markup

	attach(t, s, req.Key, "label.png", "image/png", e2ePNG(t))
	attach(t, s, req.Key, "answer.ogg", "audio/ogg", e2eOggOpus)
	attach(t, s, req.Key, "clip.mp4", "video/mp4", e2eMP4)
	var sent []whatsapp.Sent
	waitfor.Until(t, stacktest.Wait, "the agent's image, audio and video", func() string {
		s.Call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &sent, http.StatusOK)
		types := map[string]string{}
		for _, m := range sent {
			types[m.MimeType] = m.Type
		}
		if types["image/png"] != "image" || types["audio/ogg"] != "audio" || types["video/mp4"] != "video" {
			return fmt.Sprintf("sent %+v", sent)
		}
		return ""
	})

	notes := len(s.Request(t, req.Key).AppComments(false))
	send(map[string]any{"reaction": map[string]any{"emoji": "👍"}})
	s.Settle(t)
	if n := len(s.Request(t, req.Key).AppComments(false)); n != notes {
		t.Fatalf("a reaction was noted although the project does not relay reactions")
	}
	if a := s.AdminResolve(t, "config.set", map[string]any{"projectKey": stack.Project, "relayReactions": true}); a["ok"] != true {
		t.Fatalf("config.set relayReactions: %v", a)
	}
	send(map[string]any{"reaction": map[string]any{"emoji": "🙏"}})
	got := s.WaitAppComments(t, req.Key, false, notes+1)
	if last := got[len(got)-1].Body; !strings.Contains(last, "Mira reacted with 🙏") {
		t.Errorf("note %q", last)
	}
	send(map[string]any{"revoke": first.IDs[0]})
	got = s.WaitAppComments(t, req.Key, false, notes+2)
	if last := got[len(got)-1].Body; !strings.Contains(last, "Mira deleted one of their messages in WhatsApp") {
		t.Errorf("note %q", last)
	}
	if !s.Request(t, req.Key).Holds("mediaE2Ewafirst") {
		t.Error("the deleted message's text left the request")
	}
	noMediaStored(t, s, "mediaE2Ewafirst", "openstreetmap", "Max Muster", "🙏", "👍", "OpusHead", "answer.ogg", "clip.mp4", "audio_", first.IDs[0])
	stacktest.CheckMessengerCalls(t, s)
}

// Viber: a shared location arrives as a map link; an agent's MP4 plays as
// a video, their voice note goes as a file (bots send no voice messages).
func TestE2E_ViberLocationVideoAndSound(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Reconfigure(t, "viber", viber.DefaultToken)
	const user = "E2eMediaV+/0123456789A="
	var res viber.SendResult
	s.Call(t, "POST", "/_sim/viber/send", map[string]any{"user_id": user, "name": "Vic", "text": "mediaE2Eviberfirst"}, &res, http.StatusOK)
	req := s.WaitRequest(t, "mediaE2Eviberfirst")
	s.Call(t, "POST", "/_sim/viber/send", map[string]any{"user_id": user, "name": "Vic", "location": map[string]any{"lat": 50.76891, "lon": 6.11499}}, &res, http.StatusOK)
	if res.Status != http.StatusOK {
		t.Fatalf("location: %+v", res)
	}
	waitHolds(t, s, req.Key, "Location: [https://www.openstreetmap.org/?mlat=50.768910&mlon=6.114990")

	attach(t, s, req.Key, "clip.mp4", "video/mp4", e2eMP4)
	attach(t, s, req.Key, "answer.ogg", "audio/ogg", e2eOggOpus)
	waitfor.Until(t, stacktest.Wait, "the agent's video and sound in Viber", func() string {
		var sent []viber.Sent
		s.Call(t, "GET", "/_sim/viber/sent?receiver="+url.QueryEscape(user), nil, &sent, http.StatusOK)
		var video, sound bool
		for _, m := range sent {
			fetchedWhole := m.Fetched != nil && m.Fetched.Status == http.StatusOK
			video = video || m.Type == "video" && m.Size == int64(len(e2eMP4)) && fetchedWhole && m.Fetched.Bytes == int64(len(e2eMP4))
			sound = sound || m.Type == "file" && m.FileName == "answer.ogg" && fetchedWhole
		}
		if !video || !sound {
			return fmt.Sprintf("sent %+v", sent)
		}
		return ""
	})
}
