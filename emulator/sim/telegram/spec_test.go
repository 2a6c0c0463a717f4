package telegram

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// specPath is the machine-readable Bot API (PaulSonOfLars/telegram-bot-api-
// spec api.json), pruned to the methods the simulator serves and the types
// they and Update reach (testdata/specs/prune; RATIONALE.md says how to
// refresh it).
var specPath = filepath.Join("..", "..", "..", "testdata", "specs", "telegram", "bot-api.json")

type specField struct {
	Name     string   `json:"name"`
	Types    []string `json:"types"`
	Required bool     `json:"required"`
}

type botAPISpec struct {
	Version string `json:"version"`
	Methods map[string]struct {
		Fields  []specField `json:"fields"`
		Returns []string    `json:"returns"`
	} `json:"methods"`
	Types map[string]struct {
		Fields   []specField `json:"fields"`
		Subtypes []string    `json:"subtypes"`
	} `json:"types"`
}

func loadSpec(t *testing.T) *botAPISpec {
	t.Helper()
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	var sp botAPISpec
	if err := json.Unmarshal(data, &sp); err != nil {
		t.Fatal(err)
	}
	if len(sp.Methods) < len(methods) || len(sp.Types) < 100 {
		t.Fatalf("spec looks truncated: %d methods, %d types", len(sp.Methods), len(sp.Types))
	}
	return &sp
}

// check reports every way v (decoded with UseNumber) is not a value of one
// of types in the spec.
func (sp *botAPISpec) check(types []string, v any, path string) []string {
	var best []string
	for i, typ := range types {
		errs := sp.checkOne(typ, v, path)
		if len(errs) == 0 {
			return nil
		}
		if i == 0 || len(errs) < len(best) {
			best = errs
		}
	}
	return best
}

