package bridge

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// feedback plays JSM's request feedback: GET answers 404 while there is
// none; POST takes a rating of 1 to 5 and refuses anything else with 400.
func (j *fakeJira) feedback(req *abi.Request, is *fakeIssue) *abi.Response {
	switch req.Method {
	case "GET":
		if is.Feedback == "" {
			return jsonResp(404, map[string]any{"errorMessage": "No feedback found"})
		}
		return &abi.Response{Status: 200, Body: []byte(is.Feedback)}
	case "POST":
		var in struct {
			Type   string `json:"type"`
			Rating int    `json:"rating"`
		}
		if err := json.Unmarshal(req.Body, &in); err != nil || in.Rating < 1 || in.Rating > 5 || in.Type != "csat" {
			return jsonResp(400, map[string]any{"errorMessage": "rating must be 1 to 5"})
		}
		if is.Feedback != "" {
			j.t.Errorf("fake Jira: a second feedback for %s", is.Key)
		}
		is.Feedback = string(req.Body)
		return &abi.Response{Status: 200, Body: req.Body}
	}
	return jsonResp(405, nil)
}

// press builds a callback_query update: the customer of chat pressed a
// button with data under the bot's message.
func (h *harness) press(chat int64, data string) []byte {
	h.seq++
	u := map[string]any{
		"update_id": 900000000 + h.seq,
		"callback_query": map[string]any{
			"id":            "cbq" + strconv.Itoa(h.seq),
			"from":          map[string]any{"id": chat, "is_bot": false, "first_name": "Anna"},
			"chat_instance": "-77",
			"data":          data,
			"message": map[string]any{
				"message_id": 2002, "date": 1763805300, "text": "How satisfied are you?",
				"chat": map[string]any{"id": chat, "type": "private", "first_name": "Anna"},
			},
		},
	}
	b, _ := json.Marshal(u)
	return b
}

// drainNow delivers what is due now and returns the delayed messages
// undelivered: the customer acts before the comment window closes.
func (h *harness) drainNow() []sdktest.Pushed {
	h.t.Helper()
	var later []sdktest.Pushed
	for round := 0; round < 50; round++ {
		items := h.env.Pushed.Take()
		if len(items) == 0 {
			return later
		}
		for _, p := range items {
			if p.Delay > 0 && p.Queue == QueueInbound {
				later = append(later, p)
				continue
			}
			h.advance(p.Delay)
			h.deliver(p, 1)
		}
	}
	h.t.Fatal("queue never drained")
	return nil
}

// resolved is a conversation whose request SUP-1 was resolved.
func resolved(t *testing.T) *harness {
	h := conversation(t)
	h.event("issue_updated_done.json")
	h.drain()
	return h
}

func feedbackOf(t *testing.T, h *harness, key string) (rating int, comment string) {
	t.Helper()
	var f struct {
		Rating  int `json:"rating"`
		Comment *struct {
			Body string `json:"body"`
		} `json:"comment"`
	}
	raw := h.jira.issue(key).Feedback
	if raw == "" {
		return 0, ""
	}
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		t.Fatal(err)
	}
	if f.Comment != nil {
		comment = f.Comment.Body
	}
	return f.Rating, comment
}

