package format

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Entity is a Telegram MessageEntity. Offset and Length count UTF-16 code
// units of the message text.
type Entity struct {
	Type          string          `json:"type"`
	Offset        int             `json:"offset"`
	Length        int             `json:"length"`
	URL           string          `json:"url,omitempty"`
	Language      string          `json:"language,omitempty"`
	User          json.RawMessage `json:"user,omitempty"` // text_mention; ignored
	CustomEmojiID string          `json:"custom_emoji_id,omitempty"`
}

// maxEntities bounds the entities TelegramToWiki reads (Telegram sends at
// most 100); the rest are ignored.
const maxEntities = 1000

// TelegramToWiki converts a Telegram message (text and entities) to Jira
// wiki markup that renders as the same text: bold, italic, underline,
// strikethrough, code, pre, links and quotes become *b*, _i_, +u+, -s-,
// {{code}}, {code:lang}/{noformat}, [text|url] and {quote}; other entities
// (mentions, hashtags, spoilers, custom emoji, ...) stay plain text. All
// text is escaped (see the package documentation) so that it cannot inject
// markup or macros. Entities are clamped to the text, may overlap and may
// split surrogate pairs (they are widened to whole characters); invalid
// UTF-8 becomes U+FFFD.
func TelegramToWiki(text string, entities []Entity) string {
	t := tgConv{rs: []rune(text)}
	t.layout(entities)
	t.render()
	return string(t.out)
}

// ViberToWiki converts a plain text message (Viber, WhatsApp) to Jira wiki
// markup: the text escaped, line breaks kept and http(s) URLs made links.
func ViberToWiki(text string) string {
	return TelegramToWiki(text, nil)
}

// Inline piece kinds; kLink is last so that, for equal ranges, a link nests
// inside the other effects.
const (
	kBold uint8 = iota + 1
	kItalic
	kUnder
	kStrike
	kCode
	kLink
)

var wikiMarkers = [...]struct{ simple, forced string }{
	kBold:   {"*", "{*}"},
	kItalic: {"_", "{_}"},
	kUnder:  {"+", "{+}"},
	kStrike: {"-", "{-}"},
}

// piece is an inline entity cut to one line and trimmed of white space.
type piece struct {
	start, end int
	kind       uint8
	bare       bool // a url entity whose text is its URL: written [url]
	open       bool
	url        string
}

type block struct {
	start, end int
	lang       string
}

type openPiece struct {
	p        int
	closePos int
	closer   string
}

type tgConv struct {
	rs     []rune
	out    []byte
	pieces []piece
	quotes []block
	pres   []block
	bnd    []uint8 // per position 0..n: bndInline, bndBlock; per rune: inPre
	stack  []openPiece
	escDot int
	// inLinkText is set while writing the text of a link, where Jira
	// does not autolink.
	inLinkText bool
}

const (
	bndInline uint8 = 1 << iota
	bndBlock
	inPre
)

// span converts an entity's UTF-16 range to a rune range, clamped to the
// text and widened to whole characters.
func (t *tgConv) span(pos16 []int, e Entity) (int, int, bool) {
	n := len(t.rs)
	total := pos16[n]
	off, length := e.Offset, e.Length
	if length <= 0 || off >= total {
		return 0, 0, false
	}
	if off < 0 {
		length += off
		off = 0
		if length <= 0 {
			return 0, 0, false
		}
	}
	length = min(length, total-off)
	s := sort.Search(n+1, func(i int) bool { return pos16[i] > off }) - 1
	end := off + length
	e2 := sort.Search(n+1, func(i int) bool { return pos16[i] >= end })
	// Widen to whole grapheme clusters: a marker inside an emoji sequence
	// (skin tone, ZWJ family, keycap) would break it.
	for s > 0 && (isExtend(t.rs[s]) || t.rs[s-1] == 0x200D) {
		s--
	}
	for e2 < n && (isExtend(t.rs[e2]) || t.rs[e2-1] == 0x200D) {
		e2++
	}
	return s, e2, s < e2
}

