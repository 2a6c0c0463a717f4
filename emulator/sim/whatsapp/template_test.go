package whatsapp

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func listMsg(to, body, button string, rows ...[2]string) map[string]any {
	rs := []any{}
	for _, r := range rows {
		rs = append(rs, map[string]any{"id": r[0], "title": r[1]})
	}
	return map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "interactive",
		"interactive": map[string]any{"type": "list", "body": map[string]any{"text": body},
			"action": map[string]any{"button": button, "sections": []any{map[string]any{"rows": rs}}}}}
}

func templateMsgTo(to, name, lang string, params ...string) map[string]any {
	tpl := map[string]any{"name": name, "language": map[string]any{"policy": "deterministic", "code": lang}}
	if len(params) > 0 {
		ps := []any{}
		for _, p := range params {
			ps = append(ps, map[string]any{"type": "text", "text": p})
		}
		tpl["components"] = []any{map[string]any{"type": "body", "parameters": ps}}
	}
	return map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template", "template": tpl}
}

// The list and template limits the simulator enforces are the
// specification's.
func TestListAndTemplateLimitsAreTheSpecifications(t *testing.T) {
	var sp struct {
		List struct {
			ButtonMax   int      `json:"button_max"`
			SectionsMin int      `json:"sections_min"`
			SectionsMax int      `json:"sections_max"`
			SectionMax  int      `json:"section_title_max"`
			RowsMax     int      `json:"rows_max"`
			RowIDMax    int      `json:"row_id_max"`
			RowTitleMax int      `json:"row_title_max"`
			RowDescMax  int      `json:"row_description_max"`
			ReplyReq    []string `json:"list_reply_required"`
		} `json:"interactive_list"`
		Template struct {
			Required     []string `json:"required"`
			LangRequired []string `json:"language_required"`
			Policies     []string `json:"language_policies"`
		} `json:"template"`
	}
	raw := readSpec(t)
	if err := json.Unmarshal(raw, &sp); err != nil {
		t.Fatal(err)
	}
	l := sp.List
	if l.ButtonMax != MaxListButton || l.SectionsMin != 1 || l.SectionsMax != MaxListSections || l.SectionMax != MaxSectionTitle ||
		l.RowsMax != MaxListRows || l.RowIDMax != MaxRowID || l.RowTitleMax != MaxRowTitle || l.RowDescMax != MaxRowDesc {
		t.Errorf("list limits in the specification: %+v", l)
	}
	slices.Sort(sp.Template.Required)
	slices.Sort(sp.Template.LangRequired)
	if !slices.Equal(sp.Template.Required, []string{"language", "name"}) || !slices.Equal(sp.Template.LangRequired, []string{"code", "policy"}) ||
		!slices.Equal(sp.Template.Policies, []string{"deterministic"}) {
		t.Errorf("template in the specification: %+v", sp.Template)
	}
}

// A list message is sent within the specification's limits only, and the
// customer's choice of a row arrives as an interactive list_reply naming
// the row's id.
func TestListMessagesAreCheckedAndAChoiceIsDelivered(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	const anna = "4915112345678"
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"from": anna, "text": "hello"}, nil)
	post := func(m map[string]any) (int, map[string]any) {
		b, _ := json.Marshal(m)
		return f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", b)
	}
	eleven := make([][2]string, 11)
	for i := range eleven {
		eleven[i] = [2]string{"rt:" + string(rune('a'+i)), "Row " + string(rune('a'+i))}
	}
	bad := map[string]map[string]any{
		"eleven rows":  listMsg(anna, "?", "Choose", eleven...),
		"no rows":      listMsg(anna, "?", "Choose"),
		"no button":    listMsg(anna, "?", "", [2]string{"a", "A"}),
		"long button":  listMsg(anna, "?", strings.Repeat("b", MaxListButton+1), [2]string{"a", "A"}),
		"long title":   listMsg(anna, "?", "Choose", [2]string{"a", strings.Repeat("t", MaxRowTitle+1)}),
		"long id":      listMsg(anna, "?", "Choose", [2]string{strings.Repeat("i", MaxRowID+1), "A"}),
		"repeated ids": listMsg(anna, "?", "Choose", [2]string{"a", "A"}, [2]string{"a", "B"}),
		"no body":      listMsg(anna, "", "Choose", [2]string{"a", "A"}),
	}
	for name, m := range bad {
		if st, ans := post(m); st != 400 || code(ans) != CodeInvalidParam {
			t.Errorf("%s: %d %v", name, st, ans)
		}
	}
	st, m := post(listMsg(anna, "What is it about?", "Choose", [2]string{"rt:10", "Get IT help"}, [2]string{"rt:11", "Report a problem"}))
	if st != 200 || sentID(m) == "" {
		t.Fatalf("list: %d %v", st, m)
	}
	var sent []Sent
	f.control("GET", "/_sim/whatsapp/sent?to="+anna, nil, &sent)
	if len(sent) != 1 || sent[0].List != "Choose" || len(sent[0].Rows) != 2 || sent[0].Rows[1] != (Button{"rt:11", "Report a problem"}) {
		t.Fatalf("sent %+v", sent)
	}
	var res SendResult
	if c := f.control("POST", "/_sim/whatsapp/press", map[string]any{"from": anna, "title": "Report a problem"}, &res); c != 200 || res.Status != 200 {
		t.Fatalf("choice: %d %+v", c, res)
	}
	d := f.hook.messageDeliveries()
	msg := value(d[len(d)-1])["messages"].([]any)[0].(map[string]any)
	in, _ := msg["interactive"].(map[string]any)
	reply, _ := in["list_reply"].(map[string]any)
	if in["type"] != "list_reply" || reply["id"] != "rt:11" || reply["title"] != "Report a problem" {
		t.Errorf("delivered %v", msg)
	}
	for _, k := range []string{"id", "title", "description"} { // list_reply_required
		if _, ok := reply[k]; !ok {
			t.Errorf("list_reply lacks %s", k)
		}
	}
}

