package widget

import (
	"bytes"
	"compress/gzip"
	"regexp"
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
