package format

import (
	"errors"
	"strings"
	"testing"
)

func TestWikiToTelegramHTML(t *testing.T) {
	for _, tc := range []struct{ name, wiki, want string }{
		{"text effects", "*b* _i_ +u+ -s- {{m}} ??c??", "<b>b</b> <i>i</i> <u>u</u> <s>s</s> <code>m</code> <i>c</i>"},
		{"super and subscript lose their markers", "x^2^ H~2~O", "x^2^ H~2~O"},
		{"super and subscript between spaces", "e = mc ^2^ and ~low~", "e = mc 2 and low"},
		{"forced effects inside words", "a{*}b{*}c", "a<b>b</b>c"},
		{"markers inside words are text", "snake_case_name a*b*c", "snake_case_name a*b*c"},
		{"unclosed markers are text", "*not closed", "*not closed"},
		{"markers do not span lines", "*one\ntwo*", "*one\ntwo*"},
		{"text is escaped", `<b> & "q"`, `&lt;b&gt; &amp; "q"`},
		{"entities are decoded then escaped", "&lt;b&gt; &amp;amp; &#65; &hellip;", "&lt;b&gt; &amp;amp; A …"},
		{"backslash escapes", `\*x\* \[y\] \{z\}`, "*x* [y] {z}"},
		{"double backslash is a line break", `one\\two`, "one\ntwo"},
		{"heading is bold", "h2. Title *x*", "<b>Title x</b>"},
		{"bq. is a quote", "bq. quoted", "<blockquote>quoted</blockquote>"},
		{"quote macro", "{quote}a\nb{quote}", "<blockquote>a\nb</blockquote>"},
		{"nested quote macro stays one quote", "{quote}a{quote}", "<blockquote>a</blockquote>"},
		{"unclosed quote is closed", "{quote}open", "<blockquote>open</blockquote>"},
		{"empty quote disappears", "a\n{quote}{quote}\nb", "a\nb"},
		{"code block with language", "{code:python}\nprint('<x>')\n{code}", `<pre><code class="language-python">print('&lt;x&gt;')</code></pre>`},
		{"code block parameters", "{code:title=A.java|language=java}x{code}", `<pre><code class="language-java">x</code></pre>`},
		{"code block with a strange language", "{code:a\"b}x{code}", "<pre>x</pre>"},
		{"noformat", "{noformat}*not bold*{noformat}", "<pre>*not bold*</pre>"},
		{"unclosed code block runs to the end", "{code}x\ny", "<pre>x\ny</pre>"},
		{"escaped macro is text", `\{code}x`, "{code}x"},
		{"monospace is not a code macro", "{{code}}", "<code>code</code>"},
		{"bullets", "* a\n** b\n- c", "• a\n   • b\n• c"},
		{"numbers", "# a\n# b\n## c\n# d", "1. a\n2. b\n   1. c\n3. d"},
		{"a blank line restarts numbering", "# a\n\n# b", "1. a\n\n1. b"},
		{"bold at line start is not a list", "*bold* text", "<b>bold</b> text"},
		{"table", "||h1||h2||\n|a|b|", "<b>h1</b> | <b>h2</b>\na | b"},
		{"table cell with a link", "|[x|https://a.com/b_c]|d|", `<a href="https://a.com/b_c">x</a> | d`},
		{"rule", "a\n----\nb", "a\n——————\nb"},
		{"dashes are text", "a -- b --- c", "a -- b --- c"},
		{"link", "[Docs|https://x.com/?a=1&b=2]", `<a href="https://x.com/?a=1&amp;b=2">Docs</a>`},
		{"bare link", "[https://x.com]", `<a href="https://x.com">https://x.com</a>`},
		{"mailto link shows the address", "[mailto:a@b.c]", `<a href="mailto:a@b.c">a@b.c</a>`},
		{"javascript link is its text", "[x|javascript:alert(1)]", "x"},
		{"link text with effects", "[*bold* link|https://x.com]", `<a href="https://x.com"><b>bold</b> link</a>`},
		{"code in a link text is plain", "[{{x}}|https://x.com]", `<a href="https://x.com">x</a>`},
		{"links do not nest", "[a [b|https://b.com]|https://a.com]", `[a <a href="https://b.com">b</a>|https://a.com]`},
		{"mention by account id", "[~accountid:5b10a284]", "@user"},
		{"mention by name", "[~jsmith]", "@jsmith"},
		{"mention with text", "[Jane|~accountid:1]", "@Jane"},
		{"attachment", "[^report.pdf]", "report.pdf"},
		{"image", "!photo.png!", "photo.png"},
		{"image with parameters", "!photo.png|thumbnail!", "photo.png"},
		{"image by URL links to it", "!https://x.com/a/b.png?s=1!", `<a href="https://x.com/a/b.png?s=1">b.png</a>`},
		{"exclamations are text", "Hi! Wow!! Yes!", "Hi! Wow!! Yes!"},
		{"colour is dropped", "{color:red}*red*{color}", "<b>red</b>"},
		{"unknown macro is text", "{foo}", "{foo}"},
		{"bare URL keeps its underscores", "https://x.com/_a_/b", "https://x.com/_a_/b"},
		{"emoticons are kept", ":) (y) (!)", ":) (y) (!)"},
		{"paragraphs keep one blank line", "a\n\n\n\nb", "a\n\nb"},
		{"CR LF", "a\r\nb", "a\nb"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := WikiToTelegramHTML(tc.wiki)
			if got != tc.want {
				t.Fatalf("WikiToTelegramHTML(%q)\n got %q\nwant %q", tc.wiki, got, tc.want)
			}
			if err := ValidTelegramHTML(got); err != nil {
				t.Fatalf("invalid output: %v", err)
			}
		})
	}
}

