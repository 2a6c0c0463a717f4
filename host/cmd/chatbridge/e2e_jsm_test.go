package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/jira"
	"github.com/chatbridge/chatbridge/emulator/sim/whatsapp"
	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// JSM's default workflow statuses between which its "Transition on comment"
// rule moves a request (the Jira simulator models the rule).
const (
	waitingForSupport  = "Waiting for support"
	waitingForCustomer = "Waiting for customer"
)

// TestE2E_ACustomersMessageLeavesTheRequestWaitingForSupport is audit
// finding 10 of issue 16: the bridge writes a customer's message as the
// app's account, which JSM counts as the team's, so its rule would leave
// the request waiting for the customer (and its SLA paused) after the
// customer answered. The request must end where the customer's own comment
// would have left it: waiting for support.
func TestE2E_ACustomersMessageLeavesTheRequestWaitingForSupport(t *testing.T) {
	t.Parallel()
	s := stacktest.Shared(t)
	chat := stacktest.NewChat()
	r := s.Opened(t, chat, "The scanner jams on every page gnu7")
	status := func(want string) func() string {
		return func() string {
			if got := s.Request(t, r.Key).Status; got != want {
				return fmt.Sprintf("%s is %q", r.Key, got)
			}
			return ""
		}
	}
	if why := status(waitingForSupport)(); why != "" {
		t.Fatalf("a new request: %s", why)
	}

	// The agent asks; JSM's rule makes the request wait for the customer.
	s.Reply(t, r.Key, "Which model is it?")
	s.WaitText(t, chat, "Which model")
	if why := status(waitingForCustomer)(); why != "" {
		t.Fatalf("after the agent's question: %s", why)
	}

	// The customer answers in the chat: support has the ball again.
	s.Say(t, chat, "It is the model X200")
	s.WaitAppComments(t, r.Key, true, 1)
	waitfor.Until(t, stacktest.Wait, "the answered request waiting for support", status(waitingForSupport))

	// Another message while support has it: it stays with support, though
	// the rule takes the app's comment for the team's reply.
	s.Say(t, chat, "It jams with a single page too")
	s.WaitAppComments(t, r.Key, true, 2)
	moves := "POST /rest/api/3/issue/" + r.Key + "/transitions"
	waitfor.Until(t, stacktest.Wait, "the bridge's second move back to support", func() string {
		if n := s.JiraStats(t).Requests[moves]; n != 2 {
			return fmt.Sprintf("%d transitions by the bridge", n)
		}
		return status(waitingForSupport)()
	})

	for i, want := range []string{"It is the model X200", "It jams with a single page too"} {
		if c := s.Request(t, r.Key).AppComments(true); len(c) != 2 || c[i].Body != want {
			t.Fatalf("the customer's comments: %+v", c)
		}
	}
}

