package apispec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// Errors of the package.
var (
	// ErrFormat: a file is not a pruned specification.
	ErrFormat = errors.New("apispec: not a pruned specification")
)

// Spec is a pruned specification.
type Spec struct {
	// Title and Version are the document's info.title and info.version.
	Title   string `json:"title"`
	Version string `json:"version"`
	// Source says where the full document was taken from (repository,
	// commit, file).
	Source string `json:"source"`
	// Aliases map a path prefix the service also serves to the prefix the
	// document describes, e.g. "/rest/api/2/" -> "/rest/api/3/".
	Aliases map[string]string `json:"aliases,omitempty"`
	// Paths maps a path template to its operations by lower-case method.
	Paths map[string]map[string]*Operation `json:"paths"`
}

// Operation is one method of a path.
type Operation struct {
	Summary    string      `json:"summary"`
	Deprecated bool        `json:"deprecated,omitempty"`
	Parameters []Parameter `json:"parameters,omitempty"`
	Body       *Body       `json:"body,omitempty"`
	// Scopes are the OAuth 2.0 scope sets that each allow the operation,
	// from x-atlassian-oauth2-scopes (classic, then granular), else from
	// the security requirement's OAuth2 entries; an app needs every scope
	// of one set. Absent: the document offers the operation to no OAuth 2.0
	// app; one empty set: no scope is needed.
	Scopes [][]string `json:"scopes,omitempty"`
}

// Parameter is a parameter of an operation.
type Parameter struct {
	Name     string `json:"name"`
	In       string `json:"in"` // path, query, header
	Required bool   `json:"required,omitempty"`
}

// Body is an operation's request body.
type Body struct {
	Required     bool     `json:"required,omitempty"`
	ContentTypes []string `json:"content_types"`
	// Fields are the required top-level fields of a JSON body.
	Fields []string `json:"fields,omitempty"`
}

// Load reads a pruned specification.
func Load(file string) (*Spec, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var s Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFormat, file, err)
	}
	if len(s.Paths) == 0 {
		return nil, fmt.Errorf("%w: %s: no paths", ErrFormat, file)
	}
	return &s, nil
}

// Find returns the operation a call matches and its path template; false
// when the specification has no such path or not that method. path is
// without the query. A literal segment wins over a template segment, so
// /comment/list is not taken for /comment/{commentId}.
func (s *Spec) Find(method, path string) (*Operation, string, bool) {
	for from, to := range s.Aliases {
		if rest, ok := strings.CutPrefix(path, from); ok {
			path = to + rest
			break
		}
	}
	segs := strings.Split(path, "/")
	best, bestScore := "", -1
	for tmpl, ops := range s.Paths {
		if _, ok := ops[strings.ToLower(method)]; !ok {
			continue
		}
		if score, ok := match(tmpl, segs); ok && (score > bestScore || score == bestScore && tmpl < best) {
			best, bestScore = tmpl, score
		}
	}
	if bestScore < 0 {
		return nil, "", false
	}
	return s.Paths[best][strings.ToLower(method)], best, true
}

// match reports whether a template matches the segments of a path, and
// how many of its segments are literal.
func match(tmpl string, segs []string) (int, bool) {
	t := strings.Split(tmpl, "/")
	if len(t) != len(segs) {
		return 0, false
	}
	literal := 0
	for i, seg := range t {
		switch {
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			if segs[i] == "" {
				return 0, false
			}
		case seg == segs[i]:
			literal++
		default:
			return 0, false
		}
	}
	return literal, true
}

// Missing lists what a call lacks of what the operation requires: required
// query parameters not in query, and a required body when hasBody is false.
func (op *Operation) Missing(query map[string][]string, hasBody bool) []string {
	var out []string
	for _, p := range op.Parameters {
		if p.Required && p.In == "query" && len(query[p.Name]) == 0 {
			out = append(out, "query parameter "+p.Name)
		}
	}
	if op.Body != nil && op.Body.Required && !hasBody {
		out = append(out, "request body")
	}
	return out
}

// Prune makes a pruned specification of the paths under prefix of a full
// OpenAPI 3 document; source says where full came from.
func Prune(full []byte, prefix, source string, aliases map[string]string) ([]byte, error) {
	var doc struct {
		Info struct {
			Title   string `json:"title"`
			Version string `json:"version"`
		} `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(full, &doc); err != nil {
		return nil, fmt.Errorf("apispec: prune: %w", err)
	}
	out := Spec{Title: doc.Info.Title, Version: doc.Info.Version, Source: source, Aliases: aliases, Paths: map[string]map[string]*Operation{}}
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, prefix) {
			continue
		}
		var shared []fullParam
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				return nil, fmt.Errorf("apispec: prune %s: %w", path, err)
			}
		}
		for method, raw := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options"}, method) {
				continue
			}
			var op struct {
				Summary    string                `json:"summary"`
				Deprecated bool                  `json:"deprecated"`
				Parameters []fullParam           `json:"parameters"`
				Security   []map[string][]string `json:"security"`
				XScopes    []struct {
					Scheme string   `json:"scheme"`
					Scopes []string `json:"scopes"`
				} `json:"x-atlassian-oauth2-scopes"`
				RequestBody *struct {
					Required bool `json:"required"`
					Content  map[string]struct {
						Schema schema `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("apispec: prune %s %s: %w", method, path, err)
			}
			o := &Operation{Summary: op.Summary, Deprecated: op.Deprecated}
			addSet := func(set []string) {
				set = slices.Clone(set)
				slices.Sort(set)
				set = slices.Compact(set)
				if set == nil {
					set = []string{}
				}
				for _, have := range o.Scopes {
					if slices.Equal(have, set) {
						return
					}
				}
				o.Scopes = append(o.Scopes, set)
			}
			for _, x := range op.XScopes {
				if x.Scheme == "OAuth2" {
					addSet(x.Scopes)
				}
			}
			if len(o.Scopes) == 0 {
				for _, req := range op.Security {
					if set, ok := req["OAuth2"]; ok {
						addSet(set)
					}
				}
			}
			for _, p := range append(slices.Clone(shared), op.Parameters...) {
				o.Parameters = append(o.Parameters, Parameter{Name: p.Name, In: p.In, Required: p.Required || p.In == "path"})
			}
			if rb := op.RequestBody; rb != nil {
				b := &Body{Required: rb.Required}
				for ct, c := range rb.Content {
					b.ContentTypes = append(b.ContentTypes, ct)
					sch := c.Schema
					if name, ok := strings.CutPrefix(sch.Ref, "#/components/schemas/"); ok {
						sch = doc.Components.Schemas[name]
					}
					if strings.Contains(ct, "json") {
						b.Fields = append(b.Fields, sch.Required...)
					}
				}
				sort.Strings(b.ContentTypes)
				slices.Sort(b.Fields)
				b.Fields = slices.Compact(b.Fields)
				o.Body = b
			}
			if out.Paths[path] == nil {
				out.Paths[path] = map[string]*Operation{}
			}
			out.Paths[path][method] = o
		}
	}
	if len(out.Paths) == 0 {
		return nil, fmt.Errorf("apispec: prune: no path under %s", prefix)
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type fullParam struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

type schema struct {
	Ref      string   `json:"$ref"`
	Required []string `json:"required"`
}