func (t *tgConv) layout(entities []Entity) {
	n := len(t.rs)
	t.bnd = make([]uint8, n+1)
	t.escDot = -1
	if len(entities) == 0 || n == 0 {
		return
	}
	if len(entities) > maxEntities {
		entities = entities[:maxEntities]
	}
	pos16 := make([]int, n+1)
	for i, r := range t.rs {
		pos16[i+1] = pos16[i] + runeUnits(r)
	}

	// Blocks: quotes cannot nest in Jira, so overlapping ones merge; code
	// blocks cannot overlap and are cut at quote boundaries.
	for _, e := range entities {
		s, end, ok := t.span(pos16, e)
		if !ok {
			continue
		}
		switch e.Type {
		case "blockquote", "expandable_blockquote":
			t.quotes = append(t.quotes, block{start: s, end: end})
		case "pre":
			t.pres = append(t.pres, block{start: s, end: end, lang: e.Language})
		}
	}
	slices.SortFunc(t.quotes, func(a, b block) int { return a.start - b.start })
	merged := t.quotes[:0]
	for _, q := range t.quotes {
		if k := len(merged) - 1; k >= 0 && q.start < merged[k].end {
			merged[k].end = max(merged[k].end, q.end)
			continue
		}
		merged = append(merged, q)
	}
	t.quotes = merged
	slices.SortStableFunc(t.pres, func(a, b block) int { return a.start - b.start })
	var pres []block
	for _, p := range t.pres {
		if k := len(pres) - 1; k >= 0 && p.start < pres[k].end {
			continue
		}
		for _, q := range t.quotes {
			for _, cut := range [2]int{q.start, q.end} {
				if cut > p.start && cut < p.end {
					pres = append(pres, block{start: p.start, end: cut, lang: p.lang})
					p.start = cut
				}
			}
		}
		pres = append(pres, p)
	}
	t.pres = pres
	for _, b := range t.quotes {
		t.bnd[b.start] |= bndBlock
		t.bnd[b.end] |= bndBlock
	}
	for _, b := range t.pres {
		t.bnd[b.start] |= bndBlock
		t.bnd[b.end] |= bndBlock
		for i := b.start; i < b.end; i++ {
			t.bnd[i] |= inPre
		}
	}

	// Inline effects, cut at line breaks, blocks and code blocks.
	for _, e := range entities {
		var kind uint8
		url, bare := "", false
		switch e.Type {
		case "bold":
			kind = kBold
		case "italic":
			kind = kItalic
		case "underline":
			kind = kUnder
		case "strikethrough":
			kind = kStrike
		case "code":
			kind = kCode
		case "text_link", "url", "email":
			kind = kLink
		default:
			continue
		}
		s, end, ok := t.span(pos16, e)
		if !ok {
			continue
		}
		if kind == kLink {
			txt := string(t.rs[s:end])
			raw := e.URL
			switch e.Type {
			case "url":
				raw = txt
				if !strings.Contains(txt, "://") && !hasPrefixFold(txt, "mailto:") {
					raw = "http://" + txt
				}
			case "email":
				raw = "mailto:" + txt
			}
			if url, ok = jiraURL(raw); !ok {
				continue
			}
			bare = e.Type == "url" && url == txt
		}
		t.addPieces(s, end, kind, url, bare)
	}
	slices.SortStableFunc(t.pieces, func(a, b piece) int {
		if a.start != b.start {
			return a.start - b.start
		}
		if a.end != b.end {
			return b.end - a.end
		}
		return int(a.kind) - int(b.kind)
	})
	for _, p := range t.pieces {
		t.bnd[p.start] |= bndInline
		t.bnd[p.end] |= bndInline
	}
}

// addPieces cuts [s, end) at line breaks, block boundaries and code blocks
// and adds the trimmed, non-empty pieces.
func (t *tgConv) addPieces(s, end int, kind uint8, url string, bare bool) {
	first := len(t.pieces)
	emit := func(x, y int) {
		for x < y && isBlankRune(t.rs[x]) {
			x++
		}
		for y > x && isBlankRune(t.rs[y-1]) {
			y--
		}
		if x < y {
			t.pieces = append(t.pieces, piece{start: x, end: y, kind: kind, url: url})
		}
	}
	a := s
	for j := s; j < end; j++ {
		switch {
		case isLineBreak(t.rs[j]) || t.bnd[j]&inPre != 0:
			emit(a, j)
			a = j + 1
		case t.bnd[j]&bndBlock != 0 && j > a:
			emit(a, j)
			a = j
		}
	}
	emit(a, end)
	if bare && len(t.pieces) == first+1 && t.pieces[first].start == s && t.pieces[first].end == end {
		t.pieces[first].bare = true
	}
}

// isBlankRune reports white space and the control characters the output
// drops: an effect neither starts nor ends on them.
func isBlankRune(r rune) bool { return unicode.IsSpace(r) || r < ' ' || r == 0x7f }

