// Command prune refreshes the messenger specifications under testdata/specs
// from the services' full published files (see RATIONALE.md, "Which
// specifications are the simulators' law?"):
//
//	go run ./testdata/specs/prune telegram FULL.json  > testdata/specs/telegram/bot-api.json
//	go run ./testdata/specs/prune whatsapp FULL.yaml SOURCE > testdata/specs/whatsapp/cloud-api.json
//
// Telegram keeps the methods the simulator serves and every type they and
// Update reach; WhatsApp keeps every path with its methods, summary and
// parameters, the request body of the calls the bridge makes, and the
// webhook's statuses, the reply buttons and the list of an interactive
// message and of its answer (InteractiveObject, ActionObject, SectionObject,
// InteractiveButtonReplyContent, InteractiveListReplyContent) with their
// limits, and the template object. Descriptions and examples are dropped.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: prune telegram FULL.json | prune whatsapp FULL.yaml SOURCE")
		os.Exit(2)
	}
	var out any
	var err error
	switch os.Args[1] {
	case "telegram":
		out, err = telegram(os.Args[2])
	case "whatsapp":
		source := ""
		if len(os.Args) > 3 {
			source = os.Args[3]
		}
		out, err = whatsapp(os.Args[2], source)
	default:
		err = fmt.Errorf("unknown service %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "prune:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "prune:", err)
		os.Exit(1)
	}
}

// TelegramMethods are the Bot API methods the simulator serves.
var TelegramMethods = []string{"getMe", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo", "sendMessage",
	"sendPhoto", "sendDocument", "sendVoice", "sendVideo", "sendChatAction", "getFile", "setMyCommands", "getMyCommands", "deleteMyCommands", "answerCallbackQuery",
	"createForumTopic"}

type tgField struct {
	Name     string   `json:"name"`
	Types    []string `json:"types"`
	Required bool     `json:"required"`
}

type tgFull struct {
	Version     string `json:"version"`
	ReleaseDate string `json:"release_date"`
	Changelog   string `json:"changelog"`
	Methods     map[string]struct {
		Fields  []tgField `json:"fields"`
		Returns []string  `json:"returns"`
	} `json:"methods"`
	Types map[string]struct {
		Fields   []tgField `json:"fields,omitempty"`
		Subtypes []string  `json:"subtypes,omitempty"`
	} `json:"types"`
}

func telegram(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var full tgFull
	if err := json.Unmarshal(b, &full); err != nil {
		return nil, err
	}
	word := regexp.MustCompile(`[A-Z][A-Za-z]+`)
	todo := []string{"Update", "ResponseParameters"}
	refer := func(types []string) {
		for _, t := range types {
			for _, w := range word.FindAllString(t, -1) {
				if _, ok := full.Types[w]; ok {
					todo = append(todo, w)
				}
			}
		}
	}
	type method struct {
		Fields  []tgField `json:"fields"`
		Returns []string  `json:"returns"`
	}
	methods := map[string]method{}
	for _, name := range TelegramMethods {
		m, ok := full.Methods[name]
		if !ok {
			return nil, fmt.Errorf("method %s is not in the Bot API %s", name, full.Version)
		}
		if m.Fields == nil {
			m.Fields = []tgField{}
		}
		methods[name] = method(m)
		for _, f := range m.Fields {
			refer(f.Types)
		}
		refer(m.Returns)
	}
	types := map[string]any{}
	for len(todo) > 0 {
		t := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if _, done := types[t]; done {
			continue
		}
		ty := full.Types[t]
		types[t] = ty
		for _, f := range ty.Fields {
			refer(f.Types)
		}
		todo = append(todo, ty.Subtypes...)
	}
	return map[string]any{
		"source":       "Telegram Bot API, scraped by github.com/PaulSonOfLars/telegram-bot-api-spec (api.json)",
		"version":      full.Version,
		"release_date": full.ReleaseDate,
		"changelog":    full.Changelog,
		"methods":      methods,
		"types":        types,
	}, nil
}

// WhatsAppCalls are the Graph API operations whose request bodies are kept.
var WhatsAppCalls = [][2]string{
	{"post", "/{Version}/{Phone-Number-ID}/messages"},
	{"post", "/{Version}/{Phone-Number-ID}/media"},
	{"post", "/{Version}/{WABA-ID}/subscribed_apps"},
}

