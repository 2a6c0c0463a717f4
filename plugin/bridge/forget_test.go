package bridge

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/wit/abi"
)

const otherChat = "6234567890"

// command builds a Telegram update carrying a bot command, as Telegram marks one.
func (h *harness) command(chat int64, cmd string) []byte {
	h.seq++
	u := map[string]any{
		"update_id": 910000000 + h.seq,
		"message": map[string]any{
			"message_id": 7000 + h.seq,
			"from":       map[string]any{"id": chat, "is_bot": false, "first_name": "Anna"},
			"chat":       map[string]any{"id": chat, "type": "private", "first_name": "Anna"},
			"date":       1763805120 + h.seq,
			"text":       cmd,
			"entities":   []any{map[string]any{"type": "bot_command", "offset": 0, "length": len(cmd)}},
		},
	}
	b, _ := json.Marshal(u)
	return b
}

// recordsOf lists the stored records whose key or value holds any of s.
func (h *harness) recordsOf(s ...string) []string {
	var found []string
	for _, k := range h.env.Store.Keys() {
		v, _ := h.env.Store.Get(k)
		for _, x := range s {
			if strings.Contains(k, x) || strings.Contains(string(v), x) {
				found = append(found, k)
				break
			}
		}
	}
	return found
}

// jiraSnapshot is what Jira holds of the requests: keys, descriptions and
// comment counts.
func (h *harness) jiraSnapshot() map[string]string {
	h.jira.mu.Lock()
	defer h.jira.mu.Unlock()
	out := map[string]string{}
	for k, is := range h.jira.issues {
		out[k] = is.Description + "|" + strings.Repeat("c", len(is.Comments)) + "|" + strings.Repeat("a", len(is.Attached))
	}
	return out
}

// twoChats is fullConversation (Anna: SUP-1 resolved, SUP-2 open) and a
// second customer's request (SUP-3).
func twoChats(t *testing.T) *harness {
	h := fullConversation(t)
	h.send(h.text(6234567890, "Where is parcel 12?"))
	h.drain()
	if h.jira.issueCount() != 3 {
		t.Fatalf("%d requests", h.jira.issueCount())
	}
	return h
}

func TestMappingsList_ShowsRequestsByKeyWithoutChatIDs(t *testing.T) {
	h := twoChats(t)
	a, err := h.resolve("mappings.list", map[string]any{"projectKey": testProject})
	if err != nil || a["ok"] != true {
		t.Fatalf("mappings.list: %v %v", a, err)
	}
	raw, _ := json.Marshal(a)
	for _, s := range []string{annaChat, otherChat} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the list shows the chat id %s: %s", s, raw)
		}
	}
	rows := a["mappings"].([]any)
	if len(rows) != 3 {
		t.Fatalf("rows %v", rows)
	}
	byKey := map[string]map[string]any{}
	for _, r := range rows {
		m := r.(map[string]any)
		byKey[m["issueKey"].(string)] = m
	}
	s1, s2, s3 := byKey["SUP-1"], byKey["SUP-2"], byKey["SUP-3"]
	if s1["resolved"] != true || s1["open"] != false || s1["expiresAt"] == nil || s2["open"] != true || s2["resolved"] != false {
		t.Errorf("states: %v %v", s1, s2)
	}
	if s1["chat"] != s2["chat"] || s1["chat"] == s3["chat"] || s1["channel"] != "telegram" || s2["lastActivity"] == "" {
		t.Errorf("chat references or activity: %v %v %v", s1, s2, s3)
	}
	if a, _ := h.resolve("mappings.list", map[string]any{"projectKey": "sup"}); a["ok"] != false {
		t.Errorf("a bad project key: %v", a)
	}
	if _, err := h.resolve("mappings.list", map[string]any{"projectKey": testProject, "chat": annaChat}); err == nil {
		t.Error("an unknown field was accepted")
	}
}

