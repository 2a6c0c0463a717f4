package format

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxInlineDepth bounds the nesting of inline markup; deeper markers are
// shown as they are.
const maxInlineDepth = 12

// WikiToTelegramHTML converts Jira wiki markup (the body of a comment in an
// admin webhook) to Telegram HTML. Text effects become their tags, {code}
// and {noformat} become <pre>, {quote} and bq. become <blockquote>,
// headings become bold lines, list items start with "• " or "1. ", table
// rows become lines of cells separated by " | ", images and attachments
// become their file names, user mentions become "@user" (or "@" and the
// link's text), colours and other macros are dropped, and links keep only
// the http, https and mailto schemes. Everything else is text, escaped.
func WikiToTelegramHTML(wiki string) string {
	c := wikiConv{w: newHTMLWriter(len(wiki))}
	s := wiki
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	c.blocks(s)
	return c.w.finish()
}

type listLevel struct {
	count    int
	numbered bool
}

type wikiConv struct {
	w      *htmlWriter
	inLink int         // parsing a link's text: no autolinks
	lists  []listLevel // open lists, outermost first
}

// blocks finds the block macros ({code}, {noformat}, {quote}, {panel}) and
// hands the text between them to lines.
func (c *wikiConv) blocks(s string) {
	text := 0
	for i := 0; i < len(s); {
		k := strings.IndexByte(s[i:], '{')
		if k < 0 {
			break
		}
		i += k
		if escapedAt(s, i) {
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' { // {{monospace}} is inline
			if e := strings.Index(s[i+2:], "}}"); e >= 0 && strings.IndexByte(s[i+2:i+2+e], '\n') < 0 {
				i += e + 4
			} else {
				i += 2
			}
			continue
		}
		name, params, end, ok := macroAt(s, i)
		if !ok {
			i++
			continue
		}
		switch name {
		case "code", "noformat":
			c.lines(s[text:i])
			closing := "{" + name + "}"
			body, rest := s[end:], len(s)
			if e := indexFold(s[end:], closing); e >= 0 {
				body, rest = s[end:end+e], end+e+len(closing)
			}
			lang := ""
			if name == "code" {
				lang = codeLanguage(params)
			}
			c.endList()
			c.w.pre(lang, body)
			i, text = rest, rest
		case "quote":
			c.lines(s[text:i])
			c.endList()
			if c.w.quote > 0 {
				c.w.closeQuote()
			} else {
				c.w.openQuote()
			}
			i, text = end, end
		case "panel":
			c.lines(s[text:i])
			c.endList()
			c.w.newline(2)
			i, text = end, end
		default:
			i = end
		}
	}
	c.lines(s[text:])
}

// escapedAt reports whether s[i] is preceded by an odd number of
// backslashes.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// macroAt parses {name} or {name:params} at s[i]; params hold no '}' or
// newline.
func macroAt(s string, i int) (name, params string, end int, ok bool) {
	j := i + 1
	for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
		j++
	}
	if j == i+1 || j >= len(s) || j-i > 20 {
		return "", "", 0, false
	}
	name = strings.ToLower(s[i+1 : j])
	if s[j] == '}' {
		return name, "", j + 1, true
	}
	if s[j] != ':' {
		return "", "", 0, false
	}
	e := strings.IndexAny(s[j:], "}\n")
	if e < 0 || s[j+e] != '}' {
		return "", "", 0, false
	}
	return name, s[j+1 : j+e], j + e + 1, true
}

// indexFold is strings.Index, ignoring ASCII case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		k := strings.IndexByte(s[i:], sub[0])
		if k < 0 {
			return -1
		}
		i += k
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// codeLanguage picks the language from {code:params}: the first parameter
// without '=', or language=.
func codeLanguage(params string) string {
	for p := range strings.SplitSeq(params, "|") {
		p = strings.TrimSpace(p)
		if k, v, ok := strings.Cut(p, "="); ok {
			if strings.EqualFold(strings.TrimSpace(k), "language") {
				return strings.TrimSpace(v)
			}
			continue
		}
		return p
	}
	return ""
}

func (c *wikiConv) endList() { c.lists = c.lists[:0] }

// lines renders a stretch of text between block macros line by line.
func (c *wikiConv) lines(s string) {
	if s == "" {
		return
	}
	for idx := 0; ; idx++ {
		nl := strings.IndexByte(s, '\n')
		line, last := s, nl < 0
		if !last {
			line, s = s[:nl], s[nl+1:]
		}
		if strings.TrimSpace(line) == "" {
			// A blank line between two lines ends the paragraph; an empty
			// piece at either end belongs to a macro's line.
			if idx > 0 && !last {
				c.endList()
				c.w.newline(2)
			}
		} else {
			c.line(line)
			if !last {
				c.w.newline(1)
			}
		}
		if last {
			return
		}
	}
}

