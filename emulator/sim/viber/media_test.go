package viber

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestFilesAndPicturesByURLAreFetchedOnce(t *testing.T) {
	f := newFixture(t)
	f.register()
	content := []byte("%PDF-1.7 the agent's guide")
	var fetches atomic.Int64
	media := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fetches.Add(1) > 1 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Write(content)
	}))
	defer media.Close()
	f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "anna=", "name": "Anna", "text": "hi"}, nil)

	send := func(msg map[string]any) map[string]any {
		msg["receiver"], msg["sender"] = "anna=", map[string]any{"name": "Support"}
		return f.call("send_message", DefaultToken, msg)
	}
	if r := send(map[string]any{"type": "file", "media": media.URL + "/f", "size": len(content)}); status(r) != StatusBadData {
		t.Errorf("file without file_name: %v", r)
	}
	if r := send(map[string]any{"type": "file", "media": "http://x/f", "size": 1, "file_name": "a.pdf"}); status(r) != StatusBadData {
		t.Errorf("plain-http media: %v", r)
	}
	if fetches.Load() != 0 {
		t.Fatal("a refused message was fetched")
	}
	if r := send(map[string]any{"type": "file", "media": media.URL + "/f", "size": len(content), "file_name": "guide.pdf"}); status(r) != 0 {
		t.Fatalf("file: %v", r)
	}
	if r := send(map[string]any{"type": "picture", "media": media.URL + "/p", "text": ""}); status(r) != 0 {
		t.Fatalf("picture: %v", r)
	}
	var sent []Sent
	f.control("GET", "/_sim/viber/sent?receiver=anna=", nil, &sent)
	if len(sent) != 2 {
		t.Fatalf("sent %+v", sent)
	}
	sum := sha256.Sum256(content)
	file, pic := sent[0], sent[1]
	if file.Type != "file" || file.FileName != "guide.pdf" || file.Fetched == nil || file.Fetched.Status != 200 ||
		file.Fetched.Bytes != int64(len(content)) || file.Fetched.SHA256 != hex.EncodeToString(sum[:]) || file.Fetched.ContentType != "application/pdf" {
		t.Errorf("file %+v fetched %+v", file, file.Fetched)
	}
	// Each message is fetched once: the second URL of this server is 404.
	if pic.Type != "picture" || pic.Fetched == nil || pic.Fetched.Status != 404 || fetches.Load() != 2 {
		t.Errorf("picture %+v fetched %+v, %d fetches", pic, pic.Fetched, fetches.Load())
	}
}

func TestVideosNeedTheirSizeWithinViberLimits(t *testing.T) {
	f := newFixture(t)
	f.register()
	f.control("POST", "/_sim/viber/send", map[string]any{"user_id": "anna=", "name": "Anna", "text": "hi"}, nil)
	send := func(msg map[string]any) map[string]any {
		msg["receiver"], msg["sender"], msg["type"] = "anna=", map[string]any{"name": "Support"}, "video"
		return f.call("send_message", DefaultToken, msg)
	}
	for _, bad := range []map[string]any{
		{"media": "https://media.example/v.mp4"},
		{"media": "https://media.example/v.mp4", "size": MaxVideoBytes + 1},
		{"media": "https://media.example/v.mp4", "size": 1000, "duration": 181},
		{"media": "http://media.example/v.mp4", "size": 1000},
	} {
		if r := send(bad); status(r) != StatusBadData {
			t.Errorf("%v: %v", bad, r)
		}
	}
	if r := send(map[string]any{"media": "https://media.example/v.mp4", "size": 1000, "duration": 12}); status(r) != 0 {
		t.Fatalf("video: %v", r)
	}
	var sent []Sent
	f.control("GET", "/_sim/viber/sent?receiver=anna=", nil, &sent)
	if len(sent) != 1 || sent[0].Type != "video" || sent[0].Size != 1000 {
		t.Errorf("sent %+v", sent)
	}
}