func TestMappingsForget_ByRequestKeyRemovesTheChatAndLeavesJiraAlone(t *testing.T) {
	h := twoChats(t)
	before := h.jiraSnapshot()
	otherBefore := h.recordsOf(otherChat, "SUP-3")
	if len(h.recordsOf(annaChat, "SUP-1", "SUP-2")) == 0 || len(otherBefore) == 0 {
		t.Fatal("nothing stored to forget")
	}
	a, err := h.resolve("mappings.forget", map[string]any{"projectKey": testProject, "issueKey": "SUP-1"})
	if err != nil || a["ok"] != true {
		t.Fatalf("mappings.forget: %v %v", a, err)
	}
	if got := a["forgotten"].([]any); len(got) != 2 {
		t.Errorf("forgotten %v, want both of the chat's requests", got)
	}
	if left := h.recordsOf(annaChat, "SUP-1", "SUP-2"); len(left) != 0 {
		t.Errorf("records of the forgotten chat left: %v", left)
	}
	// The agents' replies to it too (their progress records, by comment id).
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "dedupe:jira:") {
			t.Errorf("%s: a reply's record of the forgotten chat left", k)
		}
	}
	if after := h.recordsOf(otherChat, "SUP-3"); !slices.Equal(after, otherBefore) {
		t.Errorf("the other chat's records changed: %v, were %v", after, otherBefore)
	}
	if after := h.jiraSnapshot(); len(after) != len(before) {
		t.Errorf("Jira changed: %v, was %v", after, before)
	} else {
		for k, v := range before {
			if after[k] != v {
				t.Errorf("request %s changed", k)
			}
		}
	}
	// Again: nothing left to forget, a clear answer.
	if a, _ := h.resolve("mappings.forget", map[string]any{"projectKey": testProject, "issueKey": "SUP-1"}); a["ok"] != false {
		t.Errorf("a second forget: %v", a)
	}
	if a, _ := h.resolve("mappings.forget", map[string]any{"projectKey": "OTHER", "issueKey": "SUP-3"}); a["ok"] != false {
		t.Errorf("another project's request was accepted: %v", a)
	}
	// An agent's reply on a forgotten request reaches nobody.
	sent := len(h.tg.messages())
	h.event("comment_created_public.json", `"SUP-1"`, `"SUP-2"`, `"10042"`, `"10043"`)
	h.drain()
	if len(h.tg.messages()) != sent {
		t.Error("a reply on a forgotten request was sent to the chat")
	}
	// The customer's next message opens a new request.
	h.send(h.text(5123456789, "Hello again"))
	h.drain()
	if h.jira.issueCount() != 4 || h.jira.issue("SUP-4") == nil {
		t.Fatalf("the next message opened no new request: %d", h.jira.issueCount())
	}
}

func TestForgetCommand_ForgetsTheChatAndAnswersInTheProjectsLanguage(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"language": "de"})
	h.send(h.text(5123456789, "Hello my order"))
	h.drain()
	h.event("comment_created_public.json")
	h.drain()
	if h.jira.issueCount() != 1 || len(h.recordsOf(annaChat, "SUP-1")) == 0 {
		t.Fatal("no conversation")
	}
	h.send(h.command(5123456789, "/forget"))
	h.drain()
	msgs := h.tg.messages()
	if last := msgs[len(msgs)-1]; last.Text != languages["de"].Forgotten {
		t.Errorf("answer %q", last.Text)
	}
	if left := h.recordsOf(annaChat, "SUP-1"); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}
	if is := h.jira.issue("SUP-1"); is == nil || len(is.Comments) != 0 {
		t.Errorf("the request in Jira changed: %+v", is)
	}
	h.send(h.text(5123456789, "New question"))
	h.drain()
	if h.jira.issueCount() != 2 {
		t.Errorf("%d requests; the next message must open a new one", h.jira.issueCount())
	}
}

