package format

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// TelegramLimit is the length limit of a Telegram message text after entity
// parsing, in UTF-16 code units.
const TelegramLimit = 4096

// ViberLimit is the length limit of a Viber text message, in characters.
const ViberLimit = 7000

// SplitTelegramHTML splits a Telegram HTML message into messages whose
// visible text is at most limit UTF-16 code units each (limit <= 0 means
// TelegramLimit). Each part is valid HTML on its own: tags open at a cut are
// closed at the end of the part and reopened, with their attributes, at the
// start of the next one. Cuts never fall inside a tag, an entity or a
// surrogate pair, and avoid grapheme clusters; see the package
// documentation for the order of preference. Parts whose text would be
// only white space are left out, as Telegram refuses them.
//
// Input that is not valid Telegram HTML is treated as plain text: it is
// escaped and then split, so that it can always be sent.
func SplitTelegramHTML(html string, limit int) []string {
	if limit <= 0 {
		limit = TelegramLimit
	}
	var sc htmlScan
	if err := sc.run(html); err != nil {
		html = EscapeHTML(html)
		sc.units = len(html)
	} else if sc.units <= limit {
		if !sc.nonBlank {
			return nil
		}
		return []string{html}
	}
	// units bounds the number of visible characters.
	sc = htmlScan{wantAtoms: true, atoms: make([]atom, 0, sc.units)}
	if err := sc.run(html); err != nil {
		// Unreachable: escaped text is always valid.
		return nil
	}
	markGraphemes(sc.atoms)
	cuts := chooseCuts(sc.atoms, limit)
	return assembleHTML(html, sc.atoms, sc.tags, cuts)
}

// SplitText splits plain text into parts of at most limit units each, as
// measured by unit on each character (nil counts characters, that is code
// points; UTF16Len counts as Telegram does). Cut preferences are those of
// SplitTelegramHTML. Parts that would be only white space are left out.
// A single character wider than limit becomes a part of its own.
func SplitText(text string, limit int, unit func(string) int) []string {
	if limit <= 0 {
		limit = ViberLimit
	}
	atoms := make([]atom, 0, utf8.RuneCountInString(text))
	total := 0
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		w := 1
		if unit != nil {
			w = max(unit(text[i:i+size]), 0)
		}
		total += w
		atoms = append(atoms, atom{r: r, w: int32(min(w, widthMask)), start: int32(i), end: int32(i + size)})
		i += size
	}
	if total <= limit {
		if isBlank(text) {
			return nil
		}
		return []string{text}
	}
	markGraphemes(atoms)
	cuts := chooseCuts(atoms, limit)
	parts := make([]string, 0, len(cuts))
	prev := 0
	for _, c := range cuts {
		end := len(text)
		if c < len(atoms) {
			end = int(atoms[c].start)
		}
		if p := text[prev:end]; !isBlank(p) {
			parts = append(parts, p)
		}
		prev = end
	}
	return parts
}

func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// Cut classes, best first.
const (
	cutParagraph = iota
	cutLine
	cutSentence
	cutSpace
	cutGrapheme
	cutClasses
)

// Atom flags are stored in the high bits of w: the low 30 bits hold the
// width.
const (
	flagNoCutBefore = 1 << 30 // a cut before this atom would split a grapheme cluster
	widthMask       = 1<<30 - 1
)

// markGraphemes flags the atoms that continue a grapheme cluster: combining
// marks, variation selectors, skin-tone modifiers, emoji tags, the keycap
// mark, anything after a zero-width joiner, the second of a pair of
// regional indicators (a flag), and LF after CR. This covers the clusters
// of emoji and most scripts without the full Unicode segmentation tables.
func markGraphemes(atoms []atom) {
	riRun := 0
	for i := range atoms {
		r := atoms[i].r
		glue := false
		if i > 0 {
			p := atoms[i-1].r
			glue = p == 0x200D || (p == '\r' && r == '\n') || isExtend(r) ||
				(isRegional(r) && riRun%2 == 1)
		}
		if isRegional(r) {
			riRun++
		} else {
			riRun = 0
		}
		if glue {
			atoms[i].w |= flagNoCutBefore
		}
	}
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

func isExtend(r rune) bool {
	switch {
	case r < 0x300:
		return false
	case r == 0x200D, r == 0x20E3,
		r >= 0xFE00 && r <= 0xFE0F,
		r >= 0x1F3FB && r <= 0x1F3FF,
		r >= 0xE0020 && r <= 0xE007F,
		r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc)
}

func isSentenceEnd(r rune) bool {
	switch r {
	case '.', '!', '?', '…', '。', '！', '？', '｡', '؟', '۔':
		return true
	}
	return false
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '»', '”', '’', '」', '』', '）':
		return true
	}
	return false
}

