package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// fakeCustomers adds JSM's customer methods to the harness's fake Jira and
// records the raiseOnBehalfOf of every request created.
type fakeCustomers struct {
	mu       sync.Mutex
	byEmail  map[string]string // email -> account id
	desk     map[string]bool   // account ids of the desk's customers
	onBehalf []string          // raiseOnBehalfOf of each create, in order ("" for the app)
	// refuse: JSM refuses to raise requests for these accounts.
	refuse map[string]bool
	calls  []string
}

func withCustomers(h *harness) *fakeCustomers {
	f := &fakeCustomers{byEmail: map[string]string{}, desk: map[string]bool{}, refuse: map[string]bool{}}
	inner := h.env.JiraAPI.Handler
	h.env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
		path, query, _ := strings.Cut(req.URL, "?")
		q, _ := url.ParseQuery(query)
		f.mu.Lock()
		f.calls = append(f.calls, req.Method+" "+path)
		switch {
		case req.Method == "POST" && path == "/rest/servicedeskapi/customer":
			defer f.mu.Unlock()
			var in struct{ Email, DisplayName string }
			_ = json.Unmarshal(req.Body, &in)
			if _, ok := f.byEmail[strings.ToLower(in.Email)]; ok {
				status := uint16(400)
				if q.Get("strictConflictStatusCode") == "true" {
					status = 409
				}
				return jsonResp(status, map[string]any{"errorMessage": "A user with that username already exists."}), nil
			}
			id := acctOf(in.Email)
			f.byEmail[strings.ToLower(in.Email)] = id
			return jsonResp(201, map[string]any{"accountId": id, "emailAddress": in.Email, "displayName": in.DisplayName}), nil
		case req.Method == "POST" && path == "/rest/servicedeskapi/servicedesk/2/customer":
			defer f.mu.Unlock()
			var in struct{ AccountIDs []string }
			_ = json.Unmarshal(req.Body, &in)
			for _, id := range in.AccountIDs {
				f.desk[id] = true
			}
			return &abi.Response{Status: 204}, nil
		case req.Method == "GET" && path == "/rest/servicedeskapi/servicedesk/2/customer":
			defer f.mu.Unlock()
			if abi.Get(req.Headers, "X-ExperimentalApi") != "opt-in" {
				return jsonResp(400, map[string]any{"errorMessage": "This API is experimental."}), nil
			}
			values := []any{}
			for email, id := range f.byEmail {
				if f.desk[id] && strings.Contains(email, strings.ToLower(q.Get("query"))) {
					values = append(values, map[string]any{"accountId": id, "emailAddress": email, "displayName": email})
				}
			}
			return jsonResp(200, map[string]any{"values": values, "isLastPage": true, "size": len(values)}), nil
		case req.Method == "POST" && path == "/rest/servicedeskapi/request":
			var in struct {
				RaiseOnBehalfOf string `json:"raiseOnBehalfOf"`
			}
			_ = json.Unmarshal(req.Body, &in)
			if f.refuse[in.RaiseOnBehalfOf] {
				f.mu.Unlock()
				return jsonResp(400, map[string]any{"errorMessage": "The user does not exist or is not a customer of this service project."}), nil
			}
			f.onBehalf = append(f.onBehalf, in.RaiseOnBehalfOf)
		}
		f.mu.Unlock()
		return inner(req)
	}
	return f
}

// acctOf is the fake account id of an email: opaque, as JSM's are.
func acctOf(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return "qm:" + hex.EncodeToString(sum[:8])
}

// deskCustomer makes email a customer of the desk, as an admin would.
func (f *fakeCustomers) deskCustomer(email string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := acctOf(email)
	f.byEmail[email], f.desk[id] = id, true
	return id
}

func (f *fakeCustomers) raisedFor() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.onBehalf)
}

var codePattern = regexp.MustCompile(`/link (\S+) ([0-9A-Z]{4}-[0-9A-Z]{4})`)