// On WhatsApp (no bot commands) the customer writes the text /forget.
func TestForgetCommand_WhatsAppByText(t *testing.T) {
	h, f := whatsappConversation(t)
	h.event("comment_created_public.json")
	h.drain()
	if len(h.recordsOf(waCustomer)) == 0 {
		t.Fatal("nothing stored of the chat")
	}
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": waAccount, "changes": []any{
		map[string]any{"field": "messages", "value": map[string]any{
			"metadata": map[string]any{"phone_number_id": waPhone},
			"contacts": []any{map[string]any{"profile": map[string]any{"name": "Anna"}, "wa_id": waCustomer}},
			"messages": []any{map[string]any{"from": waCustomer, "id": "wamid.F==", "type": "text", "text": map[string]any{"body": " /Forget "}}},
		}}}}}})
	seen := seenKey(testProject, "whatsapp", waCustomer)
	before, err := h.env.Store.Get(seen)
	if err != nil {
		t.Fatal("no window record to check")
	}
	h.advance(time.Minute)
	if r := h.waPost(body, "sha256="+hmacHex([]byte(waApp), body)); r.Status != 200 {
		t.Fatalf("delivery answered %d", r.Status)
	}
	// The webhook does not note a /forget as the customer's last message: a
	// consumer running before that write would leave it behind.
	if after, _ := h.env.Store.Get(seen); string(after) != string(before) {
		t.Errorf("the /forget moved the window record: %s, was %s", after, before)
	}
	h.drain()
	if left := h.recordsOf(waCustomer, "SUP-1"); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}
	if len(f.sent) == 0 || !strings.Contains(f.sent[len(f.sent)-1], "no longer linked") {
		t.Errorf("the customer was not told: %q", f.sent)
	}
	if is := h.jira.issue("SUP-1"); len(is.Comments) != 1 {
		t.Errorf("/forget went to Jira: %+v", is.Comments)
	}
}

func TestRetention_ResolvedMappingsExpireAfterTheProjectsPeriod(t *testing.T) {
	h := fullConversation(t) // SUP-1 resolved, SUP-2 open
	h.configure(map[string]any{"retentionDays": 2})
	run := func() {
		t.Helper()
		if err := h.b.Scheduled(h.env.Env, &scheduledCall); err != nil {
			t.Fatal(err)
		}
	}
	h.advance(47 * time.Hour)
	run()
	if _, err := h.env.Store.Get("issue:SUP-1"); err != nil {
		t.Fatal("expired before its period")
	}
	h.advance(2 * time.Hour)
	run()
	if _, err := h.env.Store.Get("issue:SUP-1"); err == nil {
		t.Fatal("a resolved request's mapping outlived the period")
	}
	if left := h.recordsOf("SUP-1"); len(left) != 0 {
		t.Errorf("records of the expired request left: %v", left)
	}
	if _, err := h.env.Store.Get("issue:SUP-2"); err != nil {
		t.Error("the open request's mapping expired")
	}
	if _, err := h.env.Store.Get(chatKey(testProject, "telegram", annaChat)); err != nil {
		t.Error("the chat of an open request lost its mapping")
	}
	keys := h.env.Store.Keys()
	run() // idempotent: nothing more goes
	if after := h.env.Store.Keys(); !slices.Equal(after, keys) {
		t.Errorf("a second run changed %v to %v", keys, after)
	}
	// SUP-2 resolved: once its period is over the chat is forgotten entirely.
	h.event("issue_updated_done.json", `"SUP-1"`, `"SUP-2"`, `"10042"`, `"10043"`)
	h.drain()
	h.advance(49 * time.Hour)
	run()
	if left := h.recordsOf(annaChat, "SUP-2"); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}
	h.send(h.text(5123456789, "Hello once more"))
	h.drain()
	if h.jira.issueCount() != 3 {
		t.Errorf("%d requests; a message after expiry opens a new one", h.jira.issueCount())
	}
}

var scheduledCall = scheduledCallFor(RetentionTrigger)