// TestE2E_AcceptanceConversationOfIssue16 is the acceptance conversation of
// issue 16, through the simulators and over WhatsApp: (a) Jira's webhook of
// an agent's public reply lacks jsdPublic, so the bridge reads the comment's
// sd.public.comment property; (b) the host is killed with SIGKILL between
// creating a customer's comment and writing its mark (the simulator holds
// the mark's PUT until the host is gone); (c) WhatsApp accepts a reply and
// reports it failed later. It ends with every public reply delivered once,
// no comment twice, and one "not delivered" note.
func TestE2E_AcceptanceConversationOfIssue16(t *testing.T) {
	heavyScenario(t)
	k := startKillable(t)
	k.useWhatsApp(t)
	const customer = "4915112340016"
	say := func(text string) {
		t.Helper()
		var res whatsapp.SendResult
		k.Call(t, "POST", "/_sim/whatsapp/send", map[string]any{"from": customer, "name": "Ada", "text": text}, &res, http.StatusOK)
		if res.Status != http.StatusOK {
			t.Fatalf("the host answered WhatsApp's delivery %d", res.Status)
		}
	}
	settled := func(what string) {
		t.Helper()
		waitfor.Until(t, time.Minute, what, func() string {
			if q := k.queue(); q.Stats.Pending != 0 || q.Stats.DeadLetters != 0 {
				return fmt.Sprintf("queue %+v", q.Stats)
			}
			return ""
		})

	}
	replies := func() []string {
		var sent []whatsapp.Sent
		k.Call(t, "GET", "/_sim/whatsapp/sent?to="+customer, nil, &sent, http.StatusOK)
		var out []string
		for _, m := range sent {
			if strings.HasPrefix(m.Text, "Reply ") {
				out = append(out, m.Text)
			}
		}
		return out
	}

	say("My laptop does not boot accept16")
	r := k.WaitRequest(t, "accept16")
	settled("the request opened and mapped to the chat")

	// (a) A public reply whose webhooks carry no jsdPublic.
	k.AgentComment(t, r.Key, map[string]any{"body": "Reply one: hold the power button for ten seconds.", "public": true, "bare": true})
	waitfor.Until(t, stacktest.Wait, "the bare reply in WhatsApp", func() string {
		if got := replies(); len(got) != 1 {
			return fmt.Sprintf("replies %q", got)
		}
		return ""
	})

	var read int64
	for call, n := range k.JiraStats(t).Requests {
		if strings.HasPrefix(call, "GET /rest/api/3/comment/") && strings.HasSuffix(call, "/properties/sd.public.comment") {
			read += n
		}
	}
	if read == 0 {
		t.Fatal("the reply went out without its sd.public.comment property being read")
	}

	// (b) The customer answers; the mark of the comment hangs, and the host
	// dies while it does.
	const marks = "PUT /rest/api/2/comment/*"
	k.Call(t, "POST", "/_sim/fail", map[string]any{"service": "jira", "match": marks, "status": 500, "hold_seconds": 600}, nil, http.StatusOK)
	followUp := "It still does not boot after that"
	say(followUp)
	waitfor.Until(t, stacktest.Wait, "the comment made and its mark pending", func() string {
		var held int64
		for call, n := range k.JiraStats(t).Requests {
			if strings.HasPrefix(call, strings.TrimSuffix(marks, "*")) {
				held += n
			}
		}
		if c := k.Request(t, r.Key).AppComments(true); len(c) != 1 || held != 1 {
			return fmt.Sprintf("%d comments, %d mark calls", len(c), held)
		}
		return ""
	})

	k.kill()
	k.Call(t, "DELETE", "/_sim/fail", nil, nil, http.StatusNoContent)
	k.start()
	settled("the redelivered follow-up")
	comments := k.Request(t, r.Key).AppComments(true)
	if len(comments) != 1 || comments[0].Body != followUp {
		t.Fatalf("after the kill, the customer's comments are %+v, want %q once", comments, followUp)
	}
	var mark struct {
		Value struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	k.jiraGet(t, "/rest/api/2/comment/"+comments[0].ID+"/properties/chatbridge.op", &mark)
	if mark.Value.ID == "" {
		t.Errorf("the redelivery adopted the comment without marking it")
	}

	// (c) WhatsApp accepts the next reply and reports it failed later.
	k.Call(t, "POST", "/_sim/whatsapp/fail-delivery", map[string]any{"to": customer, "code": whatsapp.CodeUndeliverable}, nil, http.StatusOK)
	k.Reply(t, r.Key, "Reply two: please send the serial number.")
	notes := k.WaitAppComments(t, r.Key, false, 1)
	if !strings.Contains(notes[0].Body, "131026") {
		t.Errorf("the note says %q", notes[0].Body)
	}
	k.Call(t, "POST", "/_sim/whatsapp/fail-delivery", map[string]any{"to": customer, "code": 0}, nil, http.StatusOK)
	k.Reply(t, r.Key, "Reply three: we will call you.")
	waitfor.Until(t, stacktest.Wait, "the third reply in WhatsApp", func() string {
		if got := replies(); len(got) != 2 {
			return fmt.Sprintf("replies %q", got)
		}
		return ""
	})

	settled("the conversation")

	final := func() string {
		want := []string{"Reply one: hold the power button for ten seconds.", "Reply three: we will call you."}
		if got := replies(); !slices.Equal(got, want) {
			return fmt.Sprintf("the customer got %q, want %q once each", got, want)
		}
		req := k.Request(t, r.Key)
		if c := req.AppComments(true); len(c) != 1 {
			return fmt.Sprintf("%d public comments by the app, want the follow-up once: %+v", len(c), c)
		}
		if n := req.Count("accept16"); n != 1 {
			return fmt.Sprintf("the first message is in %d places", n)
		}
		if c := req.AppComments(false); len(c) != 1 {
			return fmt.Sprintf("%d internal notes, want one \"not delivered\" note: %+v", len(c), c)
		}
		if n := len(k.RequestsWith(t, "accept16")); n != 1 {
			return fmt.Sprintf("%d requests", n)
		}
		return ""
	}
	if why := final(); why != "" {
		t.Fatal(why)
	}
	k.Stable(t, "no late duplicate", final)
}

// useWhatsApp switches the dev project to WhatsApp through the admin API,
// as an admin would; a restart of the host keeps it.
func (k *killableStack) useWhatsApp(t *testing.T) {
	t.Helper()
	k.configure(t, map[string]any{
		"projectKey": stack.Project, "enabled": true, "channel": "whatsapp", "serviceDeskId": "1", "requestTypeId": "10",
		"botToken": whatsapp.DefaultPhoneID + ":" + whatsapp.DefaultAccountID + ":" + whatsapp.DefaultAppSecret + ":" + whatsapp.DefaultAccessToken,
	})
}

// configure saves the dev project's settings (config.set) through the host
// process's admin API.
func (k *killableStack) configure(t *testing.T, settings map[string]any) {
	t.Helper()
	var list []struct {
		ID      string `json:"id"`
		SiteURL string `json:"siteUrl"`
	}
	if code := stacktest.AdminCall(t, k.adminURL, k.token, "GET", "/admin/installations", &list); code != http.StatusOK || len(list) != 1 {
		t.Fatalf("installations: %d %+v", code, list)
	}
	payload, _ := json.Marshal(settings)
	req, _ := http.NewRequest("POST", k.adminURL+"/admin/installations/"+list[0].ID+"/resolve/config.set", bytes.NewReader(payload))
	req.Header.Set("Authorization", "Bearer "+k.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"ok":true`) {
		t.Fatalf("config.set: %d %s", resp.StatusCode, raw)
	}
}

// jiraGet reads the Jira simulator's REST API as the app (the simulators
// run in the test's process).
func (k *killableStack) jiraGet(t *testing.T, path string, out any) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", jira.DefaultAuthorization)
	k.sims.Jira.API().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), out) != nil {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.Bytes())
	}
}