// codeOf reads the code out of the public comments of the link request.
func codeOf(t *testing.T, h *harness, key string) string {
	t.Helper()
	is := h.jira.issue(key)
	if is == nil {
		t.Fatalf("no request %s", key)
	}
	for _, c := range is.Comments {
		if m := codePattern.FindStringSubmatch(c.Body); c.Public && m != nil {
			return m[2]
		}
	}
	t.Fatalf("%s carries no public comment with a code: %+v", key, is.Comments)
	return ""
}

// linkRequests are the requests labelled chatbridge-link.
func linkRequests(h *harness) []*fakeIssue {
	var out []*fakeIssue
	for i := 1; i <= h.jira.issueCount(); i++ {
		if is := h.jira.issue("SUP-" + strconv.Itoa(i)); is != nil && slices.Contains(is.Labels, LinkLabel) {
			out = append(out, is)
		}
	}
	return out
}

func lastText(h *harness) string {
	m := h.tg.messages()
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1].Text
}

func TestLinkCodeIsBoundToTheChatTheAccountTheKeyAndTheTime(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 12, 5, 10, 7, 0, 0, time.UTC)
	slot := now.Unix() / int64(linkSlot/time.Second)
	code := linkCode(key, "SUP", "telegram", "42", "acct-1", slot)
	if !regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`).MatchString(code) {
		t.Fatalf("code %q is not two groups of Crockford base 32", code)
	}
	for _, tc := range []struct {
		name string
		ok   bool
		key  []byte
		chat string
		acct string
		code string
		at   time.Time
	}{
		{"as sent", true, key, "42", "acct-1", code, now},
		{"typed in lower case without the dash", true, key, "42", "acct-1", strings.ToLower(strings.ReplaceAll(code, "-", "")), now},
		{"in the next window", true, key, "42", "acct-1", code, now.Add(linkSlot)},
		{"two windows later", false, key, "42", "acct-1", code, now.Add(2 * linkSlot)},
		{"before it was made", false, key, "42", "acct-1", code, now.Add(-linkSlot)},
		{"from another chat", false, key, "43", "acct-1", code, now},
		{"for another account", false, key, "42", "acct-2", code, now},
		{"under another project key", false, []byte("fedcba9876543210fedcba9876543210"), "42", "acct-1", code, now},
		{"not a code", false, key, "42", "acct-1", "hello", now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := codeValid(tc.key, "SUP", "telegram", tc.chat, tc.acct, tc.code, tc.at); got != tc.ok {
				t.Errorf("codeValid = %v, want %v", got, tc.ok)
			}
		})
	}
	if normalCode("O1IL-0000") != "0111-0000" {
		t.Errorf("letters read as digits: %q", normalCode("O1IL-0000"))
	}
}

func TestParseLinkReadsTheCommandsAndRefusesWhatIsNoAddress(t *testing.T) {
	for _, tc := range []struct {
		text string
		ok   bool
		want linkCmd
	}{
		{"/link anna@example.com", true, linkCmd{email: "anna@example.com"}},
		{"/LINK@SupportBot anna@example.com 7K2Q-9XMD", true, linkCmd{email: "anna@example.com", code: "7K2Q-9XMD"}},
		{"/link anna@example.com 7K2Q 9XMD", true, linkCmd{email: "anna@example.com", code: "7K2Q9XMD"}},
		{"/link", true, linkCmd{usage: true}},
		{"/link anna", true, linkCmd{usage: true}},
		{"/link anna@example.com hello", true, linkCmd{usage: true}},
		{"/link <a@b.c>", true, linkCmd{usage: true}},
		{"/unlink", true, linkCmd{unlink: true}},
		{"/linked anna@example.com", false, linkCmd{}},
		{"please /link me", false, linkCmd{}},
	} {
		got, ok := parseLink(tc.text)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseLink(%q) = %+v, %v; want %+v, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}

// linkChat runs /link and the code's return for chat.
func linkChat(t *testing.T, h *harness, chat int64, email string) {
	t.Helper()
	before := len(linkRequests(h))
	h.send(command(h, chat, "/link "+email))
	h.drain()
	reqs := linkRequests(h)
	if len(reqs) != before+1 {
		t.Fatalf("%d link requests after /link, want %d", len(reqs), before+1)
	}
	if !strings.Contains(lastText(h), "emailed it a code") {
		t.Fatalf("chat told %q", lastText(h))
	}
	code := codeOf(t, h, reqs[len(reqs)-1].Key)
	h.send(command(h, chat, "/link "+email+" "+code))
	h.drain()
	if !strings.Contains(lastText(h), "now linked to "+email) {
		t.Fatalf("after the code the chat was told %q", lastText(h))
	}
}

const annaChat64 = 5123456789

// command is a text update that Telegram marks as a bot command.
func command(h *harness, chat int64, text string) []byte {
	var u map[string]any
	_ = json.Unmarshal(h.text(chat, text), &u)
	name, _, _ := strings.Cut(text, " ")
	u["message"].(map[string]any)["entities"] = []any{map[string]any{"type": "bot_command", "offset": 0, "length": len(name)}}
	b, _ := json.Marshal(u)
	return b
}

func TestALinkedChatRaisesItsRequestsOnTheCustomersBehalf(t *testing.T) {
	h := newHarness(t)
	f := withCustomers(h)
	h.configure(map[string]any{"identity": "optional"})
	linkChat(t, h, annaChat64, "anna@example.com")
	acct := acctOf("anna@example.com")
	if got := f.raisedFor(); len(got) != 1 || got[0] != acct {
		t.Fatalf("link request raised for %q, want the new customer", got)
	}
	f.mu.Lock()
	inDesk := f.desk[acct]
	f.mu.Unlock()
	if !inDesk {
		t.Error("the created customer was not added to the service desk")
	}
	h.send(h.text(annaChat64, "My parcel is late"))
	h.drain()
	if got := f.raisedFor(); len(got) != 2 || got[1] != acct {
		t.Fatalf("the chat's request raised for %q, want %q", got, acct)
	}
	// /unlink: the next request is the app's again.
	h.send(h.text(annaChat64, "/unlink"))
	h.send(command(h, annaChat64, "/new"))
	h.drain()
	if !slices.ContainsFunc(h.tg.messages(), func(m sentMessage) bool { return strings.Contains(m.Text, "no longer linked") }) {
		t.Error("/unlink not confirmed")
	}
	h.send(h.text(annaChat64, "Another question"))
	h.drain()
	if got := f.raisedFor(); len(got) != 3 || got[2] != "" {
		t.Fatalf("after /unlink raised for %q, want the app (\"\")", got)
	}
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "link:") {
			t.Errorf("link record %s outlived /unlink", k)
		}
	}
}

func TestAWrongOrForeignCodeLinksNothing(t *testing.T) {
	h := newHarness(t)
	f := withCustomers(h)
	h.configure(map[string]any{"identity": "optional"})
	h.send(h.text(annaChat64, "/link anna@example.com"))
	h.drain()
	code := codeOf(t, h, linkRequests(h)[0].Key)
	// Another chat that read the email cannot use it: the code is this chat's.
	h.send(h.text(6000000001, "/link anna@example.com "+code))
	h.drain()
	// A guess, and the right code too late.
	h.send(h.text(annaChat64, "/link anna@example.com AAAA-AAAA"))
	h.drain()
	if !strings.Contains(lastText(h), "does not link this chat") {
		t.Fatalf("a wrong code was answered %q", lastText(h))
	}
	h.advance(2 * linkSlot)
	h.send(h.text(annaChat64, "/link anna@example.com "+code))
	h.drain()
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "link:") {
			t.Fatalf("linked by a wrong, foreign or expired code: %s", k)
		}
	}
	h.send(h.text(annaChat64, "Hello"))
	h.drain()
	if got := f.raisedFor(); got[len(got)-1] != "" {
		t.Errorf("an unlinked chat's request raised for %q", got[len(got)-1])
	}
}

func TestLinkSaysTheSameWhetherOrNotTheAddressIsACustomer(t *testing.T) {
	h := newHarness(t)
	f := withCustomers(h)
	h.configure(map[string]any{"identity": "optional"})
	// An account the site has but the desk does not (an agent's).
	f.mu.Lock()
	f.byEmail["agent@example.com"] = acctOf("agent@example.com")
	f.mu.Unlock()
	h.send(h.text(annaChat64, "/link agent@example.com"))
	h.drain()
	agentAnswer := strings.ReplaceAll(lastText(h), "agent@example.com", "X")
	if n := len(linkRequests(h)); n != 0 {
		t.Fatalf("%d link requests for an account outside the desk", n)
	}
	f.deskCustomer("anna@example.com")
	h.send(h.text(annaChat64, "/link anna@example.com"))
	h.drain()
	if got := strings.ReplaceAll(lastText(h), "anna@example.com", "X"); got != agentAnswer {
		t.Errorf("answers differ: %q for a customer, %q for another account", got, agentAnswer)
	}
	if n := len(linkRequests(h)); n != 1 {
		t.Errorf("%d link requests for a desk customer, want 1", n)
	}
	f.mu.Lock()
	created := slices.Contains(f.calls, "POST /rest/servicedeskapi/customer") && len(f.byEmail) > 2
	f.mu.Unlock()
	if created {
		t.Error("an existing customer was created again")
	}
}

func TestRequiredIdentityAsksAnUnlinkedChatToLinkAndPassesNothingOn(t *testing.T) {
	h := newHarness(t)
	f := withCustomers(h)
	h.configure(map[string]any{"identity": "required"})
	h.send(h.text(annaChat64, "My parcel is late"))
	h.drain()
	if n := h.jira.issueCount(); n != 0 {
		t.Fatalf("%d requests raised for an unlinked chat in required mode", n)
	}
	if !strings.Contains(lastText(h), "send /link") {
		t.Fatalf("unlinked chat told %q", lastText(h))
	}
	for _, k := range h.env.Store.Keys() {
		v, _ := h.env.Store.Get(k)
		if strings.Contains(string(v), "parcel") {
			t.Errorf("%s keeps the refused message", k)
		}
	}
	linkChat(t, h, annaChat64, "anna@example.com")
	h.send(h.text(annaChat64, "My parcel is late"))
	h.drain()
	if got := f.raisedFor(); len(got) != 2 || got[1] != acctOf("anna@example.com") {
		t.Fatalf("after linking raised for %q", got)
	}
}

func TestARefusedCustomerUnlinksAndTheMessageStillArrives(t *testing.T) {
	h := newHarness(t)
	f := withCustomers(h)
	h.configure(map[string]any{"identity": "optional"})
	linkChat(t, h, annaChat64, "anna@example.com")
	f.mu.Lock()
	f.refuse[acctOf("anna@example.com")] = true // removed from the desk meanwhile
	f.mu.Unlock()
	h.send(h.text(annaChat64, "My parcel is late"))
	h.drain()
	got := f.raisedFor()
	if got[len(got)-1] != "" || !strings.Contains(h.jira.issue("SUP-2").Summary, "My parcel is late") {
		t.Fatalf("message not raised by the app after the refusal: %q", got)
	}
	if !slices.ContainsFunc(h.tg.messages(), func(m sentMessage) bool { return strings.Contains(m.Text, "link was removed") }) {
		t.Error("customer not told the link is gone")
	}
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "link:") {
			t.Errorf("stale link %s kept", k)
		}
	}
}

func TestLinkStoresOnlyTheSealedMappingAndForgetRemovesIt(t *testing.T) {
	h := newHarness(t)
	withCustomers(h)
	h.configure(map[string]any{"identity": "optional"})
	linkChat(t, h, annaChat64, "anna@example.com")
	code := codeOf(t, h, linkRequests(h)[0].Key)
	links := 0
	for _, k := range h.env.Store.Keys() {
		if _, ok := KindOf(k); !ok {
			t.Errorf("unexpected record %s: no RecordKinds entry names it", k)
		}
		v, _ := h.env.Store.Get(k)
		for _, s := range []string{"anna@example.com", code, strings.ReplaceAll(code, "-", ""), "Anna"} {
			if strings.Contains(string(v), s) || strings.Contains(k, s) {
				t.Errorf("%s holds %q", k, s)
			}
		}
		if strings.HasPrefix(k, "link:") {
			links++
			if strings.Contains(k, "5123456789") || strings.Contains(string(v), "5123456789") {
				t.Errorf("link record %s names the chat", k)
			}
		}
	}
	if links != 1 {
		t.Fatalf("%d link records, want 1", links)
	}
	h.send(h.text(annaChat64, "/forget"))
	h.drain()
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "link:") {
			t.Errorf("link %s outlived /forget", k)
		}
	}
}

func TestIdentityIsOffUnlessSetAndRefusesUnknownModes(t *testing.T) {
	h := newHarness(t)
	a := h.configure(nil)
	if got := a["config"].(map[string]any)["identity"]; got != "off" {
		t.Errorf("identity of a new project = %v, want off", got)
	}
	a, err := h.resolve("config.set", map[string]any{"projectKey": testProject, "identity": "always"})
	if err != nil || a["ok"] != false || a["errors"].(map[string]any)["identity"] == nil {
		t.Errorf("config.set accepted identity \"always\": %v %v", a, err)
	}
	// Off: /link is text like any other.
	h.send(h.text(annaChat64, "/link anna@example.com"))
	h.drain()
	if h.jira.issueCount() != 1 || len(linkRequests(h)) != 0 {
		t.Errorf("with identity off /link did something else than open a request")
	}
}

func TestAWhatsAppChatLinksWithTheSameCommands(t *testing.T) {
	h, f := whatsappConversation(t)
	withCustomers(h)
	h.configure(map[string]any{"channel": "whatsapp", "botToken": waPhone + ":" + waAccount + ":" + waApp + ":" + waAccess, "identity": "optional"})
	post := func(id, text string) {
		body := waText(id, text)
		if r := h.waPost(body, "sha256="+hmacHex([]byte(waApp), body)); r.Status != 200 {
			t.Fatalf("delivery answered %d", r.Status)
		}
		h.drain()
	}
	post("wamid.L1", "/link anna@example.com")
	reqs := linkRequests(h)
	if len(reqs) != 1 {
		t.Fatalf("%d link requests", len(reqs))
	}
	post("wamid.L2", "/link anna@example.com "+codeOf(t, h, reqs[0].Key))
	f.mu.Lock()
	sent := strings.Join(f.sent, "\n")
	f.mu.Unlock()
	if !strings.Contains(sent, "emailed it a code") || !strings.Contains(sent, "now linked to anna@example.com") {
		t.Fatalf("WhatsApp chat told %q", sent)
	}
	links := 0
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "link:") {
			links++
		}
	}
	if links != 1 {
		t.Errorf("%d link records", links)
	}
	if n := len(linkRequests(h)); n != 1 || strings.Contains(h.jira.issue("SUP-1").Description+commentsOf(h, "SUP-1"), "/link") {
		t.Errorf("the commands reached the open request, or %d link requests", n)
	}
}

func commentsOf(h *harness, key string) string {
	var b strings.Builder
	for _, c := range h.jira.issue(key).Comments {
		b.WriteString(c.Body)
	}
	return b.String()
}

func TestALinkInterruptedAfterItsRequestRaisesOneRequestAndOneCode(t *testing.T) {
	for _, tc := range []struct {
		name           string
		method, prefix string
	}{
		{"after the request", "POST", "/rest/servicedeskapi/request"},
		{"after the code's comment", "POST", "/rest/api/2/issue/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			withCustomers(h)
			h.configure(map[string]any{"identity": "optional"})
			h.send(command(h, annaChat64, "/link anna@example.com"))
			h.crashAfter(tc.method, tc.prefix, true)
			p := h.env.Pushed.Take()
			if len(p) != 1 {
				t.Fatalf("%d messages queued", len(p))
			}
			h.deliverCrashing(p[0], 1)
			h.advance(indexLag)
			h.redeliver(p[0], 2)
			reqs := linkRequests(h)
			if len(reqs) != 1 {
				t.Fatalf("%d link requests after a crash and a redelivery, want 1", len(reqs))
			}
			codes := 0
			for _, c := range reqs[0].Comments {
				if codePattern.MatchString(c.Body) {
					codes++
				}
			}
			if codes != 1 {
				t.Errorf("%d code comments, want 1", codes)
			}
			told := 0
			for _, m := range h.tg.messages() {
				if strings.Contains(m.Text, "emailed it a code") {
					told++
				}
			}
			if told != 1 {
				t.Errorf("the chat was told %d times", told)
			}
		})
	}
}
