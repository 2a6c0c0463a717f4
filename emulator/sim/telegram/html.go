//lint:file-ignore ST1005 the error texts are Telegram's own, sent on the wire as its API sends them.

package telegram

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// parseHTML turns a parse_mode=HTML text into plain text and entities the
// way Telegram's server does (tdlib's parse_html): the tags b strong i em u
// ins s strike del a code pre blockquote tg-spoiler span tg-emoji; the named
// entities &lt; &gt; &amp; &quot; and numeric ones (the ';' is optional); a
// lone '&' or '>' is literal, but every '<' starts a tag. The error is the
// part of the description after "can't parse entities: ", with byte offsets
// into s. Leading and trailing white space is trimmed from the result, as
// Telegram does; offsets and lengths count UTF-16 code units.
func parseHTML(s string) (string, []MessageEntity, error) {
	type open struct {
		tag    string
		arg    string
		offset int // UTF-16 offset of the entity's start in the result
		start  int // byte offset of the entity's start in the result
	}
	var (
		out    strings.Builder
		ents   []MessageEntity
		stack  []open
		offset int // UTF-16 length of out
	)
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '&' {
			if r, end := decodeEntity(s, i); r != 0 {
				out.WriteRune(r)
				offset += utf16Len(r)
				i = end - 1
				continue
			}
		}
		if c != '<' {
			out.WriteByte(c)
			if c < 0x80 || c >= 0xC0 { // first byte of a character
				offset++
				if c >= 0xF0 { // four bytes: a surrogate pair in UTF-16
					offset++
				}
			}
			continue
		}
		begin := i
		i++
		if at(i) != '/' {
			// A start tag.
			for i < len(s) && !isSpace(s[i]) && s[i] != '>' {
				i++
			}
			if i >= len(s) {
				return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
			}
			tag := strings.ToLower(s[begin+1 : i])
			if !supportedTag(tag) {
				return "", nil, fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", tag, begin)
			}
			var arg string
			hasEmojiID := false
			for at(i) != '>' {
				for i < len(s) && isSpace(s[i]) {
					i++
				}
				if i >= len(s) {
					return "", nil, fmt.Errorf("Unclosed start tag \"%s\" at byte offset %d", tag, begin)
				}
				if s[i] == '>' {
					break
				}
				nameStart := i
				for i < len(s) && !isSpace(s[i]) && s[i] != '=' && s[i] != '>' {
					i++
				}
				name := strings.ToLower(s[nameStart:i])
				if name == "" {
					return "", nil, fmt.Errorf("Empty attribute name in the tag \"%s\" at byte offset %d", tag, begin)
				}
				for i < len(s) && isSpace(s[i]) {
					i++
				}
				if at(i) != '=' {
					if tag == "blockquote" && name == "expandable" {
						arg = "expandable"
						continue
					}
					if i >= len(s) {
						return "", nil, fmt.Errorf("Unclosed start tag \"%s\" at byte offset %d", tag, begin)
					}
					return "", nil, fmt.Errorf("Expected equal sign in declaration of an attribute of the tag \"%s\" at byte offset %d", tag, begin)
				}
				i++
				for i < len(s) && isSpace(s[i]) {
					i++
				}
				if i >= len(s) {
					return "", nil, fmt.Errorf("Unclosed start tag \"%s\" at byte offset %d", tag, begin)
				}
				var value string
				if q := s[i]; q != '\'' && q != '"' {
					// A name token: letters, digits, periods, hyphens.
					tokStart := i
					for i < len(s) && (isAlnum(s[i]) || s[i] == '.' || s[i] == '-') {
						i++
					}
					value = strings.ToLower(s[tokStart:i])
					if i >= len(s) || (!isSpace(s[i]) && s[i] != '>') {
						return "", nil, fmt.Errorf("Unexpected end of name token at byte offset %d", tokStart)
					}
				} else {
					i++
					var v strings.Builder
					for i < len(s) && s[i] != q {
						if s[i] == '&' {
							if r, end := decodeEntity(s, i); r != 0 {
								v.WriteRune(r)
								i = end
								continue
							}
						}
						v.WriteByte(s[i])
						i++
					}
					if i >= len(s) {
						return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
					}
					i++ // the closing quote
					value = v.String()
				}
				switch {
				case tag == "a" && name == "href":
					arg = value
				case tag == "code" && name == "class" && strings.HasPrefix(value, "language-"):
					arg = value[len("language-"):]
				case tag == "span" && name == "class" && strings.HasPrefix(value, "tg-"):
					arg = value[len("tg-"):]
				case tag == "tg-emoji" && name == "emoji-id":
					arg, hasEmojiID = value, true
				}
			}
			if tag == "span" && arg != "spoiler" {
				return "", nil, fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
			}
			if tag == "tg-emoji" {
				if !hasEmojiID {
					return "", nil, fmt.Errorf("Tag \"tg-emoji\" must have attribute \"emoji-id\" at byte offset %d", begin)
				}
				if id, err := strconv.ParseInt(arg, 10, 64); err != nil || id == 0 {
					return "", nil, fmt.Errorf("Invalid custom emoji identifier specified")
				}
			}
			stack = append(stack, open{tag: tag, arg: arg, offset: offset, start: out.Len()})
			continue
		}
		// An end tag.
		if len(stack) == 0 {
			return "", nil, fmt.Errorf("Unexpected end tag at byte offset %d", begin)
		}
		for i < len(s) && !isSpace(s[i]) && s[i] != '>' {
			i++
		}
		name := strings.ToLower(s[begin+2 : min(i, len(s))])
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if at(i) != '>' {
			return "", nil, fmt.Errorf("Unclosed end tag at byte offset %d", begin)
		}
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if name != "" && name != top.tag {
			return "", nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.tag, name)
		}
		if offset == top.offset {
			continue // empty entities are dropped
		}
		e := MessageEntity{Offset: top.offset, Length: offset - top.offset}
		switch top.tag {
		case "b", "strong":
			e.Type = "bold"
		case "i", "em":
			e.Type = "italic"
		case "u", "ins":
			e.Type = "underline"
		case "s", "strike", "del":
			e.Type = "strikethrough"
		case "tg-spoiler", "span":
			e.Type = "spoiler"
		case "code":
			e.Type, e.Language = "code", top.arg // the language moves to an enclosing pre
		case "pre":
			e.Type = "pre"
			if n := len(ents); n > 0 && ents[n-1].Type == "code" && ents[n-1].Offset == e.Offset && ents[n-1].Length == e.Length {
				e.Language = ents[n-1].Language
				ents = ents[:n-1]
			}
		case "blockquote":
			e.Type = "blockquote"
			if top.arg != "" {
				e.Type = "expandable_blockquote"
			}
		case "tg-emoji":
			e.Type, e.CustomEmojiID = "custom_emoji", top.arg
		case "a":
			href := top.arg
			if href == "" {
				href = out.String()[top.start:]
			}
			u, ok := checkURL(href)
			if !ok {
				continue // Telegram drops links it cannot use, silently
			}
			e.Type, e.URL = "text_link", u
		}
		ents = append(ents, e)
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1].tag)
	}
	for i := range ents {
		if ents[i].Type == "code" {
			ents[i].Language = ""
		}
	}
	text, ents := trimEntities(out.String(), ents)
	return text, ents, nil
}