// WhatsAppSent are the message types the bridge sends.
var WhatsAppSent = []string{"text", "document", "interactive", "template", "image", "audio", "video"}

func whatsapp(path, source string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	info := doc["info"].(map[string]any)
	comps := doc["components"].(map[string]any)
	schemas := comps["schemas"].(map[string]any)
	params := comps["parameters"].(map[string]any)
	ref := func(v any) map[string]any {
		m, _ := v.(map[string]any)
		for m != nil {
			r, ok := m["$ref"].(string)
			if !ok {
				return m
			}
			name := r[strings.LastIndex(r, "/")+1:]
			if strings.Contains(r, "/parameters/") {
				m, _ = params[name].(map[string]any)
			} else {
				m, _ = schemas[name].(map[string]any)
			}
		}
		return m
	}
	// object flattens allOf into properties and required fields.
	var object func(m map[string]any) (props, required []string)
	object = func(m map[string]any) (props, required []string) {
		m = ref(m)
		for _, part := range list(m["allOf"]) {
			p, r := object(ref(part))
			props, required = append(props, p...), append(required, r...)
		}
		for k := range mapOf(m["properties"]) {
			props = append(props, k)
		}
		for _, r := range list(m["required"]) {
			required = append(required, r.(string))
		}
		sort.Strings(props)
		props = slices.Compact(props)
		sort.Strings(required)
		return props, slices.Compact(required)
	}
	paths := map[string]any{}
	for p, v := range mapOf(doc["paths"]) {
		ops := map[string]any{}
		for method, op := range mapOf(v) {
			o, ok := op.(map[string]any)
			if !ok || !slices.Contains([]string{"get", "post", "put", "delete", "patch"}, method) {
				continue
			}
			var ps [][2]string
			for _, q := range list(o["parameters"]) {
				q := ref(q)
				name, _ := q["name"].(string)
				in, _ := q["in"].(string)
				if in == "header" {
					continue
				}
				ps = append(ps, [2]string{name, in})
			}
			entry := map[string]any{"summary": o["summary"], "parameters": ps}
			if dep, _ := o["deprecated"].(bool); dep {
				entry["deprecated"] = true
			}
			if slices.Contains(WhatsAppCalls, [2]string{method, p}) {
				body := map[string]any{}
				for ct, c := range mapOf(mapOf(o["requestBody"])["content"]) {
					props, req := object(ref(mapOf(c)["schema"]))
					body[ct] = map[string]any{"properties": props, "required": req}
				}
				entry["body"] = body
			}
			ops[method] = entry
		}
		paths[p] = ops
	}
	msgs := map[string]any{}
	base, baseReq := object(ref(map[string]any{"$ref": "#/components/schemas/BaseMessageProperties"}))
	for _, t := range WhatsAppSent {
		name := strings.ToUpper(t[:1]) + t[1:] + "Message"
		props, req := object(ref(map[string]any{"$ref": "#/components/schemas/" + name}))
		msgs[t] = map[string]any{"properties": props, "required": req}
	}
	statusProps, statusReq := object(ref(map[string]any{"$ref": "#/components/schemas/Statuses"}))
	statusEnum := mapOf(mapOf(ref(map[string]any{"$ref": "#/components/schemas/Statuses"})["properties"])["status"])["enum"]
	errProps, _ := object(ref(map[string]any{"$ref": "#/components/schemas/StatusError"}))
	var inbound []string
	for k := range mapOf(mapOf(ref(map[string]any{"$ref": "#/components/schemas/IncomingMessage"})["discriminator"])["mapping"]) {
		inbound = append(inbound, k)
	}
	sort.Strings(inbound)
	buttons, err := replyButtons(ref)
	if err != nil {
		return nil, err
	}
	lists, err := listMessage(ref)
	if err != nil {
		return nil, err
	}
	tpl := schema(ref, "TemplateObject")
	lang := schema(ref, "LanguageObject")
	return map[string]any{
		"source":             source,
		"interactive_button": buttons,
		"interactive_list":   lists,
		"template": map[string]any{
			"required":          tpl["required"],
			"language_required": lang["required"],
			"language_policies": mapOf(mapOf(lang["properties"])["policy"])["enum"],
			"component_types":   mapOf(mapOf(schema(ref, "TemplateComponent")["properties"])["type"])["enum"],
		},
		"title":   info["title"],
		"version": info["version"],
		"server":  "https://graph.facebook.com",
		"paths":   paths,
		"message": map[string]any{"properties": base, "required": baseReq, "types": msgs},
		"webhook": map[string]any{
			"inbound_types": inbound,
			"status":        map[string]any{"properties": statusProps, "required": statusReq, "values": statusEnum},
			"status_error":  map[string]any{"properties": errProps},
		},
	}, nil
}

