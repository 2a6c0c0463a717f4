package whatsapp

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// List messages and message templates, as Meta's business-messaging-api
// v23.0 specifies them.
//
// A list message (ActionObject with button and sections, SectionObject) has
// a body text of at most 1024 characters, a button label of 1 to 20
// characters and 1 to 10 sections of rows {id, title, description}: at most
// 10 rows in all, ids of at most 200 characters unique in the message,
// titles of 1 to 24 characters, descriptions of at most 72; a section needs
// a title (at most 24 characters) when there are several. The customer's
// choice arrives as interactive.list_reply {id, title, description}.
//
// A template message (TemplateMessage, TemplateObject, LanguageObject)
// names an approved template by name and language {policy "deterministic",
// code}, with body parameters [{type "text", text}] filling its {{1}},
// {{2}}... It is delivered outside the 24-hour window, where free-form
// messages fail with 131047. Meta answers a template it does not know by
// that name and language (or not approved) with 404 and code 132001, and
// parameters that do not match the template's placeholders with 400 and
// code 132000 (Meta's error code reference).

// List message limits.
const (
	MaxListRows     = 10
	MaxListSections = 10
	MaxRowID        = 200
	MaxRowTitle     = 24
	MaxRowDesc      = 72
	MaxListButton   = 20
	MaxSectionTitle = 24
)

// Template is an approved message template: its name, language code and
// body with placeholders {{1}}, {{2}}...
type Template struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	Body     string `json:"body"`
}

// DefaultTemplates are the approved templates of a simulator configured
// with none: a utility template that invites the customer back to a
// request, in English and German.
var DefaultTemplates = []Template{
	{Name: "support_reply_waiting", Language: "en", Body: "Our support team has replied to your request {{1}}. Reply to this message to read the answer."},
	{Name: "support_reply_waiting", Language: "de", Body: "Unser Support-Team hat auf Ihre Anfrage {{1}} geantwortet. Antworten Sie auf diese Nachricht, um die Antwort zu lesen."},
}

// SentTemplate is a template as sent: which one, and its body filled in.
type SentTemplate struct {
	Name     string   `json:"name"`
	Language string   `json:"language"`
	Params   []string `json:"params,omitempty"`
	Body     string   `json:"body"`
}

// templateMsg is the template object of a sent message.
type templateMsg struct {
	Name     string `json:"name"`
	Language *struct {
		Policy string `json:"policy"`
		Code   string `json:"code"`
	} `json:"language"`
	Components []struct {
		Type       string `json:"type"`
		Parameters []struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		} `json:"parameters"`
	} `json:"components"`
}

// placeholders counts a template body's {{n}}.
func placeholders(body string) int {
	n := 0
	for i := 1; strings.Contains(body, "{{"+strconv.Itoa(i)+"}}"); i++ {
		n = i
	}
	return n
}

// template checks a template message against the approved templates; on a
// problem it returns the HTTP status and Graph error code Meta answers.
func (s *Sim) template(t *templateMsg) (sent *SentTemplate, status, code int, problem string) {
	switch {
	case t.Name == "":
		return nil, http.StatusBadRequest, CodeInvalidParam, "(#100) The parameter template[name] is required."
	case t.Language == nil || t.Language.Code == "":
		return nil, http.StatusBadRequest, CodeInvalidParam, "(#100) The parameter template[language][code] is required."
	case t.Language.Policy != "deterministic":
		return nil, http.StatusBadRequest, CodeInvalidParam, "(#100) The parameter template[language][policy] is required and must be deterministic."
	}
	var approved *Template
	for i := range s.cfg.Templates {
		if tp := &s.cfg.Templates[i]; tp.Name == t.Name && tp.Language == t.Language.Code {
			approved = tp
		}
	}
	if approved == nil {
		return nil, http.StatusNotFound, CodeTemplateMissing, "(#132001) Template name does not exist in the translation"
	}
	var params []string
	for _, c := range t.Components {
		switch c.Type {
		case "body":
			for _, p := range c.Parameters {
				if p.Type != "text" || p.Text == nil {
					return nil, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter: the simulator fills body parameters of type text only"
				}
				params = append(params, *p.Text)
			}
		case "header", "button":
			return nil, http.StatusBadRequest, CodeTemplateParams, "(#132000) Number of parameters does not match the expected number of params: the template has no " + c.Type + " parameters"
		default:
			return nil, http.StatusBadRequest, CodeInvalidParam, "(#100) Invalid parameter: unknown component type"
		}
	}
	if want := placeholders(approved.Body); len(params) != want {
		return nil, http.StatusBadRequest, CodeTemplateParams, "(#132000) Number of parameters does not match the expected number of params - body: number of localizable_params (" +
			strconv.Itoa(len(params)) + ") does not match the expected number of params (" + strconv.Itoa(want) + ")"
	}
	body := approved.Body
	for i, p := range params {
		body = strings.ReplaceAll(body, "{{"+strconv.Itoa(i+1)+"}}", p)
	}
	return &SentTemplate{Name: approved.Name, Language: approved.Language, Params: params, Body: body}, 0, 0, ""
}

// listRows checks an interactive list message against the specification's
// limits; problem says what is wrong. Rows of all sections are returned in
// order.
func (in *interactive) listRows() (label string, rows []Button, problem string) {
	switch {
	case in.Action == nil:
		return "", nil, "interactive.action is required"
	case in.Body == nil || in.Body.Text == "" || utf8.RuneCountInString(in.Body.Text) > MaxBodyText:
		return "", nil, "interactive.body.text is required, at most 1024 characters"
	case in.Action.Button == nil || *in.Action.Button == "" || utf8.RuneCountInString(*in.Action.Button) > MaxListButton:
		return "", nil, "interactive.action.button is required, at most 20 characters"
	case len(in.Action.Sections) < 1 || len(in.Action.Sections) > MaxListSections:
		return "", nil, "interactive.action.sections takes 1 to 10 sections"
	}
	ids := map[string]bool{}
	for _, sec := range in.Action.Sections {
		if len(in.Action.Sections) > 1 && sec.Title == "" || utf8.RuneCountInString(sec.Title) > MaxSectionTitle {
			return "", nil, "a section title is required with several sections, at most 24 characters"
		}
		for _, r := range sec.Rows {
			if r.ID == nil || r.Title == nil {
				return "", nil, "a row needs id and title"
			}
			id, title := *r.ID, *r.Title
			switch {
			case id == "" || len(id) > MaxRowID:
				return "", nil, "a row id is empty or over 200 characters"
			case title == "" || utf8.RuneCountInString(title) > MaxRowTitle:
				return "", nil, "a row title is empty or over 24 characters"
			case utf8.RuneCountInString(r.Description) > MaxRowDesc:
				return "", nil, "a row description is over 72 characters"
			case ids[id]:
				return "", nil, "row ids must be unique"
			}
			ids[id] = true
			rows = append(rows, Button{ID: id, Title: title})
		}
	}
	if len(rows) == 0 || len(rows) > MaxListRows {
		return "", nil, "a list message takes 1 to 10 rows in all"
	}
	return *in.Action.Button, rows, ""
}
