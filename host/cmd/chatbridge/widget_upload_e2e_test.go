package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
)

// TestE2E_WidgetUploadOverOneMiBIsStreamedToJiraByASingleUseLink: a
// widget session's 1.5 MiB file (over the edge's 1 MiB body limit of
// every other route) goes through the whole stack as the widget sends it:
// an upload link from the module, the file POSTed to the edge, which
// streams it through the host to the Jira simulator's attachTemporaryFile,
// and the module's attach. It lands on the request once, though the attach
// is retried; the link works once and for its page's origin only; a file
// over the link's size is refused and attached nowhere; and the log holds
// no byte of any of it. (The data file is scanned too, but it is sealed, so
// that scan shows only that nothing is stored in the clear; that the upload's
// records hold no byte of the file is TestUploadLinkRecordsAreSealedAndHoldNoFile's,
// host/medialink, which records the values before they are sealed.)
func TestE2E_WidgetUploadOverOneMiBIsStreamedToJiraByASingleUseLink(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	const shop = "https://shop.example"
	in, ok := s.Node.Host.Registry().Get(s.Emu.Installation.ID)
	if !ok || in.Routes["web-widget"] == "" {
		t.Fatalf("the installation has no web-widget route: %+v", in.Routes)
	}
	endpoint := publicurl.WebTrigger(s.Node.PublicURL, in.Routes["web-widget"]) + "?project=" + stack.Project
	if a := s.AdminResolve(t, "config.set", map[string]any{"projectKey": stack.Project, "enabled": true, "channel": "web",
		"allowedOrigins": []string{shop}, "serviceDeskId": "1", "requestTypeId": "10"}); a["ok"] != true {
		t.Fatalf("config.set web: %v", a)
	}
	widget := func(req map[string]any) (int, map[string]any) {
		t.Helper()
		body, _ := json.Marshal(req)
		r, _ := http.NewRequest("POST", endpoint, bytes.NewReader(body))
		r.Header.Set("Origin", shop)
		r.Header.Set("Content-Type", "text/plain")
		resp, err := s.Client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	// send POSTs a file to an upload link from a page of origin, as the
	// widget's FormData does.
	send := func(link, origin, name string, content []byte) (int, http.Header) {
		t.Helper()
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, _ := mw.CreateFormFile("file", name)
		_, _ = w.Write(content)
		_ = mw.Close()
		r, _ := http.NewRequest("POST", link, &b)
		r.Header.Set("Origin", origin)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := s.Client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}

	_, out := widget(map[string]any{"op": "session"})
	session, _ := out["session"].(string)
	first := fmt.Sprintf("Widget upload e2e %d: the label is attached", time.Now().UnixNano())
	if st, out := widget(map[string]any{"op": "send", "session": session, "name": "Ada", "id": "m1", "text": first}); st != 200 {
		t.Fatalf("send: %d %v", st, out)
	}
	req := s.WaitRequest(t, first)

	marker := "upload bytes quokka2718 "
	content := bytes.Repeat([]byte(marker), (3<<19)/len(marker)+1) // just over 1.5 MiB
	st, out := widget(map[string]any{"op": "upload", "session": session, "name": "Ada", "id": "f1", "file": "scan.pdf", "mime": "application/pdf", "size": len(content)})
	link, _ := out["link"].(string)
	if st != 200 || !strings.HasPrefix(link, s.Node.PublicURL+publicurl.UploadPrefix) {
		t.Fatalf("upload link: %d %v", st, out)
	}
	if st, _ := widget(map[string]any{"op": "attach", "session": session, "id": "f1", "link": link}); st != 404 {
		t.Errorf("an attach before the file was sent: %d, want 404", st)
	}
	st, h := send(link, shop, "scan.pdf", content)
	if st != 200 || h.Get("Access-Control-Allow-Origin") != shop {
		t.Fatalf("the file to the link: %d, Access-Control-Allow-Origin %q", st, h.Get("Access-Control-Allow-Origin"))
	}
	// A small file: the edge answers a used link before reading a body,
	// and closes, so a large one may meet a reset before its answer.
	if st, _ := send(link, shop, "scan.pdf", []byte("0123456789")); st != 404 {
		t.Errorf("a second file to the same link: %d, want 404 (single use)", st)
	}
	for i := 0; i < 2; i++ { // a retried attach attaches once
		if st, out := widget(map[string]any{"op": "attach", "session": session, "name": "Ada", "id": "f1", "link": link}); st != 200 {
			t.Fatalf("attach %d: %d %v", i+1, st, out)
		}
	}
	got := s.Request(t, req.Key)
	var files []stacktest.JiraAttachment
	for _, a := range got.Attachments {
		if a.Filename == "scan.pdf" {
			files = append(files, a)
		}
	}
	if len(files) != 1 || files[0].Size != int64(len(content)) {
		t.Fatalf("attachments named scan.pdf: %+v, want one of %d bytes", files, len(content))
	}

	// A page of another origin: 403 without CORS, and the link is used up.
	_, out = widget(map[string]any{"op": "upload", "session": session, "id": "f2", "file": "b.pdf", "mime": "application/pdf", "size": 10})
	other, _ := out["link"].(string)
	if st, h := send(other, "https://evil.example", "b.pdf", []byte("0123456789")); st != 403 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin: %d, Access-Control-Allow-Origin %q", st, h.Get("Access-Control-Allow-Origin"))
	}
	if st, _ := send(other, shop, "b.pdf", []byte("0123456789")); st != 404 {
		t.Errorf("the link after another origin's try: %d, want 404", st)
	}

	// A file over the link's size (the page said 10 bytes, and the link
	// takes that many): the host cuts the simulator's request short while
	// streaming; 413, nothing attached.
	_, out = widget(map[string]any{"op": "upload", "session": session, "id": "f3", "file": "huge.bin", "mime": "application/octet-stream", "size": 10})
	huge, _ := out["link"].(string)
	if st, _ := send(huge, shop, "huge.bin", bytes.Repeat([]byte(marker), 400)); st != 413 {
		t.Errorf("a file over the link's size: %d, want 413", st)
	}
	if st, _ := widget(map[string]any{"op": "attach", "session": session, "id": "f3", "link": huge}); st != 404 {
		t.Errorf("an attach of the refused file: %d, want 404", st)
	}
	s.Settle(t)
	for _, a := range s.Request(t, req.Key).Attachments {
		if a.Filename == "huge.bin" || a.Filename == "b.pdf" {
			t.Errorf("a refused file was attached: %+v", a)
		}
	}

	// The privacy scan: no byte of the file, no session, no link in the
	// host's log, and none in the clear in the data file (whose values are
	// sealed: this cannot see what was sealed, only what escaped the seal).
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(s.Data, "chatbridge.db"))
	if err != nil || len(raw) == 0 {
		t.Fatalf("data file: %d bytes, %v", len(raw), err)
	}
	token := strings.TrimPrefix(link, s.Node.PublicURL+publicurl.UploadPrefix)
	for what, secret := range map[string]string{"the file's bytes": strings.TrimSpace(marker), "the session": session, "the upload link's token": token} {
		if form, ok := leaks(raw, secret); ok {
			t.Errorf("the data file holds %s in the clear %s", what, form)
		}
		if form, ok := leaks([]byte(s.Log.String()), secret); ok {
			t.Errorf("the host log holds %s %s", what, form)
		}
	}
}