// replyButtons records the interactive message of type "button": the
// interactive types, the body's limit, the reply buttons' item limits, and
// the button_reply a press delivers.
func replyButtons(ref func(any) map[string]any) (map[string]any, error) {
	schema := func(name string) map[string]any { return ref(map[string]any{"$ref": "#/components/schemas/" + name}) }
	obj := schema("InteractiveObject")
	body := mapOf(mapOf(schema("BodyObject")["properties"])["text"])
	var btns map[string]any
	for _, alt := range list(schema("ActionObject")["oneOf"]) {
		if b := mapOf(mapOf(mapOf(alt)["properties"])["buttons"]); b != nil {
			btns = b
		}
	}
	item := mapOf(btns["items"])
	reply := mapOf(mapOf(item["properties"])["reply"])
	rp := mapOf(reply["properties"])
	press := mapOf(mapOf(schema("InteractiveButtonReplyContent")["properties"])["button_reply"])
	if obj == nil || body == nil || btns == nil || reply == nil || press == nil {
		return nil, fmt.Errorf("whatsapp: reply button schemas missing")
	}
	return map[string]any{
		"interactive_types":     mapOf(mapOf(obj["properties"])["type"])["enum"],
		"interactive_required":  obj["required"],
		"body_text_max":         body["maxLength"],
		"buttons_min":           btns["minItems"],
		"buttons_max":           btns["maxItems"],
		"button_required":       item["required"],
		"button_types":          mapOf(mapOf(item["properties"])["type"])["enum"],
		"reply_required":        reply["required"],
		"reply_id_max":          mapOf(rp["id"])["maxLength"],
		"reply_title_max":       mapOf(rp["title"])["maxLength"],
		"button_reply_required": press["required"],
	}, nil
}

func schema(ref func(any) map[string]any, name string) map[string]any {
	return ref(map[string]any{"$ref": "#/components/schemas/" + name})
}

// listMessage records the interactive message of type "list": the action's
// button label and sections, the rows' limits, and the list_reply a choice
// delivers.
func listMessage(ref func(any) map[string]any) (map[string]any, error) {
	var action map[string]any
	for _, alt := range list(schema(ref, "ActionObject")["oneOf"]) {
		props := mapOf(mapOf(alt)["properties"])
		if props["button"] != nil && props["sections"] != nil {
			action = props
		}
	}
	section := mapOf(schema(ref, "SectionObject")["properties"])
	rows := mapOf(section["rows"])
	row := mapOf(rows["items"])
	rp := mapOf(row["properties"])
	reply := mapOf(mapOf(schema(ref, "InteractiveListReplyContent")["properties"])["list_reply"])
	if action == nil || rows == nil || reply == nil {
		return nil, fmt.Errorf("whatsapp: list message schemas missing")
	}
	sections := mapOf(action["sections"])
	return map[string]any{
		"button_max":          mapOf(action["button"])["maxLength"],
		"sections_min":        sections["minItems"],
		"sections_max":        sections["maxItems"],
		"section_title_max":   mapOf(section["title"])["maxLength"],
		"rows_max":            rows["maxItems"],
		"row_required":        row["required"],
		"row_id_max":          mapOf(rp["id"])["maxLength"],
		"row_title_max":       mapOf(rp["title"])["maxLength"],
		"row_description_max": mapOf(rp["description"])["maxLength"],
		"list_reply_required": reply["required"],
	}, nil
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }

func list(v any) []any { l, _ := v.([]any); return l }