// line renders one line: a rule, heading, bq., list item, table row or
// plain paragraph text.
func (c *wikiConv) line(line string) {
	t := strings.TrimLeft(line, " \t")
	switch {
	case len(t) >= 4 && strings.Trim(t, "- \t") == "" && strings.HasPrefix(t, "----"):
		c.endList()
		c.w.text("——————", style{})
		return
	case len(t) >= 3 && t[0] == 'h' && t[1] >= '1' && t[1] <= '6' && t[2] == '.' && (len(t) == 3 || t[3] == ' ' || t[3] == '\t'):
		c.endList()
		c.inline(strings.TrimSpace(t[3:]), style{bits: sBold}, 0)
		return
	case strings.HasPrefix(t, "bq.") && (len(t) == 3 || t[3] == ' ' || t[3] == '\t'):
		c.endList()
		c.w.openQuote()
		c.inline(strings.TrimSpace(t[3:]), style{}, 0)
		c.w.closeQuote()
		return
	case t[0] == '|':
		c.endList()
		c.tableRow(t)
		return
	}
	if depth, numbered, rest, ok := listMarker(t); ok {
		for len(c.lists) < depth {
			c.lists = append(c.lists, listLevel{numbered: numbered})
		}
		c.lists = c.lists[:depth]
		if l := &c.lists[depth-1]; l.numbered != numbered {
			*l = listLevel{numbered: numbered}
		}
		c.lists[depth-1].count++
		prefix := strings.Repeat("   ", depth-1)
		if numbered {
			prefix += strconv.Itoa(c.lists[depth-1].count) + ". "
		} else {
			prefix += "• "
		}
		c.w.text(prefix, style{})
		c.inline(rest, style{}, 0)
		return
	}
	c.endList()
	c.inline(t, style{}, 0)
}

// listMarker recognises "* ", "# ", "- " and nested markers such as "** "
// or "*# ".
func listMarker(t string) (depth int, numbered bool, rest string, ok bool) {
	j := 0
	for j < len(t) && (t[j] == '*' || t[j] == '#' || t[j] == '-') {
		j++
	}
	if j == 0 || j > 10 || j >= len(t) || (t[j] != ' ' && t[j] != '\t') {
		return 0, false, "", false
	}
	if strings.IndexByte(t[:j], '-') >= 0 && j > 1 {
		return 0, false, "", false
	}
	return j, t[j-1] == '#', strings.TrimSpace(t[j:]), true
}

// tableRow renders "||h1||h2||" or "|a|b|" as cells separated by " | ",
// header cells in bold.
func (c *wikiConv) tableRow(t string) {
	first := true
	for i := 0; i < len(t); {
		header := strings.HasPrefix(t[i:], "||")
		if header {
			i += 2
		} else {
			i++
		}
		end := cellEnd(t, i)
		cell := strings.TrimSpace(t[i:end])
		i = end
		if cell == "" && end == len(t) {
			break
		}
		if !first {
			c.w.text(" | ", style{})
		}
		first = false
		st := style{}
		if header {
			st.bits = sBold
		}
		c.inline(cell, st, 0)
	}
}

// cellEnd finds the '|' that ends a table cell, skipping escaped bars and
// bars inside [links] and {{monospace}}.
func cellEnd(t string, i int) int {
	brackets, mono := 0, false
	for ; i < len(t); i++ {
		switch t[i] {
		case '\\':
			i++
		case '[':
			brackets++
		case ']':
			if brackets > 0 {
				brackets--
			}
		case '{':
			if strings.HasPrefix(t[i:], "{{") {
				mono = true
				i++
			}
		case '}':
			if strings.HasPrefix(t[i:], "}}") {
				mono = false
				i++
			}
		case '|':
			if brackets == 0 && !mono {
				return i
			}
		}
	}
	return len(t)
}

// styleChar maps the wiki effect characters to styles; ^ and ~ (super- and
// subscript) have none in Telegram and only lose their markers.
func styleChar(ch byte) (sbits, int, bool) {
	switch ch {
	case '*':
		return sBold, 0, true
	case '_':
		return sItalic, 1, true
	case '+':
		return sUnder, 2, true
	case '-':
		return sStrike, 3, true
	case '^':
		return 0, 4, true
	case '~':
		return 0, 5, true
	}
	return 0, 0, false
}