func TestRetention_TheSweepIsBoundedPerRun(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"retentionDays": 1})
	h.b.SweepBatch = 2
	for i := int64(0); i < 5; i++ {
		h.send(h.text(7000000000+i, "Question"))
		h.drain()
	}
	for i := 1; i <= 5; i++ {
		k := "SUP-" + string(rune('0'+i))
		h.event("issue_updated_done.json", `"SUP-1"`, `"`+k+`"`)
	}
	h.drain()
	h.advance(25 * time.Hour)
	left := func() int {
		n := 0
		for _, k := range h.env.Store.Keys() {
			if strings.HasPrefix(k, "issue:") {
				n++
			}
		}
		return n
	}
	if left() != 5 {
		t.Fatalf("%d mappings", left())
	}
	for _, want := range []int{3, 1, 0, 0} {
		if err := h.b.Scheduled(h.env.Env, &scheduledCall); err != nil {
			t.Fatal(err)
		}
		if got := left(); got != want {
			t.Errorf("after a run: %d mappings, want %d", got, want)
		}
	}
	for _, k := range h.env.Store.Keys() {
		if !strings.HasPrefix(k, "config:") && !strings.HasPrefix(k, "dedupe:") {
			t.Errorf("%s left after every mapping expired", k)
		}
	}
}

func TestConfigSet_RetentionDaysIsBounded(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	a, _ := h.resolve("config.get", map[string]any{"projectKey": testProject})
	if v := a["config"].(map[string]any)["retentionDays"]; v != float64(DefaultRetentionDays) {
		t.Errorf("default retention %v", v)
	}
	for _, days := range []int{-1, maxRetentionDays + 1} {
		p := map[string]any{"projectKey": testProject, "retentionDays": days}
		if a, _ := h.resolve("config.set", p); a["ok"] != false || a["errors"].(map[string]any)["retentionDays"] == nil {
			t.Errorf("%d days: %v", days, a)
		}
	}
	h.configure(map[string]any{"retentionDays": 30})
	a, _ = h.resolve("config.get", map[string]any{"projectKey": testProject})
	if v := a["config"].(map[string]any)["retentionDays"]; v != float64(30) {
		t.Errorf("retention %v", v)
	}
}

func TestInventory_CountsEveryStoredRecordByTheSameKinds(t *testing.T) {
	h := twoChats(t)
	h.advance(time.Hour)
	a, err := h.resolve("inventory", map[string]any{})
	if err != nil || a["ok"] != true {
		t.Fatalf("inventory: %v %v", a, err)
	}
	want := map[string]int{}
	for _, k := range h.env.Store.Keys() {
		kind, ok := KindOf(k)
		if !ok {
			t.Errorf("%s has no kind", k)
		}
		want[kind.Name]++
	}
	if a["unknown"] != float64(0) {
		t.Errorf("unknown %v", a["unknown"])
	}
	rows := a["kinds"].([]any)
	if len(rows) != len(RecordKinds) {
		t.Fatalf("%d kinds, want %d", len(rows), len(RecordKinds))
	}
	for _, r := range rows {
		m := r.(map[string]any)
		name := m["kind"].(string)
		if m["count"] != float64(want[name]) || m["sealed"] != true || m["lifetime"] == "" {
			t.Errorf("%s: %v, want count %d", name, m, want[name])
		}
		if name == "issue" && m["oldestAgeSeconds"].(float64) < 3600 {
			t.Errorf("issue records' oldest age %v", m["oldestAgeSeconds"])
		}
	}
	per := a["projects"].(map[string]any)
	if len(per) != 1 || per[testProject] == nil {
		t.Errorf("projects %v", per)
	}
	one, _ := h.resolve("inventory", map[string]any{"projectKey": "OTHER"})
	for _, r := range one["kinds"].([]any) {
		if r.(map[string]any)["count"] != float64(0) {
			t.Errorf("another project's inventory counts %v", r)
		}
	}
	// An unexpected record is counted, not hidden.
	_ = h.env.Store.Set("stray:x", []byte("{}"), 0)
	a, _ = h.resolve("inventory", nil)
	if a["unknown"] != float64(1) {
		t.Errorf("unknown %v", a["unknown"])
	}
}

