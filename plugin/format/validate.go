package format

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	// ErrInvalidHTML is wrapped by every error of ValidTelegramHTML: Telegram
	// would answer such a message with 400 "can't parse entities".
	ErrInvalidHTML = errors.New("format: invalid Telegram HTML")
	// ErrInvalidADF is wrapped when an ADF document is not JSON or not an
	// object.
	ErrInvalidADF = errors.New("format: invalid ADF document")
)

// ValidTelegramHTML reports whether Telegram accepts s as a message body in
// parse_mode HTML. It follows Telegram's rules, erring on the strict side:
// only the tags b, strong, i, em, u, ins, s, strike, del, a (with an http,
// https, tg or mailto href), code, pre, blockquote (optionally expandable),
// tg-spoiler and span class="tg-spoiler"; <code class="language-x"> only as
// the first child of <pre>; every '<', '>' and '&' of the text escaped, with
// the entities &lt; &gt; &amp; &quot; and numeric &#NNN; &#xHHH;; tags
// properly nested and closed; nothing inside code or pre; no link inside a
// link; blockquote only at the top level; valid UTF-8. It does not check
// the length or emptiness of the text: see VisibleText.
func ValidTelegramHTML(s string) error {
	var sc htmlScan
	return sc.run(s)
}

// VisibleText returns the text Telegram shows for the HTML message s (tags
// removed, entities decoded) and its length in UTF-16 code units, the unit
// of Telegram's 4096-character limit. It fails as ValidTelegramHTML does.
func VisibleText(s string) (text string, units int, err error) {
	sc := htmlScan{wantText: true}
	if err := sc.run(s); err != nil {
		return "", 0, err
	}
	return string(sc.text), sc.units, nil
}

// UTF16Len is the length of s in UTF-16 code units, as Telegram counts
// offsets and lengths. Invalid UTF-8 bytes count as one unit each (U+FFFD).
func UTF16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n += runeUnits(r)
	}
	return n
}

func runeUnits(r rune) int {
	if r > 0xFFFF {
		return 2
	}
	return 1
}

// atom is one visible character: its rune, its width in the split unit and
// its byte range in the source.
type atom struct {
	r          rune
	w          int32
	start, end int32
}

// tagTok is one tag of an HTML message: its byte range and whether it opens.
type tagTok struct {
	start, end int32
	open       bool
}

type tagKind uint8

const (
	tkStyle tagKind = iota + 1
	tkLink
	tkCode
	tkPre
	tkQuote
	tkSpan
)

func tagKindOf(name string) tagKind {
	switch name {
	case "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler":
		return tkStyle
	case "span":
		return tkSpan
	case "a":
		return tkLink
	case "code":
		return tkCode
	case "pre":
		return tkPre
	case "blockquote":
		return tkQuote
	}
	return 0
}

type htmlFrame struct {
	name    string
	kind    tagKind
	content bool // pre: text or a child seen
}

// htmlScan parses Telegram HTML, optionally collecting the visible atoms
// and the tags (for the splitter) or the visible text.
type htmlScan struct {
	wantAtoms, wantText bool

	atoms    []atom
	tags     []tagTok
	text     []byte
	units    int
	nonBlank bool // some visible character is not white space

	stack    []htmlFrame
	stackBuf [8]htmlFrame
	attr     []byte // scratch for decoded attribute values
}

func errAt(pos int, format string, args ...any) error {
	return fmt.Errorf("%w: byte %d: %s", ErrInvalidHTML, pos, fmt.Sprintf(format, args...))
}

func (sc *htmlScan) run(s string) error {
	if len(s) > 1<<30 {
		return errAt(0, "message too large")
	}
	sc.stack = sc.stackBuf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '<':
			end, err := sc.tag(s, i)
			if err != nil {
				return err
			}
			if sc.wantAtoms {
				sc.tags = append(sc.tags, tagTok{start: int32(i), end: int32(end), open: s[i+1] != '/'})
			}
			i = end
		case c == '>':
			return errAt(i, "unescaped '>'")
		case c == '&':
			r, end, ok := entityAt(s, i)
			if !ok {
				return errAt(i, "unescaped '&' or unsupported entity")
			}
			sc.visible(r, i, end)
			i = end
		case c < utf8.RuneSelf:
			sc.visible(rune(c), i, i+1)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return errAt(i, "invalid UTF-8")
			}
			sc.visible(r, i, i+size)
			i += size
		}
	}
	if len(sc.stack) > 0 {
		return errAt(len(s), "<%s> is never closed", sc.stack[len(sc.stack)-1].name)
	}
	return nil
}

