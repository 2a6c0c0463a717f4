package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/viber"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// An agent's file reaches a Viber customer by a single-use download link:
// the Viber simulator fetches the link once, as Viber's servers do, through
// the edge, which streams the attachment from the Jira simulator; the link
// then answers 404, and neither the link's token nor the file is on disk.
func TestE2E_ViberAgentFileArrivesByASingleUseLink(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	s.Reconfigure(t, "viber", viber.DefaultToken)
	const user = "E2eLinks+/0123456789B="
	var res viber.SendResult
	s.Call(t, "POST", "/_sim/viber/send", map[string]any{"user_id": user, "name": "Lina", "text": "viber-e2e-links where is the manual"}, &res, http.StatusOK)
	if res.Status != 200 {
		t.Fatalf("message: %+v", res)
	}
	req := s.WaitRequest(t, "viber-e2e-links")
	// The request exists in Jira a moment before the bridge has mapped it
	// to the chat: wait for the inbound work to finish.
	waitfor.Until(t, stacktest.Wait, "the inbound queue drained", func() string {
		if n := s.Node.Host.Queue().Pending(); n != 0 {
			return fmt.Sprintf("%d pending", n)
		}
		return ""
	})

	const size = 300_000
	var att stacktest.JiraAnswer
	s.Call(t, "POST", "/_sim/jira/requests/"+req.Key+"/attachment", map[string]any{
		"filename": "manual.pdf", "size": size, "public": true, "mime_type": "application/pdf", "comment": "Here is the manual."}, &att, http.StatusOK)
	stacktest.CheckWebhooks(t, att.Webhooks)

	var file viber.Sent
	waitfor.Until(t, stacktest.Wait, "the agent's file in Viber", func() string {
		var sent []viber.Sent
		s.Call(t, "GET", "/_sim/viber/sent?receiver="+url.QueryEscape(user), nil, &sent, http.StatusOK)
		for _, m := range sent {
			if m.Type == "file" {
				file = m
				return ""
			}
		}
		return fmt.Sprintf("sent %+v", sent)
	})

	if file.FileName != "manual.pdf" || file.Size != size || !strings.Contains(file.Media, "/dl/") {
		t.Fatalf("file message %+v", file)
	}
	want := s.JiraAttachmentContent(t, att.ID)
	sum := sha256.Sum256(want)
	if f := file.Fetched; f == nil || f.Status != 200 || f.Bytes != size || f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("Viber's fetch of the link: %+v", f)
	}

	// Single use: the link is gone, for GET and HEAD alike.
	for _, method := range []string{"GET", "HEAD"} {
		r, err := http.NewRequest(method, file.Media, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || len(body) > 20 {
			t.Errorf("%s of a used link: %d %q", method, resp.StatusCode, body)
		}
	}

	// A small image goes as a picture, by its own link.
	var img stacktest.JiraAnswer
	s.Call(t, "POST", "/_sim/jira/requests/"+req.Key+"/attachment", map[string]any{
		"filename": "label.png", "size": 40_000, "public": true, "mime_type": "image/png"}, &img, http.StatusOK)
	stacktest.CheckWebhooks(t, img.Webhooks)
	var pic viber.Sent
	waitfor.Until(t, stacktest.Wait, "the agent's picture in Viber", func() string {
		var sent []viber.Sent
		s.Call(t, "GET", "/_sim/viber/sent?receiver="+url.QueryEscape(user), nil, &sent, http.StatusOK)
		for _, m := range sent {
			if m.Type == "picture" {
				pic = m
				return ""
			}
		}
		return fmt.Sprintf("sent %+v", sent)
	})

	pngSum := sha256.Sum256(s.JiraAttachmentContent(t, img.ID))
	if f := pic.Fetched; pic.Media == file.Media || f == nil || f.Status != 200 || f.Bytes != 40_000 || f.SHA256 != hex.EncodeToString(pngSum[:]) || f.ContentType != "image/png" {
		t.Errorf("picture %+v fetched %+v", pic, pic.Fetched)
	}

	// Nothing of the link or the file is stored: not the token, not the bytes.
	token := file.Media[strings.LastIndex(file.Media, "/")+1:]
	sample := want[size/2 : size/2+64]
	_ = filepath.WalkDir(s.Data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, string(filepath.Separator)+"cache"+string(filepath.Separator)) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if strings.Contains(string(b), token) {
			t.Errorf("%s holds the link's token", path)
		}
		if strings.Contains(string(b), string(sample)) {
			t.Errorf("%s holds the file's bytes", path)
		}
		return nil
	})
}