func scheduledCallFor(trigger string) abi.ScheduledCall {
	return abi.ScheduledCall{Context: abi.Context{Installation: "inst-1"}, Trigger: trigger}
}

func TestMappingsList_PagesByRequestKey(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	for i := 1; i <= maxListed+5; i++ {
		rec, _ := json.Marshal(issueRecord{Project: testProject, Channel: "telegram", Chat: strconv.Itoa(1000 + i), At: h.clock().Unix()})
		_ = h.env.Store.Set(issueKey("SUP-"+strconv.Itoa(i)), rec, 0)
	}
	// Another project's requests, whose keys share the prefix "SUP", are not listed.
	rec, _ := json.Marshal(issueRecord{Project: "SUPX", Channel: "telegram", Chat: "1"})
	_ = h.env.Store.Set(issueKey("SUPX-1"), rec, 0)
	seen := map[string]bool{}
	cursor := ""
	for page := 0; page < 3; page++ {
		in := map[string]any{"projectKey": testProject}
		if cursor != "" {
			in["cursor"] = cursor
		}
		a, err := h.resolve("mappings.list", in)
		if err != nil || a["ok"] != true {
			t.Fatalf("page %d: %v %v", page, a, err)
		}
		for _, r := range a["mappings"].([]any) {
			k := r.(map[string]any)["issueKey"].(string)
			if seen[k] || !strings.HasPrefix(k, "SUP-") {
				t.Errorf("%s listed twice or from another project", k)
			}
			seen[k] = true
		}
		next, _ := a["next"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != maxListed+5 {
		t.Errorf("%d mappings listed, want %d", len(seen), maxListed+5)
	}
	if a, _ := h.resolve("mappings.list", map[string]any{"projectKey": testProject, "cursor": "OTHER-1"}); a["ok"] != false {
		t.Errorf("a cursor of another project: %v", a)
	}
}

// A sweep cut short by its read bound resumes where it stopped on the next
// run, with the storage's own cursor: a key is no cursor on the host.
func TestRetention_ASweepCutShortResumesAtItsCursor(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"retentionDays": 1})
	h.b.SweepBatch = 2 // reads at most 20 mappings a run
	old := h.clock().Add(-48 * time.Hour).Unix()
	for i := 100; i < 125; i++ {
		rec, _ := json.Marshal(issueRecord{Project: testProject, Channel: "telegram", Chat: strconv.Itoa(i), At: old})
		_ = h.env.Store.Set(issueKey("SUP-"+strconv.Itoa(i)), rec, 0)
	}
	for i := 200; i < 202; i++ {
		rec, _ := json.Marshal(issueRecord{Project: testProject, Channel: "telegram", Chat: strconv.Itoa(i), At: old, Resolved: true})
		_ = h.env.Store.Set(issueKey("SUP-"+strconv.Itoa(i)), rec, 0)
	}
	has := func(k string) bool { return slices.Contains(h.env.Store.Keys(), issueKey(k)) }
	if err := h.b.Scheduled(h.env.Env, &scheduledCall); err != nil {
		t.Fatal(err)
	}
	if !has("SUP-200") || !has("SUP-201") {
		t.Fatal("the first run read past its bound")
	}
	if !slices.Contains(h.env.Store.Keys(), sweepKey(testProject)) {
		t.Fatal("the first run saved no resume point")
	}
	if err := h.b.Scheduled(h.env.Env, &scheduledCall); err != nil {
		t.Fatalf("the second run: %v", err)
	}
	if has("SUP-200") || has("SUP-201") || !has("SUP-124") {
		t.Fatal("the second run did not resume and expire the resolved mappings, or took an open one")
	}
	if slices.Contains(h.env.Store.Keys(), sweepKey(testProject)) {
		t.Fatal("a sweep that reached the end kept its resume point")
	}
	// A resume point of the older format (a key) starts the sweep over.
	_ = h.env.Store.Set(sweepKey(testProject), []byte(`{"cursor":"issue:SUP-110","at":1}`), 0)
	if err := h.b.Scheduled(h.env.Env, &scheduledCall); err != nil {
		t.Fatalf("a run from an older resume point: %v", err)
	}
}

