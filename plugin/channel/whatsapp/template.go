package whatsapp

import (
	"fmt"
	"regexp"

	"github.com/chatbridge/chatbridge/plugin/channel"
)

// Template messages (Meta's business-messaging-api_v23.0.yaml,
// TemplateMessage, TemplateObject, LanguageObject, BodyComponent): type
// "template" with template {name, language {policy "deterministic", code},
// components [{type "body", parameters [{type "text", text}]}]}. A template
// is delivered outside the 24-hour window, where free-form messages fail
// with 131047; one Meta does not know by that name and language fails with
// 132001, one with the wrong number of parameters with 132000.

// templateName is what Meta accepts as a template's name: lower-case
// letters, digits and underscores, at most 512 characters.
var templateName = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)

// templateLanguage is a language or locale code ("en", "en_US", "pt_BR").
var templateLanguage = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)

// ValidTemplateName reports whether name can be a template's name.
func ValidTemplateName(name string) bool { return templateName.MatchString(name) }

// ValidTemplateLanguage reports whether code can be a template's language.
func ValidTemplateLanguage(code string) bool { return templateLanguage.MatchString(code) }

// SendTemplate implements channel.Templater.
func (c *Channel) SendTemplate(chatID string, t channel.Template) (string, error) {
	if !ValidTemplateName(t.Name) || !ValidTemplateLanguage(t.Language) {
		return "", fmt.Errorf("whatsapp: malformed template name or language")
	}
	tpl := map[string]any{"name": t.Name, "language": map[string]any{"policy": "deterministic", "code": t.Language}}
	if len(t.Params) > 0 {
		params := make([]any, 0, len(t.Params))
		for _, p := range t.Params {
			params = append(params, map[string]any{"type": "text", "text": p})
		}
		tpl["components"] = []any{map[string]any{"type": "body", "parameters": params}}
	}
	return c.send(chatID, map[string]any{"type": "template", "template": tpl})
}

var _ channel.Templater = (*Channel)(nil)
