package bridge

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel/viber"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// viberMedia records the send_message calls of type picture or file.
type viberMedia struct {
	mu   sync.Mutex // guards sent
	sent []map[string]any
}

// viberWithAttachments is a Viber conversation on request SUP-1 whose agent
// reply (forge_commented_adf.json) shows refund-form.pdf.
func viberWithAttachments(t *testing.T) (*harness, *fakeViber, *viberMedia) {
	h, f := viberConversation(t)
	body := viberText(1, "Where is my refund?")
	h.viberPost(body, hmacHex([]byte(viberToken), body))
	h.drain()
	var list struct {
		Fields struct {
			Attachment []map[string]any `json:"attachment"`
		} `json:"fields"`
	}
	_ = json.Unmarshal(load(t, "jira/issue_attachments.json"), &list)
	h.jira.attachments = list.Fields.Attachment
	h.jira.content["10200"] = []byte("%PDF-refund")
	h.jira.content["10201"] = []byte("secret warehouse notes")
	h.jira.properties["10106"] = string(load(t, "jira/property_public.json"))
	m := &viberMedia{}
	inner := h.env.HTTP.Handler
	h.env.HTTP.Handler = func(req *abi.Request) (*abi.Response, error) {
		var msg map[string]any
		if req.URL == viber.BaseURL+"send_message" && json.Unmarshal(req.Body, &msg) == nil && msg["type"] != "text" {
			m.mu.Lock()
			m.sent = append(m.sent, msg)
			m.mu.Unlock()
			return &abi.Response{Status: 200, Body: []byte(`{"status":0,"status_message":"ok","message_token":2}`)}, nil
		}
		return inner(req)
	}
	return h, f, m
}

func TestViberGetsAgentFilesByASingleUseLink(t *testing.T) {
	h, f, m := viberWithAttachments(t)
	const link = "https://bridge.example/dl/Vq3kJm2Xw9pR4tY7uI0oP5aS8dF1gH6jK3lZ2xC4vB8"
	h.env.Links.Handler = func(id string, ttl time.Duration) (string, error) { return link, nil }
	h.event("forge_commented_adf.json")
	h.drain()
	asked := h.env.Links.Asked()
	if len(asked) != 1 || asked[0].ID != "10200" || asked[0].TTL != linkTTL {
		t.Fatalf("links asked %+v", asked)
	}
	if len(m.sent) != 1 || m.sent[0]["type"] != "file" || m.sent[0]["media"] != link ||
		m.sent[0]["file_name"] != "refund-form.pdf" || m.sent[0]["size"] == nil {
		t.Fatalf("media sent %+v", m.sent)
	}
	for _, text := range f.sent {
		if strings.Contains(text, "cannot be shown in Viber") {
			t.Errorf("a notice was sent as well: %q", text)
		}
	}
	// The module never downloaded the file: the host streams it.
	for _, r := range h.env.JiraAPI.Requests() {
		if strings.Contains(r.URL, "/attachment/content/") {
			t.Errorf("the bridge downloaded %s", r.URL)
		}
	}
	// A redelivery of the event sends nothing again.
	h.event("forge_commented_adf.json")
	h.drain()
	if len(m.sent) != 1 || len(h.env.Links.Asked()) != 1 {
		t.Errorf("after a duplicate event: %d sent, %d links", len(m.sent), len(h.env.Links.Asked()))
	}
}

func TestViberFallsBackToTheNoticeWithoutDownloadLinks(t *testing.T) {
	h, f, m := viberWithAttachments(t) // sdktest's Links answer unavailable
	h.event("forge_commented_adf.json")
	h.drain()
	if len(m.sent) != 0 {
		t.Fatalf("media sent %+v", m.sent)
	}
	notices := 0
	for _, text := range f.sent {
		if strings.Contains(text, "refund-form.pdf") && strings.Contains(text, "cannot be shown in Viber") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("sent %q", f.sent)
	}
}

func TestAFailedLinkIsRetriedNotReplacedByANotice(t *testing.T) {
	h, f, m := viberWithAttachments(t)
	fail := true
	h.env.Links.Handler = func(string, time.Duration) (string, error) {
		if fail {
			fail = false
			return "", sdk.ErrTimeout
		}
		return "https://bridge.example/dl/second", nil
	}
	h.retries = nil
	h.event("forge_commented_adf.json")
	h.drain()
	if len(h.retries) == 0 {
		t.Fatal("no retry after a failed link")
	}
	if len(m.sent) != 1 || m.sent[0]["media"] != "https://bridge.example/dl/second" {
		t.Fatalf("media sent %+v", m.sent)
	}
	texts := 0
	for _, text := range f.sent {
		if strings.Contains(text, "cannot be shown") {
			t.Errorf("notice %q", text)
		}
		texts++
	}
	if texts != 1 {
		t.Errorf("the reply's text went %d times: %q", texts, f.sent)
	}
}