func (sc *htmlScan) visible(r rune, start, end int) {
	if n := len(sc.stack); n > 0 && sc.stack[n-1].kind == tkPre {
		sc.stack[n-1].content = true
	}
	u := runeUnits(r)
	sc.units += u
	if !sc.nonBlank && !unicode.IsSpace(r) {
		sc.nonBlank = true
	}
	if sc.wantAtoms {
		sc.atoms = append(sc.atoms, atom{r: r, w: int32(u), start: int32(start), end: int32(end)})
	}
	if sc.wantText {
		sc.text = utf8.AppendRune(sc.text, r)
	}
}

// entityAt decodes the character reference at s[i] ('&'): &lt; &gt; &amp;
// &quot; or a numeric reference to a Unicode scalar value.
func entityAt(s string, i int) (rune, int, bool) {
	semi := strings.IndexByte(s[i:min(len(s), i+12)], ';')
	if semi < 0 {
		return 0, 0, false
	}
	name := s[i+1 : i+semi]
	end := i + semi + 1
	switch name {
	case "lt":
		return '<', end, true
	case "gt":
		return '>', end, true
	case "amp":
		return '&', end, true
	case "quot":
		return '"', end, true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, 0, false
	}
	digits, base := name[1:], rune(10)
	if digits[0] == 'x' || digits[0] == 'X' {
		digits, base = digits[1:], 16
	}
	if digits == "" || len(digits) > 8 {
		return 0, 0, false
	}
	var v rune
	for j := 0; j < len(digits); j++ {
		d := rune(-1)
		switch c := digits[j]; {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		}
		if d < 0 {
			return 0, 0, false
		}
		v = v*base + d
	}
	if v == 0 || v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
		return 0, 0, false
	}
	return v, end, true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func isHTMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// tag parses the tag starting at s[i] == '<' and returns the index after it.
func (sc *htmlScan) tag(s string, i int) (int, error) {
	j := i + 1
	closing := j < len(s) && s[j] == '/'
	if closing {
		j++
	}
	ns := j
	for j < len(s) && isNameByte(s[j]) {
		j++
	}
	if ns == j {
		return 0, errAt(i, "unescaped '<'")
	}
	name := strings.ToLower(s[ns:j])
	kind := tagKindOf(name)
	if kind == 0 {
		return 0, errAt(i, "unsupported tag <%s>", name)
	}
	if closing {
		for j < len(s) && isHTMLSpace(s[j]) {
			j++
		}
		if j >= len(s) || s[j] != '>' {
			return 0, errAt(i, "malformed end tag </%s>", name)
		}
		n := len(sc.stack)
		if n == 0 || sc.stack[n-1].name != name {
			return 0, errAt(i, "unmatched end tag </%s>", name)
		}
		sc.stack = sc.stack[:n-1]
		return j + 1, nil
	}

	if err := sc.checkNesting(i, name, kind); err != nil {
		return 0, err
	}
	var hasHref, hasClass, spoilerClass bool
	for {
		sp := j
		for j < len(s) && isHTMLSpace(s[j]) {
			j++
		}
		if j >= len(s) {
			return 0, errAt(i, "unterminated tag <%s>", name)
		}
		if s[j] == '>' {
			j++
			break
		}
		if sp == j {
			return 0, errAt(j, "malformed tag <%s>", name)
		}
		as := j
		for j < len(s) && isNameByte(s[j]) {
			j++
		}
		if as == j {
			return 0, errAt(j, "malformed attribute in <%s>", name)
		}
		attr := strings.ToLower(s[as:j])
		k := j
		for k < len(s) && isHTMLSpace(s[k]) {
			k++
		}
		hasValue := k < len(s) && s[k] == '='
		sc.attr = sc.attr[:0]
		if hasValue {
			k++
			for k < len(s) && isHTMLSpace(s[k]) {
				k++
			}
			var err error
			if k, err = sc.attrValue(s, k); err != nil {
				return 0, err
			}
			j = k
		}
		val := sc.attr
		switch {
		case kind == tkLink && attr == "href" && !hasHref:
			if _, ok := safeHref(string(val)); !ok || strings.TrimSpace(string(val)) != string(val) {
				return 0, errAt(as, "href %q is not an http, https, tg or mailto URL", val)
			}
			hasHref = true
		case kind == tkSpan && attr == "class" && !hasClass:
			hasClass, spoilerClass = true, string(val) == "tg-spoiler"
		case kind == tkCode && attr == "class" && !hasClass:
			hasClass = true
			n := len(sc.stack)
			lang, ok := strings.CutPrefix(string(val), "language-")
			if n == 0 || sc.stack[n-1].kind != tkPre || !ok || cleanLanguage(lang) != lang || lang == "" {
				return 0, errAt(as, "class %q on <code> outside <pre> or not language-<name>", val)
			}
		case kind == tkQuote && attr == "expandable" && len(val) == 0 && !hasClass:
			hasClass = true
		default:
			return 0, errAt(as, "unsupported attribute %q in <%s>", attr, name)
		}
	}
	if kind == tkLink && !hasHref {
		return 0, errAt(i, "<a> without href")
	}
	if kind == tkSpan && !spoilerClass {
		return 0, errAt(i, `<span> without class="tg-spoiler"`)
	}
	if n := len(sc.stack); n > 0 && sc.stack[n-1].kind == tkPre {
		sc.stack[n-1].content = true
	}
	sc.stack = append(sc.stack, htmlFrame{name: name, kind: kind})
	return j, nil
}

