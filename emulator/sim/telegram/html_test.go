package telegram

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseHTML_AcceptsTelegramMarkup(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		plain string
		ents  []MessageEntity
	}{
		{"plain text passes through", "hello", "hello", nil},
		{"bold and strong are bold", "<b>a</b><strong>b</strong>", "ab",
			[]MessageEntity{{Type: "bold", Offset: 0, Length: 1}, {Type: "bold", Offset: 1, Length: 1}}},
		{"italic, underline and strikethrough aliases", "<i>a</i><em>b</em><u>c</u><ins>d</ins><s>e</s><strike>f</strike><del>g</del>", "abcdefg",
			[]MessageEntity{{Type: "italic", Offset: 0, Length: 1}, {Type: "italic", Offset: 1, Length: 1},
				{Type: "underline", Offset: 2, Length: 1}, {Type: "underline", Offset: 3, Length: 1},
				{Type: "strikethrough", Offset: 4, Length: 1}, {Type: "strikethrough", Offset: 5, Length: 1},
				{Type: "strikethrough", Offset: 6, Length: 1}}},
		{"tags are case-insensitive", "<B>x</B>", "x", []MessageEntity{{Type: "bold", Offset: 0, Length: 1}}},
		{"nested tags give nested entities", "<b>a <i>b</i></b>", "a b",
			[]MessageEntity{{Type: "bold", Offset: 0, Length: 3}, {Type: "italic", Offset: 2, Length: 1}}},
		{"link with double-quoted href", `<a href="https://example.com/?a=1&amp;b=2">x</a>`, "x",
			[]MessageEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "https://example.com/?a=1&b=2"}}},
		{"link with single-quoted href", `<a href='https://example.com'>x</a>`, "x",
			[]MessageEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "https://example.com"}}},
		{"link without scheme gets http", `<a href="example.com">x</a>`, "x",
			[]MessageEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "http://example.com"}}},
		{"link to tg: user", `<a href="tg://user?id=123">x</a>`, "x",
			[]MessageEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "tg://user?id=123"}}},
		{"link with an unusable URL is dropped silently", `<a href="javascript:alert(1)">x</a>`, "x", nil},
		{"end tag may be empty", "<b>x</>", "x", []MessageEntity{{Type: "bold", Offset: 0, Length: 1}}},
		{"code", "<code>x := 1</code>", "x := 1", []MessageEntity{{Type: "code", Offset: 0, Length: 6}}},
		{"pre", "<pre>block</pre>", "block", []MessageEntity{{Type: "pre", Offset: 0, Length: 5}}},
		{"pre with code language", `<pre><code class="language-go">x</code></pre>`, "x",
			[]MessageEntity{{Type: "pre", Offset: 0, Length: 1, Language: "go"}}},
		{"code language outside pre is ignored", `<code class="language-go">x</code>`, "x",
			[]MessageEntity{{Type: "code", Offset: 0, Length: 1}}},
		{"blockquote", "<blockquote>q</blockquote>", "q", []MessageEntity{{Type: "blockquote", Offset: 0, Length: 1}}},
		{"expandable blockquote", "<blockquote expandable>q</blockquote>", "q",
			[]MessageEntity{{Type: "expandable_blockquote", Offset: 0, Length: 1}}},
		{"tg-spoiler", "<tg-spoiler>s</tg-spoiler>", "s", []MessageEntity{{Type: "spoiler", Offset: 0, Length: 1}}},
		{"span tg-spoiler", `<span class="tg-spoiler">s</span>`, "s", []MessageEntity{{Type: "spoiler", Offset: 0, Length: 1}}},
		{"custom emoji", `<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`, "👍",
			[]MessageEntity{{Type: "custom_emoji", Offset: 0, Length: 2, CustomEmojiID: "5368324170671202286"}}},
		{"named entities", "&lt;b&gt; &amp; &quot;", `<b> & "`, nil},
		{"decimal and hex entities", "&#60;&#x3E;&#X41;", "<>A", nil},
		{"entity semicolon is optional", "&amp&lt", "&<", nil},
		{"unknown entity stays literal", "&nbsp; &foo;", "&nbsp; &foo;", nil},
		{"lone ampersand and greater-than are literal", "a & b > c", "a & b > c", nil},
		{"astral entity counts two UTF-16 units", "<b>&#128512;</b>x", "😀x", []MessageEntity{{Type: "bold", Offset: 0, Length: 2}}},
		{"offsets count UTF-16 units", "😀 <i>é</i>", "😀 é", []MessageEntity{{Type: "italic", Offset: 3, Length: 1}}},
		{"empty entity is dropped", "<b></b>x", "x", nil},
		{"surrounding white space is trimmed and entities move", "  \n<b> x </b> \n", "x",
			[]MessageEntity{{Type: "bold", Offset: 0, Length: 1}}},
		{"attributes Telegram does not use are ignored", `<a href="https://x.org" target="_blank">x</a>`, "x",
			[]MessageEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "https://x.org"}}},
		{"unquoted name token attribute", `<code class=language-go>x</code>`, "x", []MessageEntity{{Type: "code", Offset: 0, Length: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, ents, err := parseHTML(tt.in)
			if err != nil {
				t.Fatalf("parseHTML(%q): %v", tt.in, err)
			}
			if plain != tt.plain {
				t.Errorf("text %q, want %q", plain, tt.plain)
			}
			if !reflect.DeepEqual(ents, tt.ents) {
				t.Errorf("entities %+v, want %+v", ents, tt.ents)
			}
		})
	}
}

