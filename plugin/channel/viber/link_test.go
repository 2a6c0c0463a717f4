package viber

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
)

func TestSendFileURLSendsPicturesAndFilesByURL(t *testing.T) {
	const link = "https://bridge.example/dl/Vq3kJm2Xw9pR4tY7uI0oP5aS8dF1gH6jK3lZ2xC4vB8"
	for _, tc := range []struct {
		name string
		f    channel.FileLink
		want map[string]any
	}{
		{"a small JPEG is a picture", channel.FileLink{URL: link, Name: "label.jpg", MIME: "image/jpeg", Size: 90_000},
			map[string]any{"type": "picture", "media": link, "text": ""}},
		{"a large PNG is a file", channel.FileLink{URL: link, Name: "scan.png", MIME: "image/png", Size: 3 << 20},
			map[string]any{"type": "file", "media": link, "size": float64(3 << 20), "file_name": "scan.png"}},
		{"an MP4 is a video", channel.FileLink{URL: link, Name: "clip.mp4", MIME: "video/mp4", Size: 4 << 20},
			map[string]any{"type": "video", "media": link, "size": float64(4 << 20), "file_name": nil}},
		{"an MP4 over 26 MB is a file", channel.FileLink{URL: link, Name: "long.mp4", MIME: "video/mp4", Size: 27 << 20},
			map[string]any{"type": "file", "file_name": "long.mp4"}},
		{"sound is a file: bots send no voice messages", channel.FileLink{URL: link, Name: "note.ogg", MIME: "audio/ogg", Size: 2048},
			map[string]any{"type": "file", "file_name": "note.ogg"}},
		{"a PDF is a file", channel.FileLink{URL: link, Name: "guide.pdf", MIME: "application/pdf", Size: 2048},
			map[string]any{"type": "file", "media": link, "size": float64(2048), "file_name": "guide.pdf"}},
		{"a long name is cut to 256 characters", channel.FileLink{URL: link, Name: strings.Repeat("ä", 300) + ".txt", MIME: "text/plain", Size: 5},
			map[string]any{"type": "file", "file_name": strings.Repeat("ä", 256)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := sdktest.NewEnv()
			s := setup(env)
			env.HTTP.Handler = answer(nil)
			if err := New(env.Env, s).SendFileURL(annaChat, tc.f); err != nil {
				t.Fatal(err)
			}
			reqs := env.HTTP.Requests()
			if len(reqs) != 1 || reqs[0].URL != BaseURL+"send_message" {
				t.Fatalf("requests %+v", reqs)
			}
			var got map[string]any
			if err := json.Unmarshal(reqs[0].Body, &got); err != nil {
				t.Fatal(err)
			}
			if got["receiver"] != annaID {
				t.Errorf("receiver %v", got["receiver"])
			}
			if sn, _ := got["sender"].(map[string]any); sn["name"] != DefaultSenderName {
				t.Errorf("sender %v", got["sender"])
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestSendFileURLRefusesWhatViberWouldNotTake(t *testing.T) {
	env := sdktest.NewEnv()
	s := setup(env)
	env.HTTP.Handler = answer(nil)
	c := New(env.Env, s)
	if err := c.SendFileURL(annaChat, channel.FileLink{URL: "https://bridge.example/dl/x", Name: "big.zip", Size: 51 << 20}); !errors.Is(err, channel.ErrTooLarge) {
		t.Errorf("over 50 MB: %v", err)
	}
	if err := c.SendFileURL(annaChat, channel.FileLink{URL: "http://bridge.example/dl/x", Name: "a.pdf", Size: 1}); err == nil {
		t.Error("a plain-http URL was sent")
	}
	if err := c.SendFileURL(annaChat, channel.FileLink{URL: "https://x/{{secret:viber.token}}", Name: "a.pdf", Size: 1}); err == nil {
		t.Error("a URL naming a secret was sent")
	}
	if err := c.SendFileURL("not a chat", channel.FileLink{URL: "https://bridge.example/dl/x", Size: 1}); !errors.Is(err, channel.ErrNotFound) {
		t.Errorf("bad chat: %v", err)
	}
	if n := len(env.HTTP.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	env.HTTP.Handler = answer(channel.ErrBlocked)
	if err := c.SendFileURL(annaChat, channel.FileLink{URL: "https://bridge.example/dl/x", Name: "a.pdf", Size: 1}); !errors.Is(err, channel.ErrBlocked) {
		t.Errorf("unsubscribed: %v", err)
	}
}