func TestAResolvedRequestAsksForARatingWithFiveButtons(t *testing.T) {
	h := resolved(t)
	m := h.tg.messages()
	if len(m) != 2 || m[1].Text != surveyLanguages["de"].Prompt { // Anna writes in German
		t.Fatalf("sent %+v", m)
	}
	var markup struct {
		Keyboard [][]struct {
			Text string `json:"text"`
			Data string `json:"callback_data"`
		} `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(m[1].Markup), &markup); err != nil || len(markup.Keyboard) != 1 || len(markup.Keyboard[0]) != 5 {
		t.Fatalf("reply_markup %s", m[1].Markup)
	}
	for i, b := range markup.Keyboard[0] {
		if b.Data != "csat:"+strconv.Itoa(i+1)+":SUP-1" || b.Text != strings.Repeat("★", i+1) {
			t.Errorf("button %d: %+v", i, b)
		}
	}
}

func TestAProjectWithSatisfactionOffSendsNoSurvey(t *testing.T) {
	h := conversation(t)
	h.configure(map[string]any{"botToken": nil, "satisfaction": false})
	h.event("issue_updated_done.json")
	h.drain()
	if m := h.tg.messages(); len(m) != 1 || m[0].Markup != "" {
		t.Fatalf("sent %+v", m)
	}
	h.send(h.press(5123456789, "csat:5:SUP-1"))
	h.drain()
	if h.jira.issue("SUP-1").Feedback != "" {
		t.Fatal("a press counted although the project asks for no ratings")
	}
}

func TestARatingAndItsCommentReachJiraAsOneFeedback(t *testing.T) {
	h := resolved(t)
	h.send(h.press(5123456789, "csat:4:SUP-1"))
	later := h.drainNow()
	if len(later) != 1 || later[0].Delay != surveyWindow {
		t.Fatalf("closing job %+v", later)
	}
	if len(h.tg.answered) != 1 || !strings.Contains(h.tg.answered[0], `"callback_query_id":"cbq`) {
		t.Fatalf("answerCallbackQuery calls %v", h.tg.answered)
	}
	if h.jira.issue("SUP-1").Feedback != "" {
		t.Fatal("feedback posted before the comment window closed")
	}
	var rec csatRecord
	if found, _ := (store{h.env.Storage}).get(csatKey(testProject, "telegram", annaChat), &rec); !found || rec.Rating != 4 || rec.Issue != "SUP-1" {
		t.Fatalf("pending rating %+v (found %v)", rec, found)
	}
	comment := h.text(5123456789, "Quick and friendly, thanks")
	h.send(comment)
	h.send(comment) // Telegram's retry of the same update
	h.drainNow()
	if r, c := feedbackOf(t, h, "SUP-1"); r != 4 || c != "Quick and friendly, thanks" {
		t.Fatalf("feedback %d %q", r, c)
	}
	if h.jira.issueCount() != 1 {
		t.Fatal("the comment opened a new request")
	}
	m := h.tg.messages()
	if last := m[len(m)-1].Text; last != surveyLanguages["de"].Commented { // Anna writes in German
		t.Fatalf("last message %q", last)
	}
	for _, k := range h.env.Store.Keys() {
		v, _ := h.env.Store.Get(k)
		if strings.HasPrefix(k, "csat:") || strings.Contains(string(v), "Quick and friendly") {
			t.Errorf("%s outlived the rating, or holds its comment", k)
		}
	}
	// The window's closing job finds nothing left to post.
	h.advance(surveyWindow)
	h.deliver(later[0], 1)
	if r, _ := feedbackOf(t, h, "SUP-1"); r != 4 {
		t.Fatalf("feedback changed to %d", r)
	}
}

func TestARatingWithoutACommentIsPostedWhenTheWindowCloses(t *testing.T) {
	h := resolved(t)
	h.send(h.press(5123456789, "csat:2:SUP-1"))
	h.drain() // the closing job, after surveyWindow
	if r, c := feedbackOf(t, h, "SUP-1"); r != 2 || c != "" {
		t.Fatalf("feedback %d %q", r, c)
	}
	if keys := h.env.Store.Keys(); strings.Contains(strings.Join(keys, " "), "csat:") {
		t.Fatalf("pending rating kept: %v", keys)
	}
}

func TestAMessageAfterTheWindowIsANewRequestNotAComment(t *testing.T) {
	h := resolved(t)
	h.send(h.press(5123456789, "csat:5:SUP-1"))
	later := h.drainNow()
	h.advance(surveyWindow + time.Minute)
	h.send(h.text(5123456789, "A new question"))
	h.drainNow()
	if h.jira.issueCount() != 2 {
		t.Fatal("a message after the window did not open a request")
	}
	for _, p := range later {
		h.deliver(p, 1)
	}
	if r, c := feedbackOf(t, h, "SUP-1"); r != 5 || c != "" {
		t.Fatalf("feedback %d %q", r, c)
	}
}

