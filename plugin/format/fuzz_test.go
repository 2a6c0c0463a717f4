package format

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// normalizeText reduces a text to what every conversion must preserve:
// valid UTF-8, no control characters but line breaks and tabs, lines
// trimmed of surrounding white space, no blank lines.
func normalizeText(s string) string {
	s = string([]rune(s)) // one U+FFFD per invalid byte
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Map(func(r rune) rune {
		if r < ' ' && r != '\n' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// checkParts asserts what every split must guarantee.
func checkParts(t *testing.T, parts []string, limit int) (visible string) {
	t.Helper()
	var all strings.Builder
	for i, p := range parts {
		text, units, err := VisibleText(p)
		if err != nil {
			t.Fatalf("part %d is not valid Telegram HTML: %v\n%q", i, err, p)
		}
		if units > limit {
			t.Fatalf("part %d has %d UTF-16 units, limit %d", i, units, limit)
		}
		if strings.TrimSpace(text) == "" {
			t.Fatalf("part %d is blank: %q", i, p)
		}
		all.WriteString(text)
	}
	return all.String()
}

func withoutSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

var fuzzWikiSeeds = []string{
	"h1. Title\n*bold* _it_ +u+ -s- {{mono}} ??cite?? ^sup^ ~sub~",
	"{code:java}\nif (a < b && c > d) {}\n{code}\n{noformat}<b>x</b>{noformat}",
	"{quote}quoted *bold*{quote}\nbq. short quote",
	"* one\n** two\n# first\n#* mixed\n- dash",
	"||h1||h2||\n|a|[link|http://x.com/a_b]|",
	"[text|javascript:alert(1)] [http://example.com] [mailto:a@b.c] [~accountid:5b10] [^file.pdf] !image.png|thumbnail!",
	"{color:red}red{color} {anchor:x} {panel:title=T}in panel{panel} :) (y) \\\\ line",
	"<script>alert('x')</script> & &amp; &lt; &#x1F600; &bogus; \"quotes\"",
	"{*}forced{*}word x{_}y{_}z *a *b* c* ***",
	"👍🏽 👨‍👩‍👧 🇺🇦🇯🇵 中文 العربية עברית",
	"{{a}}} }}{{ {{ [[[ ]]] !! ?? ** __",
	"*" + strings.Repeat("a *", 200),
}

func FuzzWikiToTelegramHTML(f *testing.F) {
	for _, s := range fuzzWikiSeeds {
		f.Add(s, uint16(50))
	}
	f.Fuzz(func(t *testing.T, wiki string, limit uint16) {
		html := WikiToTelegramHTML(wiki)
		if err := ValidTelegramHTML(html); err != nil {
			t.Fatalf("invalid HTML: %v\nwiki %q\nhtml %q", err, wiki, html)
		}
		lim := 2 + int(limit)%5000
		text, _, _ := VisibleText(html)
		got := checkParts(t, SplitTelegramHTML(html, lim), lim)
		if withoutSpace(got) != withoutSpace(text) {
			t.Fatalf("split changed the text\nwant %q\ngot  %q", text, got)
		}
	})
}

var fuzzADFSeeds = []string{
	`{"version":1,"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"a<b>&","marks":[{"type":"strong"},{"type":"link","attrs":{"href":"https://x.com/?a=1&b=\"2\""}}]}]}]}`,
	`{"type":"doc","content":[{"type":"codeBlock","attrs":{"language":"go"},"content":[{"type":"text","text":"<pre>x</pre>"}]},{"type":"blockquote","content":[{"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"nested"}]}]}]}]}`,
	`{"type":"doc","content":[{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"code"},{"type":"link","attrs":{"href":"javascript:1"}}]}]},{"type":"orderedList","attrs":{"order":"abc"},"content":[{"type":"listItem","content":[]}]}]}]}]}`,
	`{"type":"doc","content":[{"type":"table","content":[{"type":"tableRow","content":[{"type":"tableHeader","content":[{"type":"paragraph","content":[{"type":"text","text":"h"}]}]},{"type":"tableCell","content":[{"type":"codeBlock","content":[{"type":"text","text":"c"}]}]}]}]}]}`,
	`{"type":"doc","content":[{"type":"mystery","attrs":{"text":5},"content":[{"type":"text","text":"kept"}]},{"type":7},{"content":"x"},null,3]}`,
	`{"type":"doc","content":[{"type":"mediaSingle","content":[{"type":"media","attrs":{"type":"external","url":"https://x/y.png","alt":"y"}}]},{"type":"date","attrs":{"timestamp":"1700000000000"}},{"type":"status","attrs":{"text":"done"}},{"type":"inlineCard","attrs":{"url":"https://x.com"}}]}`,
	`{"type":"doc"`,
	`[]`,
}

var (
	adfNodeTypes = []string{
		"doc", "paragraph", "text", "hardBreak", "mention", "emoji", "bulletList", "orderedList",
		"listItem", "codeBlock", "blockquote", "heading", "rule", "panel", "table", "tableRow",
		"tableCell", "tableHeader", "mediaSingle", "media", "inlineCard", "status", "date",
		"taskList", "taskItem", "expand", "unknownBlock", "",
	}
	adfMarkTypes = []string{"strong", "em", "code", "strike", "underline", "link", "subsup", "textColor", "unknown"}
	adfTexts     = []string{"a", "<b>&amp;</b>", "\"q\"", "👍🏽", "中文", "line\nbreak", " ", "", "</code></pre>", "\xff"}
	adfHrefs     = []any{"https://x.com/?a=1&b=\"2\"", "javascript:alert(1)", "tg://user?id=1", "mailto:a@b.c", 5, nil, "http://"}
)

// adfFromBytes builds a well-formed but arbitrary ADF document from b, so
// that the fuzzer explores the renderer and not only the JSON decoder.
func adfFromBytes(b []byte) []byte {
	next := func() int {
		if len(b) == 0 {
			return 0
		}
		v := int(b[0])
		b = b[1:]
		return v
	}
	var node func(depth int) map[string]any
	node = func(depth int) map[string]any {
		n := map[string]any{"type": adfNodeTypes[next()%len(adfNodeTypes)]}
		switch next() % 4 {
		case 0:
			n["text"] = adfTexts[next()%len(adfTexts)]
		case 1:
			n["attrs"] = map[string]any{
				"text": adfTexts[next()%len(adfTexts)], "language": adfTexts[next()%len(adfTexts)],
				"url": adfHrefs[next()%len(adfHrefs)], "order": next() - 100, "timestamp": next() * 1e10,
				"state": "DONE", "shortName": ":x:", "alt": adfTexts[next()%len(adfTexts)],
			}
		}
		if k := next() % 4; k > 0 {
			var marks []any
			for range k {
				marks = append(marks, map[string]any{
					"type":  adfMarkTypes[next()%len(adfMarkTypes)],
					"attrs": map[string]any{"href": adfHrefs[next()%len(adfHrefs)]},
				})
			}
			n["marks"] = marks
		}
		if depth < 6 && len(b) > 0 {
			var content []any
			for range next() % 4 {
				content = append(content, node(depth+1))
			}
			n["content"] = content
		}
		return n
	}
	doc := node(0)
	doc["type"] = "doc"
	out, _ := json.Marshal(doc)
	return out
}

func FuzzADFToTelegramHTML(f *testing.F) {
	for _, s := range fuzzADFSeeds {
		f.Add([]byte(s), uint16(40))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		lim := 2 + int(limit)%5000
		for _, adf := range [][]byte{data, adfFromBytes(data)} {
			html, err := ADFToTelegramHTML(adf)
			if err != nil {
				if html != "" {
					t.Fatalf("error %v with output %q", err, html)
				}
				continue
			}
			if err := ValidTelegramHTML(html); err != nil {
				t.Fatalf("invalid HTML: %v\nadf %s\nhtml %q", err, adf, html)
			}
			checkParts(t, SplitTelegramHTML(html, lim), lim)
		}
	})
}

var entityTypes = []string{
	"bold", "italic", "underline", "strikethrough", "code", "pre", "text_link", "url",
	"mention", "hashtag", "email", "phone_number", "bot_command", "spoiler", "blockquote",
	"expandable_blockquote", "custom_emoji", "text_mention", "unknown",
}

var entityURLs = []string{
	"https://example.com/a_b*c", "javascript:alert(1)", "https://x.com/|]{code}", "tg://user?id=1", "mailto:a@b.c", "",
}

// fuzzEntities derives entities from bytes: type, offset-8, length, extra.
func fuzzEntities(spec []byte) []Entity {
	var es []Entity
	for k := 0; k+4 <= len(spec) && len(es) < 50; k += 4 {
		e := Entity{
			Type:   entityTypes[int(spec[k])%len(entityTypes)],
			Offset: int(spec[k+1]) - 8,
			Length: int(spec[k+2]),
		}
		switch e.Type {
		case "text_link":
			e.URL = entityURLs[int(spec[k+3])%len(entityURLs)]
		case "pre":
			e.Language = [...]string{"", "go", "python", "x}{code}", "c++"}[int(spec[k+3])%5]
		}
		es = append(es, e)
	}
	return es
}

var fuzzTelegramSeeds = []struct {
	text string
	spec []byte
}{
	{"Hello *bold* _world_ 👍🏽", []byte{0, 8, 10, 0, 1, 14, 8, 0}},
	{"{code} [x|y] {quote} h1. x\n# y\n-- z !img! ??c??", []byte{2, 8, 20, 0, 5, 20, 10, 3}},
	{"see https://example.com/a_b and mail a@b.c", []byte{6, 8, 3, 0, 7, 12, 27, 0, 10, 45, 5, 0}},
	{"👨‍👩‍👧 family 🇺🇦 flag", []byte{0, 9, 3, 0, 1, 8, 30, 0}},
	{"line one\nline two\nline three", []byte{14, 8, 17, 0, 0, 13, 20, 0, 5, 12, 6, 1}},
	{"a\\b\\\\c &amp; &#92; \\", nil},
	{"mid-word bold and overlap", []byte{0, 12, 5, 0, 1, 14, 8, 0, 3, 10, 12, 0}},
}

func FuzzTelegramToWiki(f *testing.F) {
	for _, s := range fuzzTelegramSeeds {
		f.Add(s.text, s.spec)
	}
	f.Fuzz(func(t *testing.T, text string, spec []byte) {
		entities := fuzzEntities(spec)
		wiki := TelegramToWiki(text, entities)
		if !utf8.ValidString(wiki) {
			t.Fatalf("wiki is not UTF-8: %q", wiki)
		}
		// Read back with this package's Jira model, the wiki must show the
		// original text: no marker leaks, no text lost, nothing injected.
		html := WikiToTelegramHTML(wiki)
		shown, _, err := VisibleText(html)
		if err != nil {
			t.Fatalf("invalid HTML: %v\nwiki %q\nhtml %q", err, wiki, html)
		}
		got, want := normalizeText(shown), normalizeText(text)
		if len(entities) > 0 {
			// Code blocks and quotes that start or end mid-line move the
			// rest of the line to a line of its own.
			got, want = withoutSpace(got), withoutSpace(want)
		}
		if got != want {
			t.Fatalf("round trip changed the text\ntext     %q\nentities %+v\nwiki     %q\nshown    %q", text, entities, wiki, shown)
		}
		if len(entities) == 0 && strings.Contains(stripLinks(html), "<") {
			t.Fatalf("plain text came back formatted: wiki %q html %q", wiki, html)
		}
	})
}

// stripLinks removes <a href="..."> and </a> tags.
func stripLinks(html string) string {
	var b strings.Builder
	for {
		i := strings.Index(html, "<a href=")
		if i < 0 {
			break
		}
		b.WriteString(html[:i])
		j := strings.IndexByte(html[i:], '>')
		html = html[i+j+1:]
	}
	b.WriteString(html)
	return strings.ReplaceAll(b.String(), "</a>", "")
}

func FuzzSplitTelegramHTML(f *testing.F) {
	f.Add("<b>bold</b> text. More text here\n\nnew <i>paragraph</i>", uint16(10))
	f.Add("<pre><code class=\"language-go\">x := 1\ny := 2</code></pre>", uint16(5))
	f.Add("<a href=\"https://x.com\">link text</a> &amp; &lt;&gt; &#128077;", uint16(3))
	f.Add("👨‍👩‍👧👍🏽🇺🇦🇯🇵 a b", uint16(4))
	f.Add("<blockquote expandable>quote</blockquote><tg-spoiler>s</tg-spoiler><span class=\"tg-spoiler\">t</span>", uint16(2))
	f.Add("broken <b>html", uint16(3))
	f.Add("   \n\n  ", uint16(1))
	f.Fuzz(func(t *testing.T, html string, limit uint16) {
		lim := 2 + int(limit)%5000
		parts := SplitTelegramHTML(html, lim)
		got := checkParts(t, parts, lim)
		want, _, err := VisibleText(html)
		if err != nil {
			want = string([]rune(html)) // escaped as text, one U+FFFD per invalid byte
		}
		if withoutSpace(got) != withoutSpace(want) {
			t.Fatalf("split changed the text\nwant %q\ngot  %q\nparts %q", want, got, parts)
		}
	})
}
