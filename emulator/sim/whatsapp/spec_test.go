package whatsapp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cloudAPI is the pruned specification (testdata/specs/whatsapp).
type cloudAPI struct {
	Version string                                `json:"version"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
	Message struct {
		Required []string `json:"required"`
		Types    map[string]struct {
			Required []string `json:"required"`
		} `json:"types"`
	} `json:"message"`
	Buttons struct {
		BodyTextMax   int      `json:"body_text_max"`
		ButtonsMin    int      `json:"buttons_min"`
		ButtonsMax    int      `json:"buttons_max"`
		ButtonTypes   []string `json:"button_types"`
		ReplyIDMax    int      `json:"reply_id_max"`
		ReplyTitleMax int      `json:"reply_title_max"`
		Types         []string `json:"interactive_types"`
	} `json:"interactive_button"`
}

// The reply buttons the simulator takes are limited as the specification
// limits them.
func TestReplyButtonLimitsAreTheSpecifications(t *testing.T) {
	b := loadSpec(t).Buttons
	if b.BodyTextMax != MaxBodyText || b.ButtonsMin != MinButtons || b.ButtonsMax != MaxButtons || b.ReplyIDMax != MaxButtonID ||
		b.ReplyTitleMax != MaxButtonTitle || !slices.Equal(b.ButtonTypes, []string{"reply"}) || !slices.Contains(b.Types, "button") {
		t.Errorf("specification %+v", b)
	}
}

func readSpec(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "specs", "whatsapp", "cloud-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadSpec(t *testing.T) *cloudAPI {
	t.Helper()
	b := readSpec(t)
	var sp cloudAPI
	if err := json.Unmarshal(b, &sp); err != nil {
		t.Fatal(err)
	}
	if len(sp.Paths) < 50 {
		t.Fatalf("spec looks truncated: %d paths", len(sp.Paths))
	}
	return &sp
}

// Every route the simulator serves is an operation of the specification,
// its version is the specification's, and it requires what the
// specification requires.
func TestRoutes_AreAllInTheSpecification(t *testing.T) {
	sp := loadSpec(t)
	if DefaultVersion != sp.Version {
		t.Errorf("the simulator serves %s; the specification is %s", DefaultVersion, sp.Version)
	}
	for _, r := range Routes {
		if _, ok := sp.Paths[r.Path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is not in the specification", r.Method, r.Path)
		}
	}
	if !slices.Equal(RequiredMessageFields, sp.Message.Required) {
		t.Errorf("required message fields %v; the specification: %v", RequiredMessageFields, sp.Message.Required)
	}
	for typ, fields := range RequiredTypeFields {
		spec, ok := sp.Message.Types[typ]
		if !ok {
			t.Errorf("message type %s is not in the pruned specification", typ)
			continue
		}
		for _, f := range spec.Required {
			if !slices.Contains(RequiredMessageFields, f) && !slices.Contains(fields, f) {
				t.Errorf("%s: required field %s is not checked", typ, f)
			}
		}
	}
}

// A grid of methods and paths: what the simulator serves is exactly Routes
// (every other request gets the Graph API's own answer to an unknown path
// or an unsupported method), so no route outside the specification exists.
func TestRoutes_AnythingElseIsAnsweredAsTheGraphAPIAnswersIt(t *testing.T) {
	f := newFixture(t)
	v := "/" + DefaultVersion + "/"
	served := map[string]string{}
	for _, r := range Routes {
		served[r.Method+" "+r.Path] = r.Call
	}
	paths := map[string]string{
		v + DefaultPhoneID:                        "/{Version}/{Phone-Number-ID}",
		v + DefaultPhoneID + "/messages":          "/{Version}/{Phone-Number-ID}/messages",
		v + DefaultPhoneID + "/media":             "/{Version}/{Phone-Number-ID}/media",
		v + "1479537139650999":                    "/{Version}/{Media-ID}",
		v + DefaultAccountID + "/subscribed_apps": "/{Version}/{WABA-ID}/subscribed_apps",
		v + DefaultPhoneID + "/comments":          "",
		v + DefaultAccountID + "/phone_numbers":   "",
		v + DefaultPhoneID + "/messages/extra":    "",
		"/v21.0/" + DefaultPhoneID:                "",
		"/v99.0/" + DefaultPhoneID + "/messages":  "",
		"/" + DefaultPhoneID:                      "",
		"/":                                       "",
	}
	for path, tmpl := range paths {
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			st, m := f.call(method, path, "application/json", []byte("{}"))
			if _, ok := served[method+" "+tmpl]; ok && tmpl != "" {
				if e, _ := m["error"].(map[string]any); e != nil && (e["code"] == float64(CodeUnknownPath) || e["error_subcode"] == float64(SubcodeUnsupported) && tmpl != "/{Version}/{Media-ID}") {
					t.Errorf("%s %s: a served route answered as unknown: %d %v", method, path, st, m)
				}
				continue
			}
			e, _ := m["error"].(map[string]any)
			unknown := e != nil && e["code"] == float64(CodeUnknownPath) && e["type"] == "OAuthException"
			unsup := e != nil && e["code"] == float64(CodeInvalidParam) && e["error_subcode"] == float64(SubcodeUnsupported) && e["type"] == "GraphMethodException"
			if st != 400 || !unknown && !unsup || e["fbtrace_id"] == nil || e["message"] == "" {
				t.Errorf("%s %s: answered %d %v, not as the Graph API answers a route it lacks", method, path, st, m)
			}
		}
	}
}

// A message without a field the specification requires is refused as the
// Graph API refuses it: 400, code 100, naming the parameter.
func TestMessages_MissingRequiredFieldsAreRefused(t *testing.T) {
	f := newFixture(t)
	f.subscribe("v3rify")
	full := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915112345678", "type": "text", "text": map[string]any{"body": "hi"}}
	for _, field := range append(append([]string{}, RequiredMessageFields...), RequiredTypeFields["text"]...) {
		m := map[string]any{}
		for k, v := range full {
			if k != field {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		st, ans := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", b)
		e, _ := ans["error"].(map[string]any)
		if st != 400 || code(ans) != CodeInvalidParam || e == nil || !strings.Contains(e["message"].(string), field) {
			t.Errorf("without %s: %d %v", field, st, ans)
		}
	}
	// A customer known only by a user id is addressed by "recipient".
	delete(full, "to")
	full["recipient"] = "DE.49151123456780"
	b, _ := json.Marshal(full)
	if st, ans := f.call("POST", "/"+DefaultVersion+"/"+DefaultPhoneID+"/messages", "application/json", b); st != 200 {
		t.Errorf("by recipient: %d %v", st, ans)
	}
}