func TestAPressThatDoesNotBelongToTheChatIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		chat       int64
		resolve    bool
	}{
		{"another chat's request", "csat:5:SUP-1", 5999999999, true},
		{"an open request", "csat:5:SUP-1", 5123456789, false},
		{"an unknown request", "csat:5:SUP-77", 5123456789, true},
		{"a rating out of the scale", "csat:9:SUP-1", 5123456789, true},
		{"data the bridge never sent", "menu:1", 5123456789, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := conversation(t)
			if tc.resolve {
				h.event("issue_updated_done.json")
				h.drain()
			}
			h.send(h.press(tc.chat, tc.data))
			h.drain()
			if f := h.jira.issue("SUP-1").Feedback; f != "" {
				t.Fatalf("feedback %s", f)
			}
			if len(h.tg.answered) != 1 {
				t.Fatalf("press answered %d times", len(h.tg.answered))
			}
			for _, k := range h.env.Store.Keys() {
				if strings.HasPrefix(k, "csat:") {
					t.Fatalf("pending rating %s", k)
				}
			}
		})
	}
}

// A press that overtakes the resolution event's write of Resolved (the
// event queues the survey first) is taken when Jira says the request is
// done: a WhatsApp rating was refused so, 50 ms after its survey, on a
// loaded machine.
func TestAPressThatOvertakesTheResolutionsRecordIsTakenWhenJiraSaysDone(t *testing.T) {
	h := conversation(t)
	is := h.jira.issue("SUP-1")
	h.jira.mu.Lock()
	is.Status, is.Category = "Done", "DONE" // resolved in Jira; the event not yet handled
	h.jira.mu.Unlock()
	h.send(h.press(5123456789, "csat:4:SUP-1"))
	h.drainNow()
	var rec csatRecord
	if found, _ := (store{h.env.Storage}).get(csatKey(testProject, "telegram", annaChat), &rec); !found || rec.Rating != 4 || rec.Issue != "SUP-1" {
		t.Fatalf("pending rating %+v (found %v): the press was refused", rec, found)
	}
}

func TestWhereJSMTakesNoFeedbackTheRatingIsANoteAndAProperty(t *testing.T) {
	h := resolved(t)
	h.jira.fail("POST", "/rest/servicedeskapi/request/SUP-1/feedback", 400, 1)
	h.send(h.press(5123456789, "csat:3:SUP-1"))
	h.drainNow()
	h.send(h.text(5123456789, "Took a while"))
	h.drainNow()
	is := h.jira.issue("SUP-1")
	if is.Feedback != "" {
		t.Fatalf("feedback %s", is.Feedback)
	}
	var prop struct {
		Rating  int    `json:"rating"`
		Scale   int    `json:"scale"`
		Channel string `json:"channel"`
	}
	if err := json.Unmarshal([]byte(is.Satisfaction), &prop); err != nil || prop.Rating != 3 || prop.Scale != 5 || prop.Channel != "telegram" {
		t.Fatalf("property %s", is.Satisfaction)
	}
	notes := 0
	for _, c := range is.allComments() {
		if !c.Public && strings.Contains(c.Body, "rated this request 3 of 5 in Telegram") && strings.Contains(c.Body, "Took a while") {
			notes++
		}
	}
	if notes != 1 {
		t.Fatalf("%d rating notes in %+v", notes, is.allComments())
	}
}

func TestATemporaryJiraFailureRetriesTheRatingOnce(t *testing.T) {
	h := resolved(t)
	h.jira.fail("POST", "/rest/servicedeskapi/request/SUP-1/feedback", 503, 2)
	h.send(h.press(5123456789, "csat:4:SUP-1"))
	h.drain()
	if r, _ := feedbackOf(t, h, "SUP-1"); r != 4 {
		t.Fatalf("feedback %d after retries", r)
	}
}