func isLineBreak(r rune) bool { return r == '\n' || r == '\r' }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func (t *tgConv) render() {
	n := len(t.rs)
	t.out = make([]byte, 0, len(t.rs)+len(t.rs)/4+16)
	var active []int
	next, qi, pi := 0, 0, 0
	for i := 0; ; {
		for k := len(t.stack) - 1; k >= 0 && t.stack[k].closePos <= i; k-- {
			t.out = append(t.out, t.stack[k].closer...)
			t.pieces[t.stack[k].p].open = false
			t.stack = t.stack[:k]
		}
		if i >= n {
			break
		}
		if qi < len(t.quotes) && t.quotes[qi].end == i {
			t.ensureLineStart()
			t.out = append(t.out, "{quote}"...)
			if !isLineBreak(t.rs[i]) {
				t.out = append(t.out, '\n')
			}
			qi++
		}
		if qi < len(t.quotes) && t.quotes[qi].start == i {
			t.ensureLineStart()
			t.out = append(t.out, "{quote}\n"...)
		}
		if pi < len(t.pres) && t.pres[pi].start == i {
			t.pre(t.pres[pi])
			i = t.pres[pi].end
			pi++
			continue
		}
		for next < len(t.pieces) && t.pieces[next].start <= i {
			active = append(active, next)
			next++
		}
		kept := active[:0]
		for _, p := range active {
			if t.pieces[p].end > i {
				kept = append(kept, p)
			}
		}
		active = kept
		if !isBlankRune(t.rs[i]) {
			jumped := false
			for _, p := range active {
				if j := t.open(p, i); j > i {
					i, jumped = j, true
					break
				}
			}
			if jumped {
				continue
			}
		}
		if j := t.autolink(i); j > i {
			i = j
			continue
		}
		t.char(i)
		i++
	}
	if qi < len(t.quotes) {
		t.ensureLineStart()
		t.out = append(t.out, "{quote}"...)
	}
}

func (t *tgConv) linkOpen() bool {
	for _, o := range t.stack {
		if t.pieces[o.p].kind == kLink {
			return true
		}
	}
	return false
}

// open starts piece p at rune i unless it is open, or redundant. It returns
// the index to continue from when it wrote a whole bare link.
func (t *tgConv) open(p, i int) int {
	pc := &t.pieces[p]
	if pc.open {
		return i
	}
	for _, o := range t.stack {
		if t.pieces[o.p].kind == pc.kind || (pc.kind == kLink && t.pieces[o.p].kind == kLink) {
			return i // same effect already open, or a link in a link
		}
	}
	if pc.kind == kLink && pc.bare && pc.start == i && !t.boundaryInside(i, pc.end) {
		t.out = append(t.out, '[')
		t.out = append(t.out, pc.url...)
		t.out = append(t.out, ']')
		return pc.end
	}
	closePos := pc.end
	if k := len(t.stack); k > 0 {
		closePos = min(closePos, t.stack[k-1].closePos)
	}
	var opener, closer string
	switch pc.kind {
	case kCode:
		opener, closer = "{{", "}}"
	case kLink:
		opener, closer = "[", "|"+pc.url+"]"
	default:
		m := wikiMarkers[pc.kind]
		opener = m.simple
		if t.alnumBefore() || t.alnumFrom(closePos) || t.holdsLink(i, closePos) {
			opener = m.forced
		}
		closer = opener
	}
	t.out = append(t.out, opener...)
	pc.open = true
	t.stack = append(t.stack, openPiece{p: p, closePos: closePos, closer: closer})
	return i
}

// alnumBefore reports whether the output ends with a letter or digit.
func (t *tgConv) alnumBefore() bool {
	r, _ := utf8.DecodeLastRune(t.out)
	return isAlnum(r)
}

// alnumFrom reports whether the first character written from rune k on
// (control characters are dropped) is a letter or digit.
func (t *tgConv) alnumFrom(k int) bool {
	for k < len(t.rs) && isDropped(t.rs[k]) {
		k++
	}
	return k < len(t.rs) && isAlnum(t.rs[k])
}

func isDropped(r rune) bool { return r < ' ' && r != '\t' && r != '\n' && r != '\r' || r == 0x7f }

func (t *tgConv) boundaryInside(a, b int) bool {
	for j := a + 1; j < b; j++ {
		if t.bnd[j]&(bndInline|bndBlock) != 0 {
			return true
		}
	}
	return false
}