func TestParseHTML_RefusesWhatTelegramRefuses(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"unsupported tag", "<p>x</p>", `Unsupported start tag "p" at byte offset 0`},
		{"br is not supported", "a<br>b", `Unsupported start tag "br" at byte offset 1`},
		{"a bare less-than", "1 < 2", `Unsupported start tag "" at byte offset 2`},
		{"unclosed start tag", "x <b", "Unclosed start tag at byte offset 2"},
		{"unclosed tag at the end", "<b>x", `Can't find end tag corresponding to start tag "b"`},
		{"misnested tags", "<b><i>x</b></i>", `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{"end tag without start", "x</b>", "Unexpected end tag at byte offset 1"},
		{"unclosed end tag", "<b>x</b", "Unclosed end tag at byte offset 4"},
		{"span without spoiler class", "<span>x</span>", `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{"span with another class", `<span class="bold">x</span>`, `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{"attribute without value", "<b bold>x</b>", `Expected equal sign in declaration of an attribute of the tag "b" at byte offset 0`},
		{"unquoted URL", "<a href=https://x.org>x</a>", "Unexpected end of name token at byte offset 8"},
		{"unterminated quoted value", `<a href="x>y`, "Unclosed start tag at byte offset 0"},
		{"tg-emoji without id", "<tg-emoji>x</tg-emoji>", `Tag "tg-emoji" must have attribute "emoji-id" at byte offset 0`},
		{"tg-emoji with a bad id", `<tg-emoji emoji-id="abc">x</tg-emoji>`, "Invalid custom emoji identifier specified"},
		{"escaped tag inside is fine but stray close is not", "&lt;b&gt;x</b>", "Unexpected end tag at byte offset 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseHTML(tt.in)
			if err == nil {
				t.Fatalf("parseHTML(%q) accepted", tt.in)
			}
			if err.Error() != tt.err {
				t.Errorf("error %q, want %q", err, tt.err)
			}
		})
	}
}

func TestSendMessage_LengthCountsUTF16UnitsAfterParsing(t *testing.T) {
	e := newEnv(t, Config{})
	e.userSays(t, map[string]any{"chat_id": 42, "text": "hi"})
	tests := []struct {
		name, text, mode string
		ok               bool
	}{
		{"4096 ASCII characters fit", strings.Repeat("a", 4096), "", true},
		{"4097 ASCII characters do not", strings.Repeat("a", 4097), "", false},
		{"markup does not count", "<b>" + strings.Repeat("a", 4096) + "</b>", "HTML", true},
		{"an entity counts as its character", strings.Repeat("&lt;", 4096), "HTML", true},
		{"2048 emoji are 4096 units", strings.Repeat("😀", 2048), "", true},
		{"2049 emoji are too many", strings.Repeat("😀", 2049), "", false},
		{"4096 Cyrillic letters fit", strings.Repeat("ж", 4096), "", true},
		{"trimmed white space does not count", "  " + strings.Repeat("a", 4096) + "\n\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, "sendMessage", map[string]any{"chat_id": 42, "text": tt.text, "parse_mode": tt.mode})
			if r.OK != tt.ok {
				t.Fatalf("ok=%v, want %v: %s", r.OK, tt.ok, r.Raw)
			}
			if !tt.ok && (r.Status != 400 || r.Description != "Bad Request: message is too long") {
				t.Errorf("got %d %q", r.Status, r.Description)
			}
		})
	}
}