// cutClass classifies a cut before atoms[c] (0 < c < len(atoms)).
func cutClass(atoms []atom, c int) int {
	if atoms[c].w&flagNoCutBefore != 0 {
		return cutClasses // never, unless nothing else fits
	}
	prev := atoms[c-1].r
	switch {
	case prev == '\n' || prev == '\r':
		if c >= 2 && (atoms[c-2].r == '\n' || atoms[c-2].r == '\r') {
			return cutParagraph
		}
		return cutLine
	case prev == '。' || prev == '！' || prev == '？' || prev == '｡':
		return cutSentence
	case unicode.IsSpace(prev):
		if c >= 2 {
			p := atoms[c-2].r
			if isSentenceEnd(p) || (isCloser(p) && c >= 3 && isSentenceEnd(atoms[c-3].r)) {
				return cutSentence
			}
		}
		return cutSpace
	}
	return cutGrapheme
}

// chooseCuts returns the atom indexes at which parts end (the last is
// len(atoms)). Each part holds at most limit units unless a single atom is
// wider. A paragraph, line or sentence break is taken when it falls in the
// second half of the window; otherwise the last space; otherwise the last
// grapheme boundary; otherwise the last code point boundary.
func chooseCuts(atoms []atom, limit int) []int {
	var cuts []int
	n := len(atoms)
	for start := 0; start < n; {
		sum, w := 0, start
		for w < n {
			aw := int(atoms[w].w & widthMask)
			if sum+aw > limit {
				break
			}
			sum += aw
			w++
		}
		if w == n {
			cuts = append(cuts, n)
			break
		}
		if w == start {
			w = start + 1 // a single atom wider than the limit
			cuts = append(cuts, w)
			start = w
			continue
		}
		var best [cutClasses + 1]int
		half := start + (w-start+1)/2
		for c := w; c > start; c-- {
			if k := cutClass(atoms, c); best[k] == 0 {
				best[k] = c // the last cut of each class
				if k == cutParagraph && c >= half {
					break // nothing better below
				}
			}
		}
		c := 0
		for k := cutParagraph; k <= cutSentence && c == 0; k++ {
			if best[k] >= half {
				c = best[k]
			}
		}
		for k := cutSpace; k <= cutClasses && c == 0; k++ {
			c = best[k]
		}
		if c == 0 {
			c = w
		}
		cuts = append(cuts, c)
		start = c
	}
	return cuts
}

// assembleHTML builds the parts of html between cuts, closing the tags open
// at each cut and reopening them in the next part.
func assembleHTML(html string, atoms []atom, tags []tagTok, cuts []int) []string {
	parts := make([]string, 0, len(cuts))
	var stack []int // indexes into tags of the open tags
	ti := 0         // next tag to walk
	prevSrc, prevCut := 0, 0
	var reopen []byte
	for _, c := range cuts {
		// The cut in the source: after the last atom of the part and any
		// end tags that follow it, before any start tags.
		src := len(html)
		if c < len(atoms) {
			src = int(atoms[c-1].end)
			next := int(atoms[c].start)
			for k := ti; k < len(tags) && int(tags[k].start) < next; k++ {
				if int(tags[k].start) >= src && !tags[k].open {
					src = int(tags[k].end)
				}
			}
		}
		var buf strings.Builder
		buf.Grow(2*len(reopen) + src - prevSrc + 8)
		buf.Write(reopen)
		buf.WriteString(html[prevSrc:src])
		for ti < len(tags) && int(tags[ti].start) < src {
			if tags[ti].open {
				stack = append(stack, ti)
			} else if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			ti++
		}
		for k := len(stack) - 1; k >= 0; k-- {
			writeEndTag(&buf, html[tags[stack[k]].start:tags[stack[k]].end])
		}
		reopen = reopen[:0]
		for _, k := range stack {
			reopen = append(reopen, html[tags[k].start:tags[k].end]...)
		}
		prevSrc = src
		if !blankAtoms(atoms[prevCut:c]) {
			parts = append(parts, buf.String())
		}
		prevCut = c
	}
	return parts
}

func blankAtoms(atoms []atom) bool {
	for _, a := range atoms {
		if !unicode.IsSpace(a.r) {
			return false
		}
	}
	return true
}

// writeEndTag writes the end tag matching the start tag open.
func writeEndTag(b *strings.Builder, open string) {
	b.WriteString("</")
	for i := 1; i < len(open) && isNameByte(open[i]); i++ {
		c := open[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	b.WriteByte('>')
}
