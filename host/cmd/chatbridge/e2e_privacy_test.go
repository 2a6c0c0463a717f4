package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

func TestE2E_ForgetByRequestKeyLeavesNothingOfTheChatAndJiraUntouched(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t) // own stack: it is stopped to read the data file
	chat, other := stacktest.NewChat(), stacktest.NewChat()
	texts := []string{"Forget me please quagga40913", "Another detail serval77215", "Agent answer okapi39920"}
	r := s.Opened(t, chat, texts[0])
	s.Say(t, chat, texts[1])
	s.WaitAppComments(t, r.Key, true, 1)
	s.Reply(t, r.Key, texts[2])
	s.WaitText(t, chat, texts[2])
	s.Transition(t, r.Key, "Done")
	s.WaitText(t, chat, textResolved)
	texts = append(texts, "After the resolution caracal11820")
	s.Say(t, chat, texts[3])
	second := s.WaitRequest(t, texts[3])
	kept := s.Opened(t, other, "The other customer gerenuk55031")
	s.Idle(t) // every request mapped to its chat
	chatID, otherID := strconv.FormatInt(chat, 10), strconv.FormatInt(other, 10)

	// The admin sees the requests, not the chat ids.
	list := s.AdminResolve(t, "mappings.list", map[string]any{"projectKey": stack.Project})
	raw, _ := json.Marshal(list)
	if list["ok"] != true || len(list["mappings"].([]any)) != 3 || strings.Contains(string(raw), chatID) || strings.Contains(string(raw), otherID) {
		t.Fatalf("mappings.list: %s", raw)
	}
	before := map[string]stacktest.JiraRequest{r.Key: s.Request(t, r.Key), second.Key: s.Request(t, second.Key)}

	a := s.AdminResolve(t, "mappings.forget", map[string]any{"projectKey": stack.Project, "issueKey": r.Key})
	if a["ok"] != true || len(a["forgotten"].([]any)) != 2 {
		t.Fatalf("mappings.forget: %v", a)
	}
	// Nothing of the chat in the opened store; the other chat's mapping stays.
	otherKept := false
	for _, rec := range s.StoredRecords(t) {
		for _, secret := range []string{chatID, r.Key, second.Key} {
			// A whole id: SUP-1 is not SUP-10.
			if regexp.MustCompile(`(^|[^0-9A-Z-])` + regexp.QuoteMeta(secret) + `([^0-9]|$)`).MatchString(rec) {
				t.Errorf("a record of the forgotten chat is left: %.120s", rec)
			}
		}
		otherKept = otherKept || strings.Contains(rec, otherID)
	}
	if !otherKept {
		t.Error("the other chat's mapping went too")
	}
	inv := s.AdminResolve(t, "inventory", map[string]any{"projectKey": stack.Project})
	for _, row := range inv["kinds"].([]any) {
		m := row.(map[string]any)
		if (m["kind"] == "issue" || m["kind"] == "chat") && m["count"] != float64(1) {
			t.Errorf("inventory after the forget: %v", m)
		}
	}
	// The requests in Jira are untouched.
	for key, was := range before {
		now := s.Request(t, key)
		if now.Description != was.Description || len(now.Comments) != len(was.Comments) || now.Status != was.Status {
			t.Errorf("request %s changed: %+v, was %+v", key, now, was)
		}
	}
	// The customer's next message opens a new request.
	fresh := s.Opened(t, chat, "Starting over dikdik62208")
	if fresh.Key == r.Key || fresh.Key == second.Key || fresh.Key == kept.Key {
		t.Errorf("the next message went to %s", fresh.Key)
	}
	if n := len(s.Request(t, second.Key).Comments); n != len(before[second.Key].Comments) {
		t.Errorf("the next message went to the forgotten request %s", second.Key)
	}

	// The daily retention sweep is declared and runs in the module: the
	// schedule fires a new trigger shortly after it appears.
	waitfor.Until(t, stacktest.Wait, "the retention trigger's first firing", func() string {
		for _, rec := range s.Stored(t, "dedupe") {
			if strings.HasPrefix(rec, "schedule:") && strings.Contains(rec, "retention") {
				return ""
			}
		}
		return "not fired"
	})

	if strings.Contains(s.Log.String(), "scheduled trigger failed") {
		t.Error("the retention sweep failed in the module")
	}

	// The data-file and log scan of TestE2E_NoMessageTextTokenChatIDOrIssueKeyInTheDataFileOrLog.
	stacktest.CheckJiraCalls(t, s)
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	file, err := os.ReadFile(filepath.Join(s.Data, "chatbridge.db"))
	if err != nil || len(file) == 0 {
		t.Fatalf("the data file: %v", err)
	}
	log := []byte(s.Log.String())
	if !bytes.Contains(log, []byte("chat forgotten")) {
		t.Fatalf("the log misses the forget; nothing to check")
	}
	for i, secret := range append(texts, chatID, r.Key, second.Key) {
		if form, ok := leaks(file, secret); ok {
			t.Errorf("the data file holds secret %d %s", i, form)
		}
		if form, ok := leaks(log, secret); ok {
			t.Errorf("the host log holds secret %d %s", i, form)
		}
	}
}

func TestE2E_CustomersForgetCommandForgetsTheChat(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t)
	chat := stacktest.NewChat()
	chatID := strconv.FormatInt(chat, 10)
	r := s.Opened(t, chat, "Please forget me later bongo83011")
	s.Reply(t, r.Key, "Agent answer sitatunga20931")
	s.WaitText(t, chat, "sitatunga20931")
	was := s.Request(t, r.Key)
	s.Say(t, chat, "/forget")
	s.WaitText(t, chat, "this chat is no longer linked to your requests")
	for _, rec := range s.StoredRecords(t) {
		for _, secret := range []string{chatID, r.Key} {
			if regexp.MustCompile(`(^|[^0-9A-Z-])` + regexp.QuoteMeta(secret) + `([^0-9]|$)`).MatchString(rec) {
				t.Errorf("a record of the forgotten chat is left: %.120s", rec)
			}
		}
	}
	if now := s.Request(t, r.Key); len(now.Comments) != len(was.Comments) || now.Description != was.Description {
		t.Errorf("the request in Jira changed (the /forget reached it?): %+v", now.Comments)
	}
	fresh := s.Opened(t, chat, "A new start eland40027")
	if fresh.Key == r.Key {
		t.Error("the next message went to the forgotten request")
	}
}