func TestForgetDropsAPendingRating(t *testing.T) {
	h := resolved(t)
	h.send(h.press(5123456789, "csat:1:SUP-1"))
	later := h.drainNow()
	h.send(h.text(5123456789, "/forget"))
	h.drainNow()
	for _, p := range later {
		h.advance(p.Delay)
		h.deliver(p, 1)
	}
	if f := h.jira.issue("SUP-1").Feedback; f != "" {
		t.Fatalf("a forgotten chat's rating was posted: %s", f)
	}
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "csat:") {
			t.Fatalf("%s outlived /forget", k)
		}
	}
}

func TestThePendingRatingIsAnInventoriedSealedKindWithoutText(t *testing.T) {
	h := resolved(t)
	h.send(h.press(5123456789, "csat:4:SUP-1"))
	h.drainNow()
	found := false
	for _, k := range h.env.Store.Keys() {
		if !strings.HasPrefix(k, "csat:") {
			continue
		}
		found = true
		kind, ok := KindOf(k)
		if !ok || !kind.Sealed || kind.project(k, nil) != testProject {
			t.Fatalf("%s: kind %+v %v", k, kind, ok)
		}
		v, _ := h.env.Store.Get(k)
		if kind.at(v) == 0 {
			t.Errorf("%s carries no time", k)
		}
	}
	if !found {
		t.Fatal("no pending rating stored")
	}
	h.advance(csatTTL + time.Minute)
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "csat:") {
			t.Errorf("%s outlived its TTL", k)
		}
	}
}

func TestChoiceDataRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		data   string
		rating int
		issue  string
		ok     bool
	}{
		{"csat:1:SUP-1", 1, "SUP-1", true},
		{"csat:5:AB_C-12345", 5, "AB_C-12345", true},
		{"csat:0:SUP-1", 0, "", false},
		{"csat:6:SUP-1", 0, "", false},
		{"csat:12:SUP-1", 0, "", false},
		{"csat:3:sup-1", 0, "", false},
		{"csat:3:", 0, "", false},
		{"rate:3:SUP-1", 0, "", false},
	} {
		r, issue, ok := parseChoice(tc.data)
		if r != tc.rating || issue != tc.issue || ok != tc.ok {
			t.Errorf("parseChoice(%q) = %d %q %v", tc.data, r, issue, ok)
		}
	}
	three := surveyChoices(surveyLanguages["en"], "SUP-1", 3)
	if len(three) != 3 || three[0].Data != "csat:1:SUP-1" || three[1].Data != "csat:3:SUP-1" || three[2].Data != "csat:5:SUP-1" {
		t.Fatalf("three buttons %+v", three)
	}
	for _, c := range three {
		if !channel.ValidChoiceData(c.Data) || len([]rune(c.Label)) > 20 { // WhatsApp's title limit
			t.Errorf("button %+v", c)
		}
	}
	if surveyChoices(surveyLanguages["en"], "SUP-1", 2) != nil {
		t.Error("buttons for a channel that shows two")
	}
	if surveyChoices(surveyLanguages["en"], strings.Repeat("A", 60)+"-1", 5) != nil {
		t.Error("buttons whose data does not fit")
	}
}

// The survey speaks every language the bot speaks, with every text.
func TestTheSurveySpeaksEveryLanguageOfTheBot(t *testing.T) {
	for lang := range languages {
		st, ok := surveyLanguages[lang]
		if !ok {
			t.Errorf("no survey texts in %s", lang)
			continue
		}
		for name, s := range map[string]string{"prompt": st.Prompt, "thanks": st.Thanks, "commented": st.Commented,
			"closed": st.Closed, "already": st.Already, "low": st.Low, "mid": st.Mid, "high": st.High} {
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s: the %s text is empty", lang, name)
			}
		}
		if !strings.Contains(st.Thanks, "{minutes}") {
			t.Errorf("%s: the thanks text lacks {minutes}", lang)
		}
	}
}