func (sp *botAPISpec) checkOne(typ string, v any, path string) []string {
	bad := func() []string { return []string{fmt.Sprintf("%s: %T %v is not %s", path, v, v, typ)} }
	if elem, ok := strings.CutPrefix(typ, "Array of "); ok {
		list, ok := v.([]any)
		if !ok {
			return bad()
		}
		var errs []string
		for i, x := range list {
			errs = append(errs, sp.check([]string{elem}, x, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	}
	switch typ {
	case "Integer":
		if n, ok := v.(json.Number); !ok || strings.ContainsAny(n.String(), ".eE") {
			return bad()
		}
		return nil
	case "Float":
		if _, ok := v.(json.Number); !ok {
			return bad()
		}
		return nil
	case "String":
		if _, ok := v.(string); !ok {
			return bad()
		}
		return nil
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return bad()
		}
		return nil
	case "True":
		if b, ok := v.(bool); !ok || !b {
			return bad()
		}
		return nil
	}
	ty, ok := sp.Types[typ]
	if !ok {
		return []string{fmt.Sprintf("%s: type %s is not in the spec", path, typ)}
	}
	if len(ty.Subtypes) > 0 {
		return sp.check(ty.Subtypes, v, path)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return bad()
	}
	var errs []string
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i := slices.IndexFunc(ty.Fields, func(f specField) bool { return f.Name == k })
		if i < 0 {
			errs = append(errs, fmt.Sprintf("%s.%s: no such field in %s", path, k, typ))
			continue
		}
		errs = append(errs, sp.check(ty.Fields[i].Types, obj[k], path+"."+k)...)
	}
	for _, f := range ty.Fields {
		if _, ok := obj[f.Name]; f.Required && !ok {
			errs = append(errs, fmt.Sprintf("%s: required field %s.%s missing", path, typ, f.Name))
		}
	}
	return errs
}

// decodeLoose decodes JSON keeping numbers as json.Number.
func decodeLoose(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

func TestSpec_TheCheckerCatchesMistakes(t *testing.T) {
	sp := loadSpec(t)
	tests := []struct {
		name, typ, json string
	}{
		{"an unknown field", "User", `{"id":1,"is_bot":false,"first_name":"a","nickname":"b"}`},
		{"a missing required field", "User", `{"id":1,"first_name":"a"}`},
		{"a string for an integer", "User", `{"id":"1","is_bot":false,"first_name":"a"}`},
		{"a float for an integer", "MessageEntity", `{"type":"bold","offset":0.5,"length":1}`},
		{"an object in an array", "Array of PhotoSize", `[{"file_id":"a","file_unique_id":"b","width":1,"height":1,"size":3}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := sp.check([]string{tt.typ}, decodeLoose(t, []byte(tt.json)), "v"); len(errs) == 0 {
				t.Errorf("%s accepted as %s", tt.json, tt.typ)
			}
		})
	}
}

func TestSpec_EveryParameterTheSimulatorReadsExists(t *testing.T) {
	sp := loadSpec(t)
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			sm, ok := sp.Methods[m.name]
			if !ok {
				t.Fatalf("method %s is not in the Bot API (%s)", m.name, sp.Version)
			}
			for _, p := range m.params {
				i := slices.IndexFunc(sm.Fields, func(f specField) bool { return f.Name == p.name })
				if i < 0 {
					t.Errorf("parameter %s is not in the spec", p.name)
					continue
				}
				for _, typ := range p.types {
					if !slices.Contains(sm.Fields[i].Types, typ) {
						t.Errorf("parameter %s read as %s; the spec has %v", p.name, typ, sm.Fields[i].Types)
					}
				}
			}
			for _, f := range sm.Fields {
				if f.Required && !slices.ContainsFunc(m.params, func(p param) bool { return p.name == f.Name }) {
					t.Errorf("required parameter %s is not read", f.Name)
				}
			}
		})
	}
}

func TestSpec_EverythingTheSimulatorEmitsMatchesTheAPI(t *testing.T) {
	sp := loadSpec(t)
	e := newEnv(t, Config{})
	e.setHook(t, "s")

	// What the bot's calls return.
	e.userSays(t, map[string]any{"chat_id": 12, "text": "/start hello", "first_name": "Cy", "last_name": "D", "username": "cyd"})
	results := []struct {
		name, method string
		do           func() apiResult
	}{
		{"getMe", "getMe", func() apiResult { return e.call(t, "getMe", nil) }},
		{"sendMessage with entities and a reply", "sendMessage", func() apiResult {
			return e.call(t, "sendMessage", map[string]any{"chat_id": 12, "parse_mode": "HTML",
				"text":                 `<b>b</b> <a href="https://x.org">l</a> <pre><code class="language-go">c</code></pre> <tg-emoji emoji-id="1">x</tg-emoji> <blockquote expandable>q</blockquote>`,
				"reply_parameters":     map[string]any{"message_id": 1},
				"link_preview_options": map[string]any{"is_disabled": true}})
		}},
		{"sendPhoto", "sendPhoto", func() apiResult {
			return e.callMultipart(t, "sendPhoto", url.Values{"chat_id": {"12"}, "caption": {"<i>c</i>"}, "parse_mode": {"HTML"}},
				part{"photo", "p.png", "image/png", pngImage(t, 120, 80)})
		}},
		{"sendDocument", "sendDocument", func() apiResult {
			return e.callMultipart(t, "sendDocument", url.Values{"chat_id": {"12"}}, part{"document", "a.txt", "text/plain", []byte("a")})
		}},
		{"sendChatAction", "sendChatAction", func() apiResult {
			return e.call(t, "sendChatAction", map[string]any{"chat_id": 12, "action": "typing"})
		}},
		{"setMyCommands", "setMyCommands", func() apiResult {
			return e.call(t, "setMyCommands", map[string]any{"commands": []map[string]string{{"command": "help", "description": "Help"}}})
		}},
		{"getMyCommands", "getMyCommands", func() apiResult { return e.call(t, "getMyCommands", nil) }},
		{"deleteMyCommands", "deleteMyCommands", func() apiResult { return e.call(t, "deleteMyCommands", nil) }},
		{"getWebhookInfo", "getWebhookInfo", func() apiResult { return e.call(t, "getWebhookInfo", nil) }},
		{"setWebhook", "setWebhook", func() apiResult {
			return e.call(t, "setWebhook", map[string]any{"url": "https://example.com/tg", "secret_token": "s"})
		}},
	}
	var photoFile string
	for _, r := range results {
		t.Run("result of "+r.name, func(t *testing.T) {
			res := r.do()
			if !res.OK {
				t.Fatalf("%s", res.Raw)
			}
			v := decodeLoose(t, res.Result)
			if errs := sp.check(sp.Methods[r.method].Returns, v, r.method); len(errs) > 0 {
				t.Errorf("%s\n%s", strings.Join(errs, "\n"), res.Result)
			}
			if r.method == "sendPhoto" {
				var m Message
				res.into(t, &m)
				photoFile = m.Photo[0].FileID
			}
		})
	}
	t.Run("result of getFile", func(t *testing.T) {
		res := e.call(t, "getFile", map[string]any{"file_id": photoFile})
		if errs := sp.check(sp.Methods["getFile"].Returns, decodeLoose(t, res.Result), "getFile"); len(errs) > 0 {
			t.Errorf("%s\n%s", strings.Join(errs, "\n"), res.Result)
		}
	})
	t.Run("error parameters", func(t *testing.T) {
		e.control(t, "POST", "/_sim/fail", map[string]any{"service": "telegram", "match": "getMe", "status": 429, "retry_after": 1})
		res := e.call(t, "getMe", nil)
		v := decodeLoose(t, []byte(res.Raw)).(map[string]any)
		if errs := sp.check([]string{"ResponseParameters"}, v["parameters"], "parameters"); len(errs) > 0 || res.Parameters.RetryAfter != 1 {
			t.Errorf("%v %s", errs, res.Raw)
		}
	})

	// What the webhook receives.
	for len(e.hook.got) > 0 {
		<-e.hook.got
	}
	updates := []map[string]any{
		{"chat_id": 12, "text": "plain /help"},
		{"chat_id": 12, "text": "photo", "photo": true, "media_group_id": "g1"},
		{"chat_id": 12, "text": "doc", "document": map[string]any{"file_name": "x.pdf", "size": 10}},
		{"chat_id": 12, "text": "re", "reply_to_message_id": 2},
		{"chat_id": 12, "text": "edited", "edit_of": 1},
	}
	for _, u := range updates {
		e.userSays(t, u)
	}
	e.control(t, "POST", "/_sim/telegram/block", map[string]any{"chat_id": 12})
	for i := range len(updates) + 1 {
		d := e.hook.next(t)
		t.Run(fmt.Sprintf("update %d", i), func(t *testing.T) {
			if errs := sp.check([]string{"Update"}, decodeLoose(t, d.body), "update"); len(errs) > 0 {
				t.Errorf("%s\n%s", strings.Join(errs, "\n"), d.body)
			}
		})
	}
}