func TestWikiToTelegramHTMLStaysLinearOnPathologicalInput(t *testing.T) {
	for _, wiki := range []string{
		strings.Repeat("*a ", 20000),
		strings.Repeat("{*}", 10000),
		strings.Repeat("[", 20000) + "]",
		strings.Repeat("!a", 20000),
		strings.Repeat("{{", 20000),
		strings.Repeat("*_+-", 5000) + "x",
	} {
		html := WikiToTelegramHTML(wiki)
		if err := ValidTelegramHTML(html); err != nil {
			t.Fatal(err)
		}
	}
}

func TestADFToTelegramHTML(t *testing.T) {
	doc := func(content string) string { return `{"version":1,"type":"doc","content":[` + content + `]}` }
	para := func(inline string) string { return `{"type":"paragraph","content":[` + inline + `]}` }
	text := func(s, marks string) string {
		if marks == "" {
			return `{"type":"text","text":"` + s + `"}`
		}
		return `{"type":"text","text":"` + s + `","marks":[` + marks + `]}`
	}
	for _, tc := range []struct{ name, adf, want string }{
		{"marks", doc(para(text("b", `{"type":"strong"}`) + "," + text("i", `{"type":"em"}`) + "," + text("u", `{"type":"underline"}`) + "," + text("s", `{"type":"strike"}`))), "<b>b</b><i>i</i><u>u</u><s>s</s>"},
		{"code mark stands alone", doc(para(text("c", `{"type":"strong"},{"type":"code"}`))), "<code>c</code>"},
		{"link mark", doc(para(text("l", `{"type":"link","attrs":{"href":"https://x.com"}}`))), `<a href="https://x.com">l</a>`},
		{"unsafe link mark is dropped", doc(para(text("l", `{"type":"link","attrs":{"href":"javascript:x"}}`))), "l"},
		{"text is escaped", doc(para(text(`<&>\"`, ""))), `&lt;&amp;&gt;"`},
		{"paragraphs", doc(para(text("a", "")) + "," + para(text("b", ""))), "a\n\nb"},
		{"hard break", doc(para(text("a", "") + `,{"type":"hardBreak"},` + text("b", ""))), "a\nb"},
		{"heading", doc(`{"type":"heading","attrs":{"level":2},"content":[` + text("T", "") + `]}`), "<b>T</b>"},
		{"mention", doc(para(`{"type":"mention","attrs":{"id":"1","text":"@Ann"}}`)), "@Ann"},
		{"emoji", doc(para(`{"type":"emoji","attrs":{"shortName":":smile:","text":"😄"}}`)), "😄"},
		{"code block", doc(`{"type":"codeBlock","attrs":{"language":"js"},"content":[` + text("a<b", "") + `]}`), `<pre><code class="language-js">a&lt;b</code></pre>`},
		{"ordered list start", doc(`{"type":"orderedList","attrs":{"order":5},"content":[{"type":"listItem","content":[` + para(text("x", "")) + `]}]}`), "5. x"},
		{"unknown node shows its text", doc(`{"type":"fancy","content":[` + para(text("inside", "")) + `]}`), "inside"},
		{"fields of the wrong type are ignored", doc(`{"type":"paragraph","content":[{"type":"text","text":1},` + text("ok", "") + `]}`), "ok"},
		{"empty document", `{"type":"doc","content":[]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ADFToTelegramHTML([]byte(tc.adf))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			if err := ValidTelegramHTML(got); err != nil {
				t.Fatalf("invalid output: %v", err)
			}
		})
	}
}

func TestADFToTelegramHTMLRejectsMalformedJSON(t *testing.T) {
	for _, adf := range []string{"", "not json", `{"type":"doc"`, `[]`, `"doc"`, `{"type":"doc","content":[}`} {
		if html, err := ADFToTelegramHTML([]byte(adf)); !errors.Is(err, ErrInvalidADF) || html != "" {
			t.Errorf("ADFToTelegramHTML(%q) = %q, %v; want ErrInvalidADF", adf, html, err)
		}
	}
}

func TestEscapeHTML(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{`<a href="x">&</a>`, "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"},
		{"é <", "é &lt;"},
		{"a\xffb", "a\uFFFDb"},
		{"", ""},
	} {
		if got := EscapeHTML(tc.in); got != tc.want {
			t.Errorf("EscapeHTML(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err := ValidTelegramHTML(PlainToTelegramHTML(tc.in)); err != nil {
			t.Errorf("PlainToTelegramHTML(%q) is invalid: %v", tc.in, err)
		}
	}
}
