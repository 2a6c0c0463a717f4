package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// AdminResolve calls a resolver of the dev installation through the admin
// API (POST /admin/installations/{id}/resolve/{function}) by the command
// line's resolve, and decodes its answer.
func (s *Stack) AdminResolve(t *testing.T, function string, payload any) map[string]any {
	t.Helper()
	var list bytes.Buffer
	if err := runInstallations([]string{"-admin", s.Admin, "-data", s.Data}, &list, io.Discard); err != nil {
		t.Fatal(err)
	}
	var ins []struct{ ID string }
	if json.Unmarshal(list.Bytes(), &ins) != nil || len(ins) != 1 {
		t.Fatalf("installations: %s", list.Bytes())
	}
	body, _ := json.Marshal(payload)
	var out, errs bytes.Buffer
	if err := runResolve([]string{"-admin", s.Admin, "-data", s.Data, ins[0].ID, function, string(body)}, &out, &errs); err != nil {
		t.Fatalf("resolve %s: %v %s", function, err, errs.Bytes())
	}
	var a map[string]any
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("%s answered %s", function, out.Bytes())
	}
	return a
}

// StoredRecords is the installation's app storage, opened (the dev
// console's view of the sealed store): key and value of each record.
func (s *Stack) StoredRecords(t *testing.T) []string {
	t.Helper()
	return s.Stored(t, "kvs")
}

// Stored is storedRecords for any keyspace.
func (s *Stack) Stored(t *testing.T, space string) []string {
	t.Helper()
	var st struct {
		Installations []struct{ ID string } `json:"installations"`
	}
	simGet(t, s.Admin+"/_console/state", &st)
	if len(st.Installations) != 1 {
		t.Fatalf("installations %+v", st)
	}
	var recs []struct{ Key, Value, Error string }
	simGet(t, s.Admin+"/_console/storage?installation="+st.Installations[0].ID+"&space="+space, &recs)
	var out []string
	for _, r := range recs {
		if r.Error != "" {
			t.Fatalf("record unreadable: %s", r.Error)
		}
		out = append(out, r.Key+"="+r.Value)
	}
	return out
}

func TestE2E_ForgetByRequestKeyLeavesNothingOfTheChatAndJiraUntouched(t *testing.T) {
	t.Parallel()
	s := Start(t) // own stack: it is stopped to read the data file
	chat, other := NewChat(), NewChat()
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
	before := map[string]JiraRequest{r.Key: s.Request(t, r.Key), second.Key: s.Request(t, second.Key)}

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
	waitfor.Until(t, Wait, "the retention trigger's first firing", func() string {
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
	CheckJiraCalls(t, s)
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
	s := Start(t)
	chat := NewChat()
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