// In a group chat /forget forgets nothing: the group's requests are all its
// members', and one member may not unlink them for the others. The member
// is told why, in the project's language; the admin's mappings.forget can.
func TestForgetCommand_InAGroupForgetsNothingAndSaysWhy(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"language": "de"})
	group := func(id int, text string, command bool) []byte {
		m := map[string]any{
			"message_id": id, "from": map[string]any{"id": 6234567890, "is_bot": false, "first_name": "Bob"},
			"chat": map[string]any{"id": -1001987654321, "type": "supergroup", "title": "Acme ops"}, "date": 1, "text": text}
		if command {
			m["entities"] = []any{map[string]any{"type": "bot_command", "offset": 0, "length": len(text)}}
		}
		b, _ := json.Marshal(map[string]any{"update_id": id, "message": m})
		return b
	}
	h.send(group(1, "Printer on fire", false))
	h.drain()
	before := h.recordsOf("-1001987654321")
	if len(before) == 0 {
		t.Fatal("nothing stored of the group's chat")
	}
	h.send(group(2, "/forget", true))
	h.drain()
	msgs := h.tg.messages()
	if last := msgs[len(msgs)-1]; last.Text != languages["de"].ForgetInGroup {
		t.Errorf("answer %q", last.Text)
	}
	if after := h.recordsOf("-1001987654321"); !slices.Equal(after, before) {
		t.Errorf("records of the group's chat changed: %v, were %v", after, before)
	}
	h.send(group(3, "Still burning", false))
	h.drain()
	if h.jira.issueCount() != 1 || len(h.jira.issue("SUP-1").Comments) != 1 {
		t.Error("the group's next message did not join its request")
	}
}

// The admin's forget runs outside the chat's queue lane: a message of the
// chat still queued then (or a dead letter replayed later) is refused, not
// turned into a new request; what the customer writes afterwards is not.
func TestMappingsForget_RefusesTheChatsMessagesQueuedBeforeIt(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.send(h.text(5123456789, "Hello my order"))
	h.drain()
	h.send(h.text(5123456789, "Queued before the forget"))
	h.advance(time.Second)
	if a, err := h.resolve("mappings.forget", map[string]any{"projectKey": testProject, "issueKey": "SUP-1"}); err != nil || a["ok"] != true {
		t.Fatalf("mappings.forget: %v %v", a, err)
	}
	h.drain()
	if h.jira.issueCount() != 1 || len(h.jira.issue("SUP-1").Comments) != 0 {
		t.Fatalf("a message queued before the forget reached Jira: %d requests", h.jira.issueCount())
	}
	if left := h.recordsOf(annaChat); len(left) != 0 {
		t.Errorf("records of the forgotten chat: %v", left)
	}
	h.advance(time.Second)
	h.send(h.text(5123456789, "Written after the forget"))
	h.drain()
	if h.jira.issueCount() != 2 {
		t.Errorf("%d requests; a message written after the forget opens a new one", h.jira.issueCount())
	}
}

// The customer's /forget runs in the chat's lane: what the customer writes
// after it, even queued before the /forget ran, opens a new request.
func TestForgetCommand_AMessageWrittenAfterItOpensANewRequest(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.send(h.text(5123456789, "Hello my order"))
	h.drain()
	h.send(h.command(5123456789, "/forget"))
	h.advance(time.Second)
	h.send(h.text(5123456789, "Written after the forget"))
	h.drain()
	if h.jira.issueCount() != 2 {
		t.Errorf("%d requests; the message after /forget opens a new one", h.jira.issueCount())
	}
}
