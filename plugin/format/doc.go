// Package format converts message text between the messengers and Jira,
// both ways, escaping what each side would otherwise read as markup, and
// splits long messages into parts each messenger accepts.
//
// Customer messages go to Jira with [TelegramToWiki] (text and entities)
// or [ViberToWiki] (plain text). Agent comments come back with
// [WikiToTelegramHTML] (admin-webhook bodies) or [ADFToTelegramHTML]
// (REST v3 and Forge bodies) and are cut with [SplitTelegramHTML], or
// [SplitText] for plain-text channels. [ValidTelegramHTML] and
// [VisibleText] check a message the way Telegram's HTML parser would.
//
// The package uses only the standard library and builds for wasip1; it
// works on whole strings in a few passes, without regular expressions.
//
// # Escaping Jira wiki markup
//
// Text from a customer must never become markup, a macro or a link in
// Jira. TelegramToWiki and ViberToWiki therefore write
//
//   - a backslash before each of { } [ ] * _ - + ^ ~ | ! everywhere;
//   - \? for a question mark next to another (??citation??);
//   - \# for # at the start of a line (numbered lists), counting only
//     white space and effect markers before it;
//   - h1\. to h6\. and bq\. at the start of a line (headings, quotes);
//   - \( before Jira's letter icons (y) (n) (i) (x) (/) (on) (off) (flag);
//   - &#92; for a backslash (a backslash cannot escape itself: \\ is a line
//     break), &amp; for & before a letter or # (an entity), and &#58; for
//     the colon of "://" or "mailto:" when the URL is not written as a
//     link (Jira would link it, backslashes and all);
//   - bare http, https, ftp and mailto URLs as [url], or [text|url] when
//     the URL had to be percent-encoded;
//   - CR LF and CR as LF; other control characters are dropped.
//
// Link targets keep only http, https, ftp and mailto, with white space,
// non-ASCII bytes and | [ ] { } < > " \ ^ ` percent-encoded. Effects use
// the short form *x* where Jira recognises it (no letter or digit just
// outside, no link inside) and the braced form {*}x{*} otherwise; they are
// cut at line breaks and trimmed of white space, since Jira effects span
// neither. Code blocks use {code:lang} for a language Jira knows and
// {noformat} otherwise, switching macro when the content holds the closing
// one. Smileys such as :) are left alone: they are what the customer
// meant.
//
// # Escaping Telegram HTML
//
// Telegram HTML output uses only b, i, u, s, tg-spoiler, a, code, pre (with
// code class="language-x"), and blockquote; '<', '>' and '&' of the text
// become &lt; &gt; &amp;, and '"' in attributes &quot;. An href keeps only
// the http, https, tg and mailto schemes; any other link is shown as its
// text. Tags open only around text, always nest and are always closed; code
// never holds or sits in another entity, pre and blockquote are never
// inside an inline tag, and quotes do not nest. Invalid UTF-8 becomes
// U+FFFD.
//
// # Splitting
//
// Telegram counts its 4096-character limit in UTF-16 code units of the
// visible text, after tags are removed and entities decoded, so the
// splitter measures exactly that. Within the window of at most limit
// units it cuts, in this order of preference: after a paragraph break (a
// blank line), after a line break, after a sentence end (. ! ? … and CJK
// full stops, with closing quotes), each only if it falls in the second
// half of the window so that parts are not needlessly short; else after
// the last space; else at the last grapheme-cluster boundary (never inside
// an emoji with skin tone, ZWJ sequence, flag or keycap, nor before a
// combining mark); else at the last code point (never inside a surrogate
// pair). A cut never falls inside a tag or an entity such as &amp;. Tags
// open at the cut are closed at the end of the part and reopened, with
// their attributes, at the start of the next one, so a long <pre> block
// continues as <pre> in the next message. Concatenating the visible text
// of the parts gives the original visible text; parts that would be only
// white space, which Telegram rejects, are left out.
package format
