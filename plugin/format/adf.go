package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxADFDepth bounds the nesting the renderer follows; deeper nodes are
// left out.
const maxADFDepth = 64

// adfNode is the part of an ADF node the renderer reads. Fields of an
// unexpected JSON type are left empty rather than failing the document.
type adfNode struct {
	Type    string    `json:"type"`
	Text    string    `json:"text"`
	Content []adfNode `json:"content"`
	Marks   []adfMark `json:"marks"`
	Attrs   adfAttrs  `json:"attrs"`
}

type adfMark struct {
	Type  string `json:"type"`
	Attrs struct {
		Href string `json:"href"`
	} `json:"attrs"`
}

type adfAttrs struct {
	Text      string    `json:"text"`
	ShortName string    `json:"shortName"`
	Language  string    `json:"language"`
	URL       string    `json:"url"`
	Alt       string    `json:"alt"`
	Title     string    `json:"title"`
	State     string    `json:"state"`
	Type      string    `json:"type"`
	Order     adfScalar `json:"order"`
	Timestamp adfScalar `json:"timestamp"`
}

// adfScalar holds a JSON string or number as text; other values are empty.
type adfScalar string

func (s *adfScalar) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var v string
		if json.Unmarshal(b, &v) == nil {
			*s = adfScalar(v)
		}
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		*s = adfScalar(b)
	}
	return nil
}

// ADFToTelegramHTML converts an Atlassian Document Format document (Jira
// REST v3 and Forge comment bodies) to Telegram HTML. Marks strong, em,
// underline, strike and code become their tags and link becomes <a> when
// its href is http, https or mailto; textColor, subsup and unknown marks
// are dropped. Paragraphs are separated by a blank line; headings are bold;
// lists, tables, code blocks, quotes, rules, mentions, emoji, cards,
// statuses, dates, tasks and media (as a placeholder) have a text form;
// unknown nodes show their text content. Only malformed JSON, or JSON that
// is not an object, is an error (wrapping ErrInvalidADF).
func ADFToTelegramHTML(adf []byte) (string, error) {
	adf = bytes.TrimSpace(adf)
	if len(adf) == 0 || adf[0] != '{' {
		return "", fmt.Errorf("%w: not a JSON object", ErrInvalidADF)
	}
	var doc adfNode
	if err := json.Unmarshal(adf, &doc); err != nil {
		// A field of an unexpected type is skipped by encoding/json, which
		// still decodes the rest: only syntax errors are fatal.
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return "", fmt.Errorf("%w: %w", ErrInvalidADF, err)
		}
	}
	r := adfRenderer{w: newHTMLWriter(len(adf) / 2)}
	r.node(&doc, style{}, 0)
	return r.w.finish(), nil
}

type adfRenderer struct {
	w     *htmlWriter
	tight int // inside list items: paragraphs end with one line break
	cell  int // inside table cells: blocks are separated by a space
	lists int // list nesting
}

// brk ends a block: n line breaks, one inside lists, a space in cells.
func (r *adfRenderer) brk(n int) {
	switch {
	case r.cell > 0:
		r.w.space()
	case r.tight > 0:
		r.w.newline(1)
	default:
		r.w.newline(n)
	}
}

func (r *adfRenderer) children(n *adfNode, st style, depth int) {
	for i := range n.Content {
		r.node(&n.Content[i], st, depth+1)
	}
}