// supportedTag reports whether Telegram's HTML knows the tag.
func supportedTag(tag string) bool {
	switch tag {
	case "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
		"tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote":
		return true
	}
	return false
}

// decodeEntity decodes the HTML entity at s[i] ('&'). It returns 0 when
// there is none there (the '&' is then literal), else the character and the
// index just after the entity and its optional ';'.
func decodeEntity(s string, i int) (rune, int) {
	at := func(j int) byte {
		if j < len(s) {
			return s[j]
		}
		return 0
	}
	end := i + 1
	var r rune
	if at(end) == '#' {
		end++
		digits := end
		if at(end) == 'x' || at(end) == 'X' {
			end++
			digits = end
			for isHex(at(end)) {
				if r <= unicode.MaxRune {
					r = r*16 + rune(hexVal(at(end)))
				}
				end++
			}
		} else {
			for isDigit(at(end)) {
				if r <= unicode.MaxRune {
					r = r*10 + rune(at(end)-'0')
				}
				end++
			}
		}
		if end == digits || r == 0 || r >= unicode.MaxRune || end-i >= 10 || (r >= 0xD800 && r <= 0xDFFF) {
			return 0, i
		}
	} else {
		for isAlpha(at(end)) {
			end++
		}
		switch s[i+1 : end] {
		case "lt":
			r = '<'
		case "gt":
			r = '>'
		case "amp":
			r = '&'
		case "quot":
			r = '"'
		default:
			return 0, i
		}
	}
	if at(end) == ';' {
		end++
	}
	return r, end
}

// checkURL returns the URL a text_link gets, or false when Telegram would
// drop the link: a URL without a scheme gets http://.
func checkURL(href string) (string, bool) {
	href = strings.TrimSpace(href)
	if href == "" {
		return "", false
	}
	if !strings.Contains(href, "://") && !strings.HasPrefix(strings.ToLower(href), "tg:") && !strings.HasPrefix(strings.ToLower(href), "mailto:") {
		href = "http://" + href
	}
	u, err := url.Parse(href)
	if err != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ftp", "ton":
		if u.Host == "" || strings.ContainsAny(u.Host, " <>") {
			return "", false
		}
	case "tg", "mailto":
	default:
		return "", false
	}
	return href, true
}

// trimEntities trims white space at both ends of text as Telegram does and
// moves and clips the entities with it; entities left empty are dropped.
func trimEntities(text string, ents []MessageEntity) (string, []MessageEntity) {
	lead := text[:len(text)-len(strings.TrimLeftFunc(text, unicode.IsSpace))]
	text = strings.TrimSpace(text)
	shift, size := utf16Count(lead), utf16Count(text)
	kept := ents[:0]
	for _, e := range ents {
		start, end := max(e.Offset-shift, 0), min(e.Offset+e.Length-shift, size)
		if end <= start {
			continue
		}
		e.Offset, e.Length = start, end-start
		kept = append(kept, e)
	}
	sort.SliceStable(kept, func(a, b int) bool {
		if kept[a].Offset != kept[b].Offset {
			return kept[a].Offset < kept[b].Offset
		}
		return kept[a].Length > kept[b].Length
	})
	if len(kept) == 0 {
		kept = nil
	}
	return text, kept
}

// utf16Count is the length of s in UTF-16 code units, how Telegram counts.
func utf16Count(s string) int {
	n := 0
	for _, r := range s {
		n += utf16Len(r)
	}
	return n
}

func utf16Len(r rune) int {
	if n := utf16.RuneLen(r); n > 0 {
		return n
	}
	return 1 // invalid runes are replaced by one unit
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
}
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isHex(c byte) bool   { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}

// validUTF8 is the check Telegram makes on every string parameter.
func validUTF8(s string) bool { return utf8.ValidString(s) }
