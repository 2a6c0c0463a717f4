package format

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plugin/format -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n%s", path, firstDiff(string(want), got))
	}
}

// firstDiff shows the first differing line of want and got.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d\nwant %q\ngot  %q", i+1, w, g)
		}
	}
	return "(same lines, different ending)"
}

func inputs(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs %s: %v", pattern, err)
	}
	return files
}

func goldenPath(in, ext string) string {
	return strings.TrimSuffix(in, filepath.Ext(in)) + ".golden" + ext
}

func TestWikiToTelegramHTMLMatchesGoldenFiles(t *testing.T) {
	for _, in := range inputs(t, "wiki/*.wiki") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			html := WikiToTelegramHTML(string(src))
			if err := ValidTelegramHTML(html); err != nil {
				t.Fatalf("Telegram would reject the output: %v", err)
			}
			golden(t, goldenPath(in, ".html"), html)
		})
	}
}

func TestADFToTelegramHTMLMatchesGoldenFiles(t *testing.T) {
	for _, in := range inputs(t, "adf/*.json") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			html, err := ADFToTelegramHTML(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := ValidTelegramHTML(html); err != nil {
				t.Fatalf("Telegram would reject the output: %v", err)
			}
			golden(t, goldenPath(in, ".html"), html)
		})
	}
}

// telegramMessage is the part of a Telegram message the golden inputs hold.
type telegramMessage struct {
	Text     string   `json:"text"`
	Entities []Entity `json:"entities"`
}

func TestTelegramToWikiMatchesGoldenFiles(t *testing.T) {
	for _, in := range inputs(t, "telegram/*.json") {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var msg telegramMessage
			if err := json.Unmarshal(src, &msg); err != nil {
				t.Fatal(err)
			}
			wiki := TelegramToWiki(msg.Text, msg.Entities)
			// Read back, the wiki shows the customer's text and nothing else.
			shown, _, err := VisibleText(WikiToTelegramHTML(wiki))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := withoutSpace(normalizeText(shown)), withoutSpace(normalizeText(msg.Text)); got != want {
				t.Errorf("the wiki does not show the original text\nwant %q\ngot  %q", want, got)
			}
			golden(t, goldenPath(in, ".wiki"), wiki)
		})
	}
}

func TestLongReplySplitsIntoTelegramMessagesThatReassemble(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "wiki", "long_reply.wiki"))
	if err != nil {
		t.Fatal(err)
	}
	html := WikiToTelegramHTML(string(src))
	text, units, err := VisibleText(html)
	if err != nil {
		t.Fatal(err)
	}
	if units < 10000 {
		t.Fatalf("the reply shows %d UTF-16 units; the test needs at least 10000", units)
	}
	parts := SplitTelegramHTML(html, TelegramLimit)
	if len(parts) < 3 {
		t.Fatalf("%d parts for %d units, want at least 3", len(parts), units)
	}
	if got := checkParts(t, parts, TelegramLimit); got != text {
		t.Fatalf("the parts do not reassemble the reply\n%s", firstDiff(text, got))
	}
	for i, p := range parts[:len(parts)-1] {
		pt, _, _ := VisibleText(p)
		if !strings.HasSuffix(pt, "\n") && !strings.HasSuffix(pt, " ") {
			t.Errorf("part %d ends mid-word: %q", i, pt[max(0, len(pt)-40):])
		}
	}
	var b strings.Builder
	for i, p := range parts {
		fmt.Fprintf(&b, "=== part %d ===\n%s\n", i+1, p)
	}
	golden(t, filepath.Join("testdata", "split", "long_reply.golden.txt"), b.String())
}