func (r *adfRenderer) node(n *adfNode, st style, depth int) {
	if depth > maxADFDepth {
		return
	}
	a := &n.Attrs
	switch n.Type {
	case "doc", "layoutSection", "layoutColumn", "bodiedExtension", "extensionFrame":
		r.children(n, st, depth)
	case "paragraph":
		r.children(n, st, depth)
		r.brk(2)
	case "heading":
		r.brk(2)
		r.children(n, st.with(sBold), depth)
		r.brk(1)
	case "text":
		r.w.text(n.Text, markStyle(st, n.Marks))
	case "hardBreak":
		if r.cell > 0 {
			r.w.space()
		} else {
			r.w.lineBreak()
		}
	case "mention":
		name := a.Text
		if name == "" {
			name = "@user"
		} else if !strings.HasPrefix(name, "@") {
			name = "@" + name
		}
		r.w.text(name, st)
	case "emoji":
		if a.Text != "" {
			r.w.text(a.Text, st)
		} else {
			r.w.text(a.ShortName, st)
		}
	case "inlineCard", "blockCard", "embedCard":
		r.card(a.URL, st)
		if n.Type != "inlineCard" {
			r.brk(2)
		}
	case "status":
		if t := strings.TrimSpace(a.Text); t != "" {
			r.w.text("["+t+"]", st)
		}
	case "date":
		if ms, err := strconv.ParseInt(string(a.Timestamp), 10, 64); err == nil {
			r.w.text(time.UnixMilli(ms).UTC().Format("2006-01-02"), st)
		}
	case "placeholder":
	case "bulletList", "orderedList", "taskList", "decisionList":
		r.list(n, st, depth)
	case "codeBlock":
		var b strings.Builder
		adfText(n, &b, depth)
		if r.cell > 0 || r.tight > 0 {
			r.w.text(b.String(), style{bits: sCode})
			r.brk(1)
			return
		}
		r.w.pre(a.Language, b.String())
		r.brk(2)
	case "blockquote":
		r.w.openQuote()
		r.children(n, st, depth)
		r.w.closeQuote()
		r.brk(2)
	case "rule":
		r.brk(2)
		r.w.text("——————", style{})
		r.brk(2)
	case "table":
		r.brk(2)
		r.children(n, st, depth)
		r.brk(2)
	case "tableRow":
		r.cell++
		for i := range n.Content {
			if i > 0 {
				r.w.sp = false
				r.w.text(" | ", style{})
			}
			c := &n.Content[i]
			cst := st
			if c.Type == "tableHeader" {
				cst = cst.with(sBold)
			}
			r.children(c, cst, depth+1)
			r.w.sp = false
		}
		r.cell--
		r.w.newline(1)
	case "mediaSingle", "mediaGroup":
		for i := range n.Content {
			if i > 0 {
				r.w.space()
			}
			r.node(&n.Content[i], st, depth+1)
		}
		r.brk(2)
	case "media", "mediaInline":
		r.media(n, st)
	case "expand", "nestedExpand", "panel":
		if t := strings.TrimSpace(a.Title); t != "" {
			r.w.text(t, st.with(sBold))
			r.brk(1)
		}
		r.children(n, st, depth)
		r.brk(2)
	default:
		// Unknown nodes (and extensions) show their text content.
		r.w.text(n.Text, markStyle(st, n.Marks))
		if a.Text != "" && len(n.Content) == 0 && n.Text == "" {
			r.w.text(a.Text, st)
		}
		r.children(n, st, depth)
	}
}

// list renders bullet, ordered, task and decision lists, one item a line.
func (r *adfRenderer) list(n *adfNode, st style, depth int) {
	if r.lists == 0 {
		r.brk(2)
	} else {
		r.w.newline(1)
	}
	num := 1
	if o, err := strconv.Atoi(string(n.Attrs.Order)); err == nil && o >= 0 && o < 1e9 {
		num = o
	}
	r.lists++
	r.tight++
	indent := strings.Repeat("   ", min(r.lists-1, 8))
	for i := range n.Content {
		item := &n.Content[i]
		if item.Type != "listItem" && item.Type != "taskItem" && item.Type != "decisionItem" {
			r.node(item, st, depth+1)
			continue
		}
		var marker string
		switch {
		case n.Type == "orderedList":
			marker = strconv.Itoa(num) + ". "
			num++
		case item.Type == "taskItem" && strings.EqualFold(item.Attrs.State, "DONE"):
			marker = "☑ "
		case item.Type == "taskItem":
			marker = "☐ "
		default:
			marker = "• "
		}
		if r.cell > 0 {
			r.w.space()
		} else {
			r.w.newline(1)
		}
		r.w.text(indent+marker, style{})
		r.children(item, st, depth+1)
		r.brk(1)
	}
	r.tight--
	r.lists--
	if r.lists == 0 {
		r.brk(2)
	}
}

func (r *adfRenderer) card(u string, st style) {
	if u == "" {
		return
	}
	if href, ok := safeHref(u); ok && st.href == "" {
		st.bits &^= sCode
		st.href = href
	}
	r.w.text(u, st)
}

// media renders an attachment placeholder, or a link for external media.
func (r *adfRenderer) media(n *adfNode, st style) {
	label := strings.TrimSpace(n.Attrs.Alt)
	if label == "" {
		label = "attachment"
	}
	if href, ok := safeHref(n.Attrs.URL); ok && st.href == "" {
		st.href = href
		r.w.text("["+label+"]", st)
		return
	}
	r.w.text("["+label+"]", st)
}

// markStyle adds the marks of a text node to st.
func markStyle(st style, marks []adfMark) style {
	for _, m := range marks {
		switch m.Type {
		case "strong":
			st.bits |= sBold
		case "em":
			st.bits |= sItalic
		case "underline":
			st.bits |= sUnder
		case "strike":
			st.bits |= sStrike
		case "code":
			st.bits |= sCode
		case "link":
			if href, ok := safeHref(m.Attrs.Href); ok && st.href == "" {
				st.href = href
			}
		}
	}
	return st
}

// adfText collects the text of a node and its descendants.
func adfText(n *adfNode, b *strings.Builder, depth int) {
	if depth > maxADFDepth {
		return
	}
	b.WriteString(n.Text)
	if n.Type == "hardBreak" {
		b.WriteByte('\n')
	}
	for i := range n.Content {
		adfText(&n.Content[i], b, depth+1)
	}
}