// autolink writes a bare URL of plain text (http, https, ftp, mailto) as
// a wiki link, so that the escaping of the text does not break it: [url]
// when the URL needs no encoding, else [text|url]. It returns the index
// after it, or i when there is none.
func (t *tgConv) autolink(i int) int {
	rs := t.rs
	switch rs[i] {
	case 'h', 'H', 'f', 'F', 'm', 'M':
	default:
		return i
	}
	if (i > 0 && isAlnum(rs[i-1])) || t.linkOpen() {
		return i
	}
	prefix := 0
	for _, p := range [...]string{"http://", "https://", "ftp://", "mailto:"} {
		if i+len(p) < len(rs) && strings.EqualFold(string(rs[i:i+len(p)]), p) {
			prefix = len(p)
			break
		}
	}
	if prefix == 0 {
		return i
	}
	j := i
	for j < len(rs) && j-i < 2048 && rs[j] > ' ' && rs[j] != 0x7f && !unicode.IsSpace(rs[j]) && rs[j] != '<' && rs[j] != '>' && rs[j] != '"' {
		j++
	}
	for j > i && strings.ContainsRune(".,;:!?'\")]}", rs[j-1]) {
		if rs[j-1] == ')' && strings.Count(string(rs[i:j]), "(") >= strings.Count(string(rs[i:j]), ")") {
			break
		}
		j--
	}
	if j-i <= prefix || t.boundaryInside(i, j) {
		return i
	}
	u := string(rs[i:j])
	url, ok := jiraURL(u)
	if !ok {
		return i
	}
	t.out = append(t.out, '[')
	if url != u || hasPrefixFold(u, "mailto:") {
		t.inLinkText = true
		for k := i; k < j; k++ {
			t.char(k)
		}
		t.inLinkText = false
		t.out = append(t.out, '|')
	}
	t.out = append(t.out, url...)
	t.out = append(t.out, ']')
	return j
}

// holdsLink reports whether runes [a, b) hold a link: a link entity or
// text that could become one. A style around a link uses the {*} form, so
// that a marker character inside the URL cannot end it.
func (t *tgConv) holdsLink(a, b int) bool {
	for _, p := range t.pieces {
		if p.start >= b {
			break
		}
		if p.kind == kLink && p.end > a {
			return true
		}
	}
	for k := a; k+1 < b; k++ {
		if t.rs[k] == ':' && (t.rs[k+1] == '/' || k >= 6 && strings.EqualFold(string(t.rs[k-6:k]), "mailto")) {
			return true
		}
	}
	return false
}

func (t *tgConv) ensureLineStart() {
	if len(t.out) > 0 && t.out[len(t.out)-1] != '\n' {
		t.out = append(t.out, '\n')
	}
}

// atLineStart reports whether the output line so far holds only white
// space and effect markers, so that what follows could start a list,
// heading or quote.
func (t *tgConv) atLineStart() bool {
	for k := len(t.out) - 1; k >= 0; k-- {
		switch t.out[k] {
		case '\n':
			return true
		case ' ', '\t', '*', '_', '+', '-', '{', '}', '[', '~', '^':
		default:
			return false
		}
	}
	return true
}

// jiraIcons are the (x) icons of Jira that start with a letter or '/'.
var jiraIcons = [...]string{"y", "n", "i", "x", "/", "on", "off", "flag", "flagoff"}

// char writes rune i escaped for Jira wiki markup.
func (t *tgConv) char(i int) {
	rs := t.rs
	r := rs[i]
	next := func(k int) rune {
		if i+k < len(rs) {
			return rs[i+k]
		}
		return 0
	}
	switch r {
	case '\r':
		if next(1) != '\n' {
			t.out = append(t.out, '\n')
		}
		return
	case '\n':
		t.out = append(t.out, '\n')
		return
	case '\\':
		t.out = append(t.out, "&#92;"...)
		return
	case '{', '}', '[', ']', '*', '_', '-', '+', '^', '~', '|', '!':
		t.out = append(t.out, '\\', byte(r))
		return
	case '&':
		if c := next(1); c == '#' || c < utf8.RuneSelf && unicode.IsLetter(c) {
			t.out = append(t.out, "&amp;"...)
			return
		}
	case '?':
		if next(1) == '?' || (i > 0 && rs[i-1] == '?') {
			t.out = append(t.out, '\\', '?')
			return
		}
	case '#':
		if t.atLineStart() {
			t.out = append(t.out, '\\', '#')
			return
		}
	case ':':
		// A scheme not written as a link: keep Jira from autolinking it
		// (the escaped text would become part of the URL).
		if !t.inLinkText && !t.linkOpen() && (next(1) == '/' && next(2) == '/' || i >= 6 && strings.EqualFold(string(rs[i-6:i]), "mailto")) {
			t.out = append(t.out, "&#58;"...)
			return
		}
	case '.':
		if i == t.escDot {
			t.out = append(t.out, '\\', '.')
			return
		}
	case 'h':
		if c := next(1); c >= '1' && c <= '6' && next(2) == '.' && t.atLineStart() {
			t.escDot = i + 2
		}
	case 'b':
		if next(1) == 'q' && next(2) == '.' && t.atLineStart() {
			t.escDot = i + 2
		}
	case '(':
		for _, name := range jiraIcons {
			if i+len(name)+1 < len(rs) && rs[i+len(name)+1] == ')' && string(rs[i+1:i+1+len(name)]) == name {
				t.out = append(t.out, '\\', '(')
				return
			}
		}
	}
	if isDropped(r) {
		return // control characters
	}
	t.out = utf8.AppendRune(t.out, r)
}