// inline renders one line (or part of one) of wiki text in style st.
func (c *wikiConv) inline(s string, st style, depth int) {
	// noCloser[k]: no closer for effect k exists at or after this index.
	var noCloser [7]int
	for k := range noCloser {
		noCloser[k] = math.MaxInt
	}
	plain := 0
	for i := 0; i < len(s); {
		ch := s[i]
		if ch < utf8.RuneSelf && strings.IndexByte(wikiSpecial, ch) >= 0 {
			// Flush the plain run: a helper below may render from here.
			// Two runs in the same style join seamlessly in the output.
			c.w.text(s[plain:i], st)
			plain = i
		}
		end := 0
		switch ch {
		case '\\':
			if i+1 < len(s) && s[i+1] == '\\' { // \\ is a line break
				c.w.lineBreak()
				end = i + 2
			} else if i+1 < len(s) && isASCIIPunct(s[i+1]) {
				plain = i + 1 // the escaped character is plain text
				i += 2
				continue
			}
		case '{':
			end = c.brace(s, i, st, depth)
		case '[':
			end = c.link(s, i, st, depth)
		case '!':
			end = c.image(s, i, st)
		case '&':
			if r, e, ok := wikiEntity(s, i); ok {
				var b [4]byte
				c.w.text(string(b[:utf8.EncodeRune(b[:], r)]), st)
				end = e
			}
		case '?':
			if strings.HasPrefix(s[i:], "??") && depth < maxInlineDepth && i+2 < len(s) && !isSpaceByte(s[i+2]) && !alnumBefore(s, i) {
				if j := findCloser(s, i+2, "??", &noCloser[6]); j >= 0 {
					c.inline(s[i+2:j], st.with(sItalic), depth+1)
					end = j + 2
				}
			}
		case 'h', 'H', 'f', 'F', 'm', 'M':
			if n := autolinkLen(s, i); n > 0 && c.inLink == 0 {
				i += n // kept as text: Telegram links it by itself
				continue
			}
		default:
			bit, k, ok := styleChar(ch)
			if !ok || depth >= maxInlineDepth || i+1 >= len(s) || isSpaceByte(s[i+1]) || alnumBefore(s, i) {
				break
			}
			if ch == '-' && s[i+1] == '-' { // -- and --- are dashes
				for i < len(s) && s[i] == '-' {
					i++
				}
				continue
			}
			if j := findCloser(s, i+1, s[i:i+1], &noCloser[k]); j >= 0 {
				c.inline(s[i+1:j], st.with(bit), depth+1)
				end = j + 1
			}
		}
		if end > 0 {
			i, plain = end, end
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	c.w.text(s[plain:], st)
}

// wikiSpecial are the characters that may start markup.
const wikiSpecial = "\\{[!&?*_+-^~"

func isASCIIPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
}

// findCloser finds the closing marker for an effect whose content starts at
// from: not after white space or a backslash, not before a letter or digit,
// with at least one character of content. *cache remembers where a search
// failed, so that a line full of markers stays linear.
func findCloser(s string, from int, marker string, cache *int) int {
	if from >= *cache {
		return -1
	}
	for j := from + 1; j+len(marker) <= len(s); j++ {
		k := strings.Index(s[j:], marker)
		if k < 0 {
			break
		}
		j += k
		if !isSpaceByte(s[j-1]) && s[j-1] != '\\' && !alnumAt(s, j+len(marker)) {
			return j
		}
	}
	*cache = from
	return -1
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func alnumBefore(s string, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func alnumAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// brace handles what starts with '{': {{monospace}}, forced effects such as
// {*}bold{*}, and macros to drop ({color}, {anchor}, ...).
func (c *wikiConv) brace(s string, i int, st style, depth int) int {
	if strings.HasPrefix(s[i:], "{{") {
		e := strings.Index(s[i+2:], "}}")
		if e <= 0 || depth >= maxInlineDepth {
			return 0
		}
		for e+4+i < len(s) && s[i+2+e+2] == '}' { // {{a}}} closes at the last pair
			e++
		}
		c.inline(s[i+2:i+2+e], st.with(sCode), depth+1)
		return i + e + 4
	}
	if i+2 < len(s) && s[i+2] == '}' {
		if bit, _, ok := styleChar(s[i+1]); ok && depth < maxInlineDepth {
			marker := s[i : i+3]
			e := strings.Index(s[i+3:], marker)
			if e <= 0 {
				return 0
			}
			c.inline(s[i+3:i+3+e], st.with(bit), depth+1)
			return i + 3 + e + 3
		}
	}
	name, _, end, ok := macroAt(s, i)
	if !ok {
		return 0
	}
	switch name {
	case "color", "anchor", "panel", "quote", "code", "noformat", "section", "column", "expand", "status":
		return end
	}
	return 0
}

// link handles [text|target], [target], [^attachment] and [~user].
func (c *wikiConv) link(s string, i int, st style, depth int) int {
	e := -1
	for j := i + 1; j < len(s); j++ {
		if s[j] == '\\' {
			j++
			continue
		}
		if s[j] == ']' {
			e = j
			break
		}
		if s[j] == '[' {
			return 0
		}
	}
	if e <= i+1 {
		return 0
	}
	inner := s[i+1 : e]
	alias, target := "", inner
	if k := unescapedIndex(inner, '|'); k >= 0 {
		alias, target = inner[:k], inner[k+1:]
		if k2 := strings.IndexByte(target, '|'); k2 >= 0 { // |smart-link
			target = target[:k2]
		}
	} else if k := strings.IndexByte(inner, '^'); k > 0 {
		alias, target = inner[:k], inner[k:]
	}
	alias, target = strings.TrimSpace(alias), strings.TrimSpace(target)
	if target == "" {
		return 0
	}
	switch {
	case target[0] == '~':
		name := alias
		if name == "" {
			if strings.HasPrefix(strings.ToLower(target), "~accountid:") {
				name = "user"
			} else {
				name = target[1:]
			}
		}
		if !strings.HasPrefix(name, "@") {
			name = "@" + name
		}
		c.w.text(name, st)
	case target[0] == '^':
		if alias != "" {
			c.inLink++
			c.inline(alias, st, depth+1)
			c.inLink--
		} else {
			c.w.text(target[1:], st)
		}
	default:
		href, ok := "", false
		if st.href == "" {
			href, ok = safeHref(target)
		}
		lst := st
		if ok {
			lst.href = href
		}
		switch {
		case alias != "":
			c.inLink++
			c.inline(alias, lst, depth+1)
			c.inLink--
		case ok && len(target) > 7 && strings.EqualFold(target[:7], "mailto:"):
			c.w.text(target[7:], lst)
		default:
			c.w.text(target, lst)
		}
	}
	return e + 1
}

func unescapedIndex(s string, b byte) int {
	for j := 0; j < len(s); j++ {
		if s[j] == '\\' {
			j++
			continue
		}
		if s[j] == b {
			return j
		}
	}
	return -1
}

// image handles !file.png! and !url|params!: shown as the file name (a
// link to it when it is a URL).
func (c *wikiConv) image(s string, i int, st style) int {
	if i+1 >= len(s) || isSpaceByte(s[i+1]) {
		return 0
	}
	j := i + 1
	for j < len(s) && s[j] != '!' && s[j] != '|' && s[j] != ']' && s[j] != '\t' && s[j] != '\n' {
		j++
	}
	if j >= len(s) || s[j] == ']' || s[j] == '\t' || s[j] == '\n' {
		return 0
	}
	src := s[i+1 : j]
	if src == "" {
		return 0
	}
	if s[j] == '|' {
		k := strings.IndexByte(s[j:], '!')
		if k < 0 {
			return 0
		}
		j += k
	}
	name := src
	if q := strings.IndexAny(name, "?#"); q > 0 {
		name = name[:q]
	}
	if k := strings.LastIndexByte(strings.TrimRight(name, "/"), '/'); k >= 0 {
		name = strings.TrimRight(name, "/")[k+1:]
	}
	if name == "" {
		name = src
	}
	lst := st
	if href, ok := safeHref(src); ok && st.href == "" {
		lst.href = href
	}
	c.w.text(name, lst)
	return j + 1
}

// wikiEntity decodes the HTML character references Jira renders: the
// common named ones and numeric ones.
func wikiEntity(s string, i int) (rune, int, bool) {
	semi := strings.IndexByte(s[i:min(len(s), i+12)], ';')
	if semi < 2 {
		return 0, 0, false
	}
	name := s[i+1 : i+semi]
	if name[0] == '#' {
		r, end, ok := entityAt(s, i)
		return r, end, ok
	}
	var r rune
	switch name {
	case "amp":
		r = '&'
	case "lt":
		r = '<'
	case "gt":
		r = '>'
	case "quot":
		r = '"'
	case "apos":
		r = '\''
	case "nbsp":
		r = '\u00A0'
	case "bsol":
		r = '\\'
	case "copy":
		r = '©'
	case "reg":
		r = '®'
	case "trade":
		r = '™'
	case "hellip":
		r = '…'
	case "mdash":
		r = '—'
	case "ndash":
		r = '–'
	case "euro":
		r = '€'
	case "laquo":
		r = '«'
	case "raquo":
		r = '»'
	default:
		return 0, 0, false
	}
	return r, i + semi + 1, true
}

// autolinkLen is the length of a bare URL at s[i] (http://, https://,
// ftp://, mailto:), which Jira links without parsing markup inside.
func autolinkLen(s string, i int) int {
	if alnumBefore(s, i) {
		return 0
	}
	rest := s[i:]
	n := 0
	for _, p := range [...]string{"http://", "https://", "ftp://", "mailto:"} {
		if len(rest) > len(p) && strings.EqualFold(rest[:len(p)], p) {
			n = len(p)
			break
		}
	}
	if n == 0 {
		return 0
	}
	for n < len(rest) && urlPathByte(rest[n]) {
		n++
	}
	return n
}

func urlPathByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'()*+,-./:;=?@\\_~", c) >= 0
}
