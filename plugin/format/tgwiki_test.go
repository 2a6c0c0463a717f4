package format

import (
	"testing"
)

func TestTelegramToWikiEscapesCustomerText(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"plain text is unchanged", "Hello, world. How are you?", "Hello, world. How are you?"},
		{"effect characters", "2*3 a_b c-d e+f x^2 ~approx", `2\*3 a\_b c\-d e\+f x\^2 \~approx`},
		{"macros", "{code}x{code} {quote} {color:red}", `\{code\}x\{code\} \{quote\} \{color:red\}`},
		{"links and images", "[x|https://evil.com] !img.png! [~accountid:1]", `\[x\|[https://evil.com]\] \!img.png\! \[\~accountid:1\]`},
		{"table bars", "||a||b||", `\|\|a\|\|b\|\|`},
		{"heading at line start", "h1. Title\nsee h2. mid-line", "h1\\. Title\nsee h2. mid\\-line"},
		{"quote at line start", "bq. quoted", `bq\. quoted`},
		{"hash at line start only", "# one\n  # two\nissue #3", "\\# one\n  \\# two\nissue #3"},
		{"backslashes cannot make line breaks", `a\\b \ c`, "a&#92;&#92;b &#92; c"},
		{"ampersand before a name becomes an entity", "&amp; &#92; & x AT&T", "&amp;amp; &amp;#92; & x AT&amp;T"},
		{"citation needs two question marks", "what? really??", `what? really\?\?`},
		{"letter icons", "(y) (x) (on) (i)nfo (yes)", `\(y) \(x) \(on) \(i)nfo (yes)`},
		{"smileys are kept", ":) ;) :D", ":) ;) :D"},
		{"HTML is left to Jira", "<b>x</b> & <script>", "<b>x</b> & <script>"},
		{"CR LF becomes LF", "a\r\nb\rc", "a\nb\nc"},
		{"control characters are dropped", "a\x00b\x07c\td", "abc\td"},
		{"invalid UTF-8 becomes U+FFFD", "a\xffb", "a\uFFFDb"},
		{"http URL becomes a link", "see https://example.com/a_b-c.", "see [https://example.com/a_b-c]."},
		{"URL needing encoding keeps its text", "https://x.com/a|b", `[https://x.com/a\|b|https://x.com/a%7Cb]`},
		{"URL in parentheses", "(https://x.com/a_(b))", `([https://x.com/a_(b)])`},
		{"mailto keeps its text", "mailto:a_b@x.com", `[mailto:a\_b@x.com|mailto:a_b@x.com]`},
		{"URL glued to a word stays text", "xhttps://a.com/b_c", `xhttps&#58;//a.com/b\_c`},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TelegramToWiki(tc.text, nil); got != tc.want {
				t.Fatalf("TelegramToWiki(%q)\n got %q\nwant %q", tc.text, got, tc.want)
			}
			if got := ViberToWiki(tc.text); got != tc.want {
				t.Fatalf("ViberToWiki(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestTelegramToWikiMapsEntities(t *testing.T) {
	e := func(typ string, off, n int) Entity { return Entity{Type: typ, Offset: off, Length: n} }
	for _, tc := range []struct {
		name     string
		text     string
		entities []Entity
		want     string
	}{
		{"bold", "a bold b", []Entity{e("bold", 2, 4)}, "a *bold* b"},
		{"italic underline strike", "i u s", []Entity{e("italic", 0, 1), e("underline", 2, 1), e("strikethrough", 4, 1)}, "_i_ +u+ -s-"},
		{"inline code is escaped inside", "run {x}", []Entity{e("code", 4, 3)}, `run {{\{x\}}}`},
		{"nested", "bold and italic", []Entity{e("bold", 0, 15), e("italic", 5, 10)}, "*bold _and italic_*"},
		{"overlapping effects are closed and reopened", "one two three", []Entity{e("bold", 0, 7), e("italic", 4, 9)}, "*one _two_* _three_"},
		{"mid-word effect uses braces", "unbelievable", []Entity{e("bold", 2, 6)}, "un{*}believ{*}able"},
		{"white space moves outside the markers", "a  bold  b", []Entity{e("bold", 1, 7)}, "a  *bold*  b"},
		{"effects stop at line breaks", "one\ntwo", []Entity{e("bold", 0, 7)}, "*one*\n*two*"},
		{"spoiler is plain text", "secret", []Entity{e("spoiler", 0, 6)}, "secret"},
		{"mention hashtag command phone stay text", "@ann #tag /start +1-2", []Entity{e("mention", 0, 4), e("hashtag", 5, 4), e("bot_command", 10, 6), e("phone_number", 17, 4)}, `@ann #tag /start \+1\-2`},
		{"custom emoji keeps its text", "hi 😀", []Entity{{Type: "custom_emoji", Offset: 3, Length: 2, CustomEmojiID: "1"}}, "hi 😀"},
		{"text link", "docs here", []Entity{{Type: "text_link", Offset: 0, Length: 4, URL: "https://x.com/a b|c"}}, "[docs|https://x.com/a%20b%7Cc] here"},
		{"javascript link is text", "click", []Entity{{Type: "text_link", Offset: 0, Length: 5, URL: "javascript:alert(1)"}}, "click"},
		{"tg link is text", "user", []Entity{{Type: "text_link", Offset: 0, Length: 4, URL: "tg://user?id=1"}}, "user"},
		{"url entity", "go to example.com now", []Entity{e("url", 6, 11)}, "go to [example.com|http://example.com] now"},
		{"email entity", "mail a@b.co", []Entity{e("email", 5, 6)}, "mail [a@b.co|mailto:a@b.co]"},
		{"bold link", "a link", []Entity{e("bold", 0, 6), {Type: "text_link", Offset: 2, Length: 4, URL: "https://x.com/*"}}, "{*}a [link|https://x.com/*]{*}"},
		{"pre with a known language", "x\nfmt.Println(1)\ny", []Entity{{Type: "pre", Offset: 2, Length: 14, Language: "golang"}}, "x\n{code:go}\nfmt.Println(1)\n{code}\ny"},
		{"pre with an unknown language", "a<b>", []Entity{{Type: "pre", Offset: 0, Length: 4, Language: "brainfuck"}}, "{noformat}\na<b>\n{noformat}"},
		{"pre holding the closing macro", "x{noformat}y", []Entity{e("pre", 0, 12)}, "{code}\nx{noformat}y\n{code}"},
		{"pre holding both macros is escaped text", "{code}{noformat}", []Entity{e("pre", 0, 16)}, `\{code\}\{noformat\}`},
		{"blockquote", "said:\nhello", []Entity{e("blockquote", 6, 5)}, "said:\n{quote}\nhello\n{quote}"},
		{"blockquote mid-line", "a quote b", []Entity{e("expandable_blockquote", 2, 5)}, "a \n{quote}\nquote\n{quote}\n b"},
		{"overlapping quotes merge", "abcdef", []Entity{e("blockquote", 0, 4), e("blockquote", 2, 4)}, "{quote}\nabcdef\n{quote}"},
		{"offsets count UTF-16 units", "👍🏽 ok 🇺🇦 yes", []Entity{e("bold", 5, 2), e("italic", 13, 3)}, "👍🏽 *ok* 🇺🇦 _yes_"},
		{"an offset inside a surrogate pair widens", "a👍b", []Entity{e("bold", 2, 1)}, "a{*}👍{*}b"},
		{"an offset inside a skin-tone emoji widens", "👍🏽", []Entity{e("bold", 0, 2)}, "*👍🏽*"},
		{"entities past the end are clamped", "abc", []Entity{e("bold", 1, 100), e("italic", 50, 2)}, "a{*}bc{*}"},
		{"negative offsets are clamped", "abc", []Entity{e("bold", -2, 3)}, "{*}a{*}bc"},
		{"zero and negative lengths are ignored", "abc", []Entity{e("bold", 0, 0), e("bold", 1, -1)}, "abc"},
		{"unknown types are text", "x", []Entity{e("date_time", 0, 1)}, "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TelegramToWiki(tc.text, tc.entities); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
