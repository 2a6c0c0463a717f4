package widget

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestTheWidgetIsWithinItsSizeBudget(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(Script)
	_ = zw.Close()
	t.Logf("widget.js: %d bytes, %d gzipped (budget %d)", len(Script), buf.Len(), MaxGzipBytes)
	if buf.Len() > MaxGzipBytes {
		t.Errorf("widget.js is %d bytes gzipped, over its budget of %d", buf.Len(), MaxGzipBytes)
	}
}

// The script reaches no third party, sets no cookie and never turns text
// into markup.
func TestTheWidgetMakesNoThirdPartyRequestsAndSetsNoCookie(t *testing.T) {
	src := string(Script)
	if m := regexp.MustCompile(`(?i)https?://`).FindAllString(src, -1); len(m) != 0 {
		t.Errorf("the script names absolute URLs %v: it may reach only its own edge", m)
	}
	for _, bad := range []string{"document.cookie", "innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write"} {
		if bytes.Contains(Script, []byte(bad)) {
			t.Errorf("the script uses %s", bad)
		}
	}
	for _, need := range []string{`role: "log"`, `"aria-live": "polite"`, `role: "dialog"`, `"aria-expanded"`, `e.key === "Escape"`, `credentials: "omit"`, "localStorage"} {
		if !bytes.Contains(Script, []byte(need)) {
			t.Errorf("the script lacks %s", need)
		}
	}
}

// The widget's own words exist in every language it picks from the
// browser, with every placeholder, and nowhere else in the script.
func TestTheWidgetSpeaksEveryLanguageItPicks(t *testing.T) {
	src := string(Script)
	m := regexp.MustCompile(`(?s)var TEXTS = (\{.*?\n  \});`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("no TEXTS table in the script")
	}
	var texts map[string]map[string]string
	if err := json.Unmarshal([]byte(m[1]), &texts); err != nil {
		t.Fatalf("the TEXTS table is not JSON: %v", err)
	}
	picked := regexp.MustCompile(`\[("[a-z]{2}"(?:, "[a-z]{2}")*)\]\.indexOf\(lang\)`).FindStringSubmatch(src)
	if picked == nil {
		t.Fatal("the script's list of languages is not found")
	}
	var langs []string
	if err := json.Unmarshal([]byte("["+picked[1]+"]"), &langs); err != nil {
		t.Fatal(err)
	}
	if len(texts) != len(langs) {
		t.Errorf("%d languages picked, %d in TEXTS", len(langs), len(texts))
	}
	en := texts["en"]
	for _, l := range langs {
		tl, ok := texts[l]
		if !ok {
			t.Errorf("no texts in %s", l)
			continue
		}
		for k, v := range en {
			if tl[k] == "" {
				t.Errorf("%s lacks %q", l, k)
			}
			if strings.Contains(v, "{n}") != strings.Contains(tl[k], "{n}") {
				t.Errorf("%s's %q loses or adds the {n} placeholder: %q", l, k, tl[k])
			}
		}
		if len(tl) != len(en) {
			t.Errorf("%s has %d texts, English %d", l, len(tl), len(en))
		}
	}
	rest := strings.Replace(src, m[1], "", 1)
	for k, v := range en {
		if len(v) > 6 && strings.Contains(rest, `"`+v+`"`) {
			t.Errorf("the English %q (%s) is written out beside the table", v, k)
		}
	}
}