// pre writes a code block: {code:lang} for a language Jira knows, else
// {noformat}; when the content holds the closing macro itself, the other
// macro, and when it holds both, escaped text.
func (t *tgConv) pre(b block) {
	var sb strings.Builder
	for i := b.start; i < b.end; i++ {
		switch r := t.rs[i]; {
		case r == '\r':
			if i+1 >= b.end || t.rs[i+1] != '\n' {
				sb.WriteByte('\n')
			}
		case r < ' ' && r != '\t' && r != '\n' || r == 0x7f:
		default:
			sb.WriteRune(r)
		}
	}
	content := strings.TrimRight(sb.String(), "\n")
	lower := strings.ToLower(content)
	hasCode, hasNoformat := strings.Contains(lower, "{code"), strings.Contains(lower, "{noformat")
	lang := jiraLanguage(b.lang)
	var open, close string
	switch {
	case lang != "" && !hasCode:
		open, close = "{code:"+lang+"}", "{code}"
	case !hasNoformat:
		open, close = "{noformat}", "{noformat}"
	case !hasCode:
		open, close = "{code}", "{code}"
	default:
		t.ensureLineStart()
		for i := b.start; i < b.end; i++ {
			t.char(i)
		}
		return
	}
	t.ensureLineStart()
	t.out = append(t.out, open...)
	t.out = append(t.out, '\n')
	t.out = append(t.out, content...)
	t.out = append(t.out, '\n')
	t.out = append(t.out, close...)
	if b.end < len(t.rs) && !isLineBreak(t.rs[b.end]) {
		t.out = append(t.out, '\n')
	}
}

// jiraLanguages are the {code} languages Jira Server and Cloud both know.
var jiraLanguages = map[string]string{
	"actionscript": "actionscript", "ada": "ada", "applescript": "applescript",
	"bash": "bash", "sh": "bash", "shell": "bash", "zsh": "bash", "console": "bash",
	"c": "c", "c#": "c#", "csharp": "c#", "cs": "c#", "c++": "c++", "cpp": "cpp",
	"css": "css", "erlang": "erlang", "go": "go", "golang": "go", "groovy": "groovy",
	"haskell": "haskell", "html": "html", "java": "java", "javascript": "javascript",
	"js": "javascript", "json": "json", "lua": "lua", "objc": "objc", "objectivec": "objc",
	"perl": "perl", "php": "php", "python": "python", "py": "python", "r": "r",
	"ruby": "ruby", "rb": "ruby", "scala": "scala", "sql": "sql", "swift": "swift",
	"visualbasic": "visualbasic", "vb": "visualbasic", "xml": "xml", "yaml": "yaml", "yml": "yaml",
}

func jiraLanguage(lang string) string {
	return jiraLanguages[strings.ToLower(strings.TrimSpace(lang))]
}

// jiraURL checks that u is an http, https, ftp or mailto URL and
// percent-encodes what could end or confuse a wiki link: white space,
// control and non-ASCII bytes, and | [ ] { } < > " \ ^ `.
func jiraURL(u string) (string, bool) {
	u = strings.TrimSpace(u)
	colon := strings.IndexByte(u, ':')
	if colon <= 0 || len(u) > 4096 {
		return "", false
	}
	switch strings.ToLower(u[:colon]) {
	case "http", "https", "ftp":
		if !strings.HasPrefix(u[colon:], "://") || len(u) == colon+3 {
			return "", false
		}
	case "mailto":
		if len(u) == colon+1 {
			return "", false
		}
	default:
		return "", false
	}
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c > ' ' && c < 0x7f && strings.IndexByte("|[]{}<>\"\\^`", c) < 0 {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(u)+16), u[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return u, true
	}
	return string(b), true
}
