package bridge

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// agentComments makes the fake Jira answer GET .../comment/{id} with the
// given texts, as public comments.
func agentComments(h *harness, bodies map[string]string) {
	inner := h.env.JiraAPI.Handler
	for id := range bodies {
		h.jira.properties[id] = `{"key":"sd.public.comment","value":{"internal":false}}`
	}
	h.env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
		if id, ok := strings.CutPrefix(req.URL, "/rest/api/2/issue/SUP-1/comment/"); ok && req.Method == "GET" {
			if b, ok := bodies[id]; ok {
				return jsonResp(200, map[string]any{"id": id, "body": b}), nil
			}
			return jsonResp(404, map[string]any{"errorMessages": []string{"Can not find a comment for the id: " + id + "."}}), nil
		}
		return inner(req)
	}
}

func templatesSent(f *fakeWhatsApp) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, b := range f.bodies {
		if b["type"] == "template" {
			out = append(out, b["template"].(map[string]any))
		}
	}
	return out
}

func textsSent(f *fakeWhatsApp) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for i, b := range f.bodies {
		if b["type"] == "text" {
			out = append(out, f.sent[i])
		}
	}
	return out
}

const reopenTemplate = `[{"name":"support_reply_waiting","language":"en","params":["{key}"]}]`

// Outside the 24-hour window an agent's reply is held and the approved
// template sent once, naming the request; the agents are told; when the
// customer answers, every held reply goes out as it reads in Jira now.
func TestWhatsAppReplyOutsideTheWindowSendsTheTemplateAndFollowsTheAnswer(t *testing.T) {
	h, f := whatsappConversation(t)
	var tpl []WindowTemplate
	_ = json.Unmarshal([]byte(reopenTemplate), &tpl)
	h.configure(map[string]any{"channel": "whatsapp", "botToken": waPhone + ":" + waAccount + ":" + waApp + ":" + waAccess, "templates": tpl})
	agentComments(h, map[string]string{"10101": "Please send a photo of the label.", "10102": "Any news?"})
	before := len(textsSent(f))
	h.advance(25 * time.Hour)

	h.event("comment_created_public.json")
	h.drain()
	h.event("comment_created_public.json", `"id": "10101"`, `"id": "10102"`)
	h.drain()
	tpls := templatesSent(f)
	if len(tpls) != 1 || tpls[0]["name"] != "support_reply_waiting" {
		t.Fatalf("templates %v", tpls)
	}
	params, _ := json.Marshal(tpls[0]["components"])
	if !strings.Contains(string(params), `"text":"SUP-1"`) {
		t.Errorf("template parameters %s", params)
	}
	if n := len(textsSent(f)); n != before {
		t.Fatalf("%d free-form messages outside the window", n-before)
	}
	notes := internalNotes(h)
	if len(notes) != 2 || !strings.Contains(notes[0], "support_reply_waiting") || !strings.Contains(notes[0], "delivered when they answer") {
		t.Fatalf("notes %q", notes)
	}
	if keys := storedText(h, "label"); len(keys) != 0 {
		t.Fatalf("reply text stored under %v", keys)
	}
	inventoried(t, h, "held:")

	body := waText("wamid.C==", "Here I am")
	h.waPost(body, "sha256="+hmacHex([]byte(waApp), body))
	h.drain()
	got := textsSent(f)[before:]
	if len(got) != 2 || !strings.Contains(got[0], "photo of the label") || !strings.Contains(got[1], "Any news?") {
		t.Fatalf("after the answer: %q", got)
	}
	if found, _ := (store{h.env.Store}).get(heldKey(testProject, "whatsapp", waCustomer), &heldRecord{}); found {
		t.Error("the held record outlived the release")
	}
	// A further message releases nothing twice.
	body = waText("wamid.D==", "Thanks")
	h.waPost(body, "sha256="+hmacHex([]byte(waApp), body))
	h.drain()
	if n := len(textsSent(f)) - before; n != 2 {
		t.Errorf("%d replies after a second message", n)
	}
}