// attrValue decodes the attribute value at s[k] into sc.attr.
func (sc *htmlScan) attrValue(s string, k int) (int, error) {
	if k >= len(s) {
		return 0, errAt(k, "unterminated attribute")
	}
	q := s[k]
	quoted := q == '"' || q == '\''
	if quoted {
		k++
	}
	for {
		if k >= len(s) {
			return 0, errAt(k, "unterminated attribute")
		}
		c := s[k]
		switch {
		case quoted && c == q:
			return k + 1, nil
		case !quoted && (isHTMLSpace(c) || c == '>'):
			if len(sc.attr) == 0 {
				return 0, errAt(k, "empty unquoted attribute")
			}
			return k, nil
		case c == '<' || (!quoted && (c == '"' || c == '\'' || c == '=' || c == '`')):
			return 0, errAt(k, "unexpected %q in attribute", c)
		case c == '&':
			r, end, ok := entityAt(s, k)
			if !ok {
				return 0, errAt(k, "unescaped '&' in attribute")
			}
			sc.attr = utf8.AppendRune(sc.attr, r)
			k = end
		default:
			r, size := utf8.DecodeRuneInString(s[k:])
			if r == utf8.RuneError && size == 1 {
				return 0, errAt(k, "invalid UTF-8")
			}
			sc.attr = append(sc.attr, s[k:k+size]...)
			k += size
		}
	}
}

// checkNesting applies Telegram's nesting rules for entities.
func (sc *htmlScan) checkNesting(pos int, name string, kind tagKind) error {
	n := len(sc.stack)
	if n > 0 {
		top := sc.stack[n-1]
		if top.kind == tkPre {
			if kind != tkCode || top.content {
				return errAt(pos, "<%s> inside <pre>", name)
			}
			return nil
		}
	}
	for _, f := range sc.stack {
		switch {
		case f.kind == tkCode:
			return errAt(pos, "<%s> inside <code>", name)
		case f.kind == tkLink && (kind == tkLink || kind == tkCode || kind == tkPre || kind == tkQuote):
			return errAt(pos, "<%s> inside <a>", name)
		case f.kind == tkQuote && kind == tkQuote:
			return errAt(pos, "nested <blockquote>")
		case f.kind != tkQuote && (kind == tkPre || kind == tkQuote):
			return errAt(pos, "block <%s> inside <%s>", name, f.name)
		}
	}
	return nil
}
