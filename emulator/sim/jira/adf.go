package jira

import (
	"encoding/json"
	"strings"
)

// adfNode is a node of the Atlassian Document Format.
type adfNode struct {
	Type    string         `json:"type"`
	Version int            `json:"version,omitempty"`
	Text    string         `json:"text,omitempty"`
	Attrs   map[string]any `json:"attrs,omitempty"`
	Marks   []adfMark      `json:"marks,omitempty"`
	Content []*adfNode     `json:"content,omitempty"`
}

// MarshalJSON writes a doc's content even when empty: the ADF schema
// requires it on doc, and forbids it on leaves such as text and hardBreak.
func (n *adfNode) MarshalJSON() ([]byte, error) {
	type plain adfNode
	if n.Type != "doc" || len(n.Content) > 0 {
		return json.Marshal((*plain)(n))
	}
	return json.Marshal(struct {
		*plain
		Content []*adfNode `json:"content"`
	}{(*plain)(n), []*adfNode{}})
}

type adfMark struct {
	Type  string         `json:"type"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// wikiToADF makes the ADF Jira shows for a plain or wiki-markup body:
// paragraphs at blank lines, hard breaks at single newlines. Markup is kept
// as text (the simulator does not render wiki markup).
func wikiToADF(body string) *adfNode {
	doc := &adfNode{Type: "doc", Version: 1, Content: []*adfNode{}}
	for _, para := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		p := &adfNode{Type: "paragraph"}
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				p.Content = append(p.Content, &adfNode{Type: "hardBreak"})
			}
			if line != "" {
				p.Content = append(p.Content, &adfNode{Type: "text", Text: line})
			}
		}
		doc.Content = append(doc.Content, p)
	}
	return doc
}

// parseADF checks that raw is an ADF document.
func parseADF(raw json.RawMessage) (*adfNode, bool) {
	var doc adfNode
	if json.Unmarshal(raw, &doc) != nil || doc.Type != "doc" || doc.Version != 1 || doc.Content == nil {
		return nil, false
	}
	return &doc, true
}

// adfToWiki renders ADF as the wiki markup admin webhooks carry.
func adfToWiki(doc *adfNode) string {
	var blocks []string
	for _, n := range doc.Content {
		blocks = append(blocks, wikiBlock(n, ""))
	}
	return strings.Join(blocks, "\n\n")
}

func wikiBlock(n *adfNode, bullet string) string {
	switch n.Type {
	case "paragraph":
		return wikiInline(n.Content)
	case "heading":
		level := 1
		if l, ok := n.Attrs["level"].(float64); ok {
			level = int(l)
		}
		return "h" + itoa(level) + ". " + wikiInline(n.Content)
	case "codeBlock":
		return "{code}" + wikiInline(n.Content) + "{code}"
	case "blockquote":
		var parts []string
		for _, c := range n.Content {
			parts = append(parts, wikiBlock(c, bullet))
		}
		return "{quote}" + strings.Join(parts, "\n\n") + "{quote}"
	case "bulletList", "orderedList":
		mark := "*"
		if n.Type == "orderedList" {
			mark = "#"
		}
		var items []string
		for _, item := range n.Content {
			var parts []string
			for _, c := range item.Content {
				if c.Type == "bulletList" || c.Type == "orderedList" {
					parts = append(parts, wikiBlock(c, bullet+mark))
					continue
				}
				parts = append(parts, bullet+mark+" "+wikiBlock(c, bullet+mark))
			}
			items = append(items, strings.Join(parts, "\n"))
		}
		return strings.Join(items, "\n")
	case "rule":
		return "----"
	default:
		return wikiInline(n.Content)
	}
}

func wikiInline(nodes []*adfNode) string {
	var b strings.Builder
	for _, n := range nodes {
		switch n.Type {
		case "text":
			t := n.Text
			for _, m := range n.Marks {
				switch m.Type {
				case "strong":
					t = "*" + t + "*"
				case "em":
					t = "_" + t + "_"
				case "code":
					t = "{{" + t + "}}"
				case "strike":
					t = "-" + t + "-"
				case "underline":
					t = "+" + t + "+"
				case "link":
					if href, ok := m.Attrs["href"].(string); ok {
						t = "[" + t + "|" + href + "]"
					}
				}
			}
			b.WriteString(t)
		case "hardBreak":
			b.WriteString("\n")
		case "mention":
			id, _ := n.Attrs["id"].(string)
			b.WriteString("[~accountid:" + id + "]")
		case "emoji":
			s, _ := n.Attrs["shortName"].(string)
			b.WriteString(s)
		default:
			b.WriteString(wikiInline(n.Content))
		}
	}
	return b.String()
}