// A template WhatsApp refuses (an unknown name: 132001) holds nothing: the
// agents get the note that the reply was not delivered.
func TestWhatsAppRefusedTemplateBecomesTheFailureNote(t *testing.T) {
	h, f := whatsappConversation(t)
	var tpl []WindowTemplate
	_ = json.Unmarshal([]byte(reopenTemplate), &tpl)
	h.configure(map[string]any{"channel": "whatsapp", "botToken": waPhone + ":" + waAccount + ":" + waApp + ":" + waAccess, "templates": tpl})
	inner := h.env.HTTP.Handler
	h.env.HTTP.Handler = func(req *abi.Request) (*abi.Response, error) {
		if strings.Contains(string(req.Body), `"type":"template"`) {
			return &abi.Response{Status: 404, Body: []byte(`{"error":{"message":"(#132001) Template name does not exist in the translation","type":"OAuthException","code":132001,"fbtrace_id":"A"}}`)}, nil
		}
		return inner(req)
	}
	h.advance(25 * time.Hour)
	h.event("comment_created_public.json")
	h.drain()
	notes := internalNotes(h)
	if len(notes) != 1 || !strings.Contains(notes[0], "could not be delivered") {
		t.Fatalf("notes %q", notes)
	}
	var rec heldRecord
	if found, _ := (store{h.env.Store}).get(heldKey(testProject, "whatsapp", waCustomer), &rec); found && len(rec.Replies) != 0 {
		t.Errorf("held %+v", rec)
	}
	_ = f
}

// Templates are WhatsApp's, named and parameterised as Meta takes them.
func TestTemplatesAreCheckedWhenSaved(t *testing.T) {
	h := newHarness(t)
	for name, tpls := range map[string][]WindowTemplate{
		"on telegram": {{Name: "support_reply_waiting", Language: "en"}},
	} {
		a, err := h.resolve("config.set", map[string]any{"projectKey": testProject, "channel": "telegram", "botToken": goodToken,
			"serviceDeskId": "2", "requestTypeId": "11", "templates": tpls})
		if err != nil || a["ok"] != false || a["errors"].(map[string]any)["templates"] == nil {
			t.Errorf("%s: %v %v", name, a, err)
		}
	}
	cfg := Config{Channel: "whatsapp"}
	for name, tpls := range map[string][]WindowTemplate{
		"bad name":          {{Name: "Support Reply", Language: "en"}},
		"bad language":      {{Name: "ok", Language: "English"}},
		"two for one lang":  {{Name: "a", Language: "en"}, {Name: "b", Language: "en"}},
		"other placeholder": {{Name: "a", Language: "en", Params: []string{"{name}"}}},
		"empty parameter":   {{Name: "a", Language: "en", Params: []string{" "}}},
	} {
		cfg.Templates = tpls
		errs := map[string]string{}
		templateProblems(&cfg, errs)
		if errs["templates"] == "" {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg.Templates = []WindowTemplate{{Name: "support_reply_waiting", Language: "en", Params: []string{"{key}"}}, {Name: "support_reply_waiting", Language: "de_DE"}}
	errs := map[string]string{}
	if templateProblems(&cfg, errs); len(errs) != 0 {
		t.Errorf("good templates: %v", errs)
	}
	if tp, _ := cfg.windowTemplate("de"); tp.Language != "de_DE" {
		t.Errorf("for a German speaker: %+v", tp)
	}
	if tp, _ := cfg.windowTemplate("fr"); tp.Language != "en" {
		t.Errorf("for a French speaker: %+v", tp)
	}
}

// A reply WhatsApp refuses later with 131047 (the bridge's own record did
// not know the window had closed) is held and the template sent, as when
// the bridge knew; the customer's answer releases it.
func TestWhatsAppRefusalOutsideTheWindowIsHeldForTheTemplate(t *testing.T) {
	h, f := whatsappConversation(t)
	var tpl []WindowTemplate
	_ = json.Unmarshal([]byte(reopenTemplate), &tpl)
	h.configure(map[string]any{"channel": "whatsapp", "botToken": waPhone + ":" + waAccount + ":" + waApp + ":" + waAccess, "templates": tpl})
	agentComments(h, map[string]string{"10101": "Please send a photo of the label."})
	h.event("comment_created_public.json")
	h.drain()
	if len(f.ids) != 1 {
		t.Fatalf("sent %v", f.ids)
	}
	h.waSigned(waStatus(f.ids[0], "failed", 131047))
	h.waSigned(waStatus(f.ids[0], "failed", 131047)) // Meta's retry
	h.drain()
	if tpls := templatesSent(f); len(tpls) != 1 {
		t.Fatalf("templates %v", tpls)
	}
	notes := internalNotes(h)
	if len(notes) != 1 || !strings.Contains(notes[0], "support_reply_waiting") {
		t.Fatalf("notes %q", notes)
	}
	before := len(textsSent(f))
	body := waText("wamid.C==", "Here I am")
	h.waPost(body, "sha256="+hmacHex([]byte(waApp), body))
	h.drain()
	if got := textsSent(f)[before:]; len(got) != 1 || !strings.Contains(got[0], "photo of the label") {
		t.Fatalf("after the answer: %q", got)
	}
}