// Outside the 24-hour window a free-form message fails with 131047 and an
// approved template is delivered; a template Meta does not know by that
// name and language is refused with 404 and 132001, wrong parameters with
// 400 and 132000.
func TestTemplatesReachTheCustomerOutsideTheWindow(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	const anna = "4915112345678"
	f.control("POST", "/_sim/whatsapp/send", map[string]any{"from": anna, "text": "hello"}, nil)
	f.control("POST", "/_sim/whatsapp/age", map[string]any{"wa_id": anna, "hours": 25}, nil)
	post := func(m map[string]any) (int, map[string]any) {
		b, _ := json.Marshal(m)
		return f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", b)
	}
	st, m := post(map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": anna, "type": "text", "text": map[string]any{"body": "late"}})
	if st != 200 || f.statusesOf(sentID(m), "failed") == nil {
		t.Fatalf("free-form outside the window: %d %v", st, m)
	}
	if fs := f.statusesOf(sentID(m), "failed"); fs[len(fs)-1]["errors"].([]any)[0].(map[string]any)["code"] != float64(CodeWindowClosed) {
		t.Errorf("failure %v", fs)
	}
	refused := map[string]struct {
		m      map[string]any
		status int
		code   int
	}{
		"unknown name":     {templateMsgTo(anna, "no_such_template", "en", "SUP-1"), 404, CodeTemplateMissing},
		"unknown language": {templateMsgTo(anna, "support_reply_waiting", "fr", "SUP-1"), 404, CodeTemplateMissing},
		"no parameters":    {templateMsgTo(anna, "support_reply_waiting", "en"), 400, CodeTemplateParams},
		"two parameters":   {templateMsgTo(anna, "support_reply_waiting", "en", "SUP-1", "x"), 400, CodeTemplateParams},
		"no policy": {func() map[string]any {
			m := templateMsgTo(anna, "support_reply_waiting", "en", "SUP-1")
			m["template"].(map[string]any)["language"] = map[string]any{"code": "en"}
			return m
		}(), 400, CodeInvalidParam},
		"no template": {map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": anna, "type": "template"}, 400, CodeInvalidParam},
	}
	for name, c := range refused {
		if st, ans := post(c.m); st != c.status || code(ans) != c.code {
			t.Errorf("%s: %d %v", name, st, ans)
		}
	}
	st, m = post(templateMsgTo(anna, "support_reply_waiting", "de", "SUP-7"))
	if st != 200 || f.statusesOf(sentID(m), "delivered") == nil {
		t.Fatalf("template: %d %v", st, m)
	}
	var sent []Sent
	f.control("GET", "/_sim/whatsapp/sent?to="+anna, nil, &sent)
	last := sent[len(sent)-1]
	if last.Type != "template" || last.Template == nil || last.Template.Name != "support_reply_waiting" || last.Template.Language != "de" ||
		!strings.Contains(last.Text, "Anfrage SUP-7 geantwortet") {
		t.Errorf("sent %+v", last)
	}
	// A template does not open the window: only the customer does.
	st, m = post(map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": anna, "type": "text", "text": map[string]any{"body": "still late"}})
	if st != 200 || f.statusesOf(sentID(m), "failed") == nil {
		t.Errorf("free-form after a template: %d %v", st, m)
	}
}
