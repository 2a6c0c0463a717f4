package bridge

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var sixLanguages = []string{"en", "de", "fr", "es", "pt", "uk"}

// checkTable checks one table of texts: every language has every text with
// its placeholders and within its length, and a project's override of each
// text, in each language, is what get returns.
func checkTable[T any](t *testing.T, table map[string]*T, names []textOf[T], get func(*Config, string) *T) {
	t.Helper()
	for _, lang := range sixLanguages {
		base, ok := table[lang]
		if !ok {
			t.Errorf("language %s missing", lang)
			continue
		}
		for _, n := range names {
			text := *n.field(base)
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s.%s is empty", lang, n.name)
			}
			for _, p := range n.placeholders {
				if !strings.Contains(text, p) {
					t.Errorf("%s.%s lacks %s", lang, n.name, p)
				}
			}
			if n.max > 0 && utf8.RuneCountInString(text) > n.max {
				t.Errorf("%s.%s is over its %d characters: %q", lang, n.name, n.max, text)
			}
			custom := "custom " + lang + " " + n.name + " " + strings.Join(n.placeholders, " ")
			if n.max > 0 {
				custom = "c" + lang
			}
			cfg := &Config{Language: "en", Texts: map[string]map[string]string{lang: {n.name: custom}}}
			errs := map[string]string{}
			textProblems(cfg.Texts, errs)
			if len(errs) > 0 {
				t.Errorf("%s.%s: the override %q is refused: %v", lang, n.name, custom, errs)
			}
			if got := *n.field(get(cfg, lang)); got != custom {
				t.Errorf("%s.%s: overridden, the bot says %q", lang, n.name, got)
			}
			// Another language's override changes nothing here.
			other := &Config{Language: "en", Texts: map[string]map[string]string{"xx": {n.name: custom}}}
			if got := *n.field(get(other, lang)); got != text {
				t.Errorf("%s.%s: another language's override shows: %q", lang, n.name, got)
			}
		}
	}
}

func TestEveryTextInEveryTableIsOverriddenPerProjectAndLanguage(t *testing.T) {
	checkTable(t, languages, textNames, (*Config).textsIn)
	checkTable(t, linkLanguages, linkTextNames, (*Config).linkTextsIn)
	checkTable(t, requestLanguages, requestTextNames, (*Config).requestTextsIn)
	checkTable(t, routeLanguages, routeTextNames, (*Config).routeTexts)
	checkTable(t, surveyLanguages, surveyTextNames, (*Config).surveyTexts)

	// Every text has one name, and the settings list them all.
	seen := map[string]bool{}
	for _, n := range allTextNames() {
		if seen[n.name] {
			t.Errorf("two texts are named %s", n.name)
		}
		seen[n.name] = true
	}
	if got, want := len(TextNames()), len(textNames)+len(linkTextNames)+len(requestTextNames)+len(routeTextNames)+len(surveyTextNames); got != want {
		t.Errorf("TextNames lists %d texts, want %d", got, want)
	}
}

// Every string field of every table is among its overridable texts: a text
// added to a table without a name would not be overridable.
func TestEveryFieldOfEveryTableHasAName(t *testing.T) {
	check := func(table string, fields int, names int) {
		if fields != names {
			t.Errorf("%s: %d texts, %d overridable", table, fields, names)
		}
	}
	check("texts", countStrings(texts{}), len(textNames))
	check("linkTexts", countStrings(linkTexts{}), len(linkTextNames))
	check("requestTexts", countStrings(requestTexts{}), len(requestTextNames))
	check("routeTexts", countStrings(routeTexts{}), len(routeTextNames))
	check("surveyTexts", countStrings(surveyTexts{}), len(surveyTextNames))
}

func TestAButtonLabelOverOurLimitIsRefused(t *testing.T) {
	errs := map[string]string{}
	textProblems(map[string]map[string]string{"en": {"requestsNew": strings.Repeat("x", 21)}}, errs)
	if !strings.Contains(errs["texts"], "at most 20") {
		t.Fatalf("a 21-character button label: %v", errs)
	}
}

func TestHelpNamesRequestsAndLinkWhereTheProjectLinks(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"texts": map[string]any{"de": map[string]any{"helpLink": "Eigene Hilfe zu /link"}}})
	h.send(command(h, annaChat64, "/help"))
	h.drain()
	if got := lastText(h); !strings.Contains(got, "/requests") || !strings.Contains(got, "/new") || strings.Contains(got, "/link") {
		t.Fatalf("/help without identity: %q", got)
	}
	h.configure(map[string]any{"identity": "optional"})
	h.send(command(h, annaChat64, "/help"))
	h.drain()
	if got := lastText(h); !strings.Contains(got, "/requests") || !strings.Contains(got, "/unlink") {
		t.Fatalf("/help with identity: %q", got)
	}
}

// countStrings counts a struct's string fields.
func countStrings(v any) int {
	n := 0
	rt := reflect.TypeOf(v)
	for i := 0; i < rt.NumField(); i++ {
		if rt.Field(i).Type.Kind() == reflect.String {
			n++
		}
	}
	return n
}
