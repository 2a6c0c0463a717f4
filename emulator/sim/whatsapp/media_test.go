package whatsapp

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"
)

// upload uploads data as mimeType and returns the media id.
func (f *fixture) upload(mimeType string, data []byte) string {
	f.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("messaging_product", "whatsapp")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="f"`)
	h.Set("Content-Type", mimeType)
	part, _ := w.CreatePart(h)
	part.Write(data)
	w.Close()
	st, up := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/media", w.FormDataContentType(), buf.Bytes())
	id, _ := up["id"].(string)
	if st != 200 || id == "" {
		f.t.Fatalf("upload %d %v", st, up)
	}
	return id
}

func TestMediaMessagesTakeOnlyTheirSupportedTypesAndSizes(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"from": "4915112345678", "text": "hello"}, nil)
	tests := []struct {
		name, typ, mime string
		size            int
		caption         bool
		wantCode        int // 0: accepted
	}{
		{"jpeg image", "image", "image/jpeg", 1000, true, 0},
		{"png image at 5 MB", "image", "image/png", 5 << 20, false, 0},
		{"image over 5 MB", "image", "image/png", 5<<20 + 1, false, CodeMediaUpload},
		{"webp is no image message", "image", "image/webp", 1000, false, CodeMediaUpload},
		{"ogg opus audio", "audio", "audio/ogg; codecs=opus", 1000, false, 0},
		{"mp3 audio", "audio", "audio/mpeg", 1000, false, 0},
		{"ogg vorbis audio", "audio", "audio/ogg; codecs=vorbis", 1000, false, CodeMediaUpload},
		{"wav audio", "audio", "audio/wav", 1000, false, CodeMediaUpload},
		{"audio with a caption", "audio", "audio/mpeg", 1000, true, CodeInvalidParam},
		{"mp4 video", "video", "video/mp4", 1000, true, 0},
		{"video over 16 MB", "video", "video/mp4", 16<<20 + 1, false, CodeMediaUpload},
		{"a pdf as video", "video", "application/pdf", 1000, false, CodeMediaUpload},
	}
	accepted := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := map[string]any{"id": f.upload(tt.mime, make([]byte, tt.size))}
			if tt.caption {
				obj["caption"] = "see this"
			}
			b, _ := json.Marshal(map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915112345678", "type": tt.typ, tt.typ: obj})
			st, m := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", b)
			if tt.wantCode == 0 {
				if st != 200 || sentID(m) == "" {
					t.Fatalf("refused: %d %v", st, m)
				}
				accepted++
				return
			}
			if st != 400 || code(m) != tt.wantCode {
				t.Fatalf("answer %d %v, want error %d", st, m, tt.wantCode)
			}
		})
	}
	var sent []Sent
	f.control("GET", "/_sim/whatsapp/sent?to=4915112345678", nil, &sent)
	if len(sent) != accepted || sent[0].Type != "image" || sent[0].Caption != "see this" || sent[0].MimeType != "image/jpeg" {
		t.Errorf("sent %+v", sent)
	}
}

func TestCustomerLocationsContactsReactionsAndRevokesAreDeliveredAsMetaShapesThem(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	var first SendResult
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"from": "4915112345678", "text": "hello"}, &first)
	st, m := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", text("4915112345678", "an answer"))
	if st != 200 {
		t.Fatal(m)
	}
	answer := sentID(m)
	for _, body := range []map[string]any{
		{"from": "4915112345678", "location": map[string]any{"latitude": 52.52, "longitude": 13.405, "name": "Office"}},
		{"from": "4915112345678", "contacts": []any{map[string]any{"formatted_name": "Max Muster", "phones": []string{"+49 30 1234"}}}},
		{"from": "4915112345678", "audio": map[string]any{"voice": true}},
		{"from": "4915112345678", "reaction": map[string]any{"emoji": "👍"}},
		{"from": "4915112345678", "revoke": first.IDs[0]},
	} {
		var res SendResult
		if st := f.control("POST", "/_sim/whatsapp/send", body, &res); st != 200 || res.Status != 200 {
			t.Fatalf("%v: %d %+v", body, st, res)
		}
	}
	ds := f.hook.messageDeliveries()
	msg := func(i int) map[string]any { return value(ds[i])["messages"].([]any)[0].(map[string]any) }
	if len(ds) != 6 {
		t.Fatalf("%d deliveries", len(ds))
	}
	if l := msg(1)["location"].(map[string]any); msg(1)["type"] != "location" || l["name"] != "Office" {
		t.Errorf("location %v", msg(1))
	}
	if c := msg(2)["contacts"].([]any)[0].(map[string]any); msg(2)["type"] != "contacts" || c["name"].(map[string]any)["formatted_name"] != "Max Muster" {
		t.Errorf("contacts %v", msg(2))
	}
	if a := msg(3)["audio"].(map[string]any); a["voice"] != true || !strings.HasPrefix(a["mime_type"].(string), "audio/ogg") {
		t.Errorf("voice %v", msg(3))
	}
	if r := msg(4)["reaction"].(map[string]any); msg(4)["type"] != "reaction" || r["message_id"] != answer || r["emoji"] != "👍" {
		t.Errorf("reaction %v, want one to %s", msg(4), answer)
	}
	if r := msg(5)["revoke"].(map[string]any); msg(5)["type"] != "revoke" || r["original_message_id"] != first.IDs[0] {
		t.Errorf("revoke %v", msg(5))
	}
	for _, bad := range []map[string]any{
		{"from": "4915112345678", "reaction": map[string]any{"message_id": "wamid.NOPE", "emoji": "👍"}},
		{"from": "4915112345678", "revoke": answer},
		{"from": "4915112345678", "location": map[string]any{"latitude": 95, "longitude": 1}},
		{"from": "4915112345678", "sticker": true, "video": true},
	} {
		if st := f.control("POST", "/_sim/whatsapp/send", bad, nil); st != 400 {
			t.Errorf("%v: %d", bad, st)
		}
	}
}
