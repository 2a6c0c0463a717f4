package apispec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalid: a document does not satisfy a schema.
var ErrInvalid = errors.New("apispec: invalid against the schema")

// Schema is a JSON Schema (draft-04) of the keywords the Atlassian Document
// Format schema uses: $ref (to #/definitions/...), type, enum, properties,
// required, additionalProperties, items (one schema or a tuple), allOf,
// anyOf, minItems, maxItems,
// minLength, pattern, minimum, maximum. A schema using any other keyword
// fails to load, so that nothing it says is silently skipped. Written here
// rather than taken as a dependency: about 200 lines for one fixed schema
// (RATIONALE.md, "Why a schema validator of our own?").
type Schema struct {
	root  map[string]any
	defs  map[string]any
	regex map[string]*regexp.Regexp
}

// known are the keywords Validate understands; the annotation keywords
// change nothing.
var known = map[string]bool{
	"$ref": true, "type": true, "enum": true, "properties": true, "required": true, "additionalProperties": true,
	"items": true, "allOf": true, "anyOf": true, "minItems": true, "maxItems": true, "minLength": true,
	"pattern": true, "minimum": true, "maximum": true,
	"$schema": true, "description": true, "definitions": true,
}

// LoadSchema reads a schema.
func LoadSchema(file string) (*Schema, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("apispec: schema %s: %w", file, err)
	}
	s := &Schema{root: root, regex: map[string]*regexp.Regexp{}}
	s.defs, _ = root["definitions"].(map[string]any)
	if err := s.check(root, "#"); err != nil {
		return nil, fmt.Errorf("apispec: schema %s: %w", file, err)
	}
	return s, nil
}

// check refuses unknown keywords and compiles patterns, everywhere.
func (s *Schema) check(node any, at string) error {
	m, ok := node.(map[string]any)
	if !ok {
		return fail(at, "a schema is an object")
	}
	for k, v := range m {
		if !known[k] {
			return fail(at, "keyword %q is not supported", k)
		}
		switch k {
		case "properties", "definitions":
			props, _ := v.(map[string]any)
			for name, sub := range props {
				if err := s.check(sub, at+"/"+k+"/"+name); err != nil {
					return err
				}
			}
		case "items":
			// One schema for every item, or (a tuple) one per position.
			if list, ok := v.([]any); ok {
				for i, sub := range list {
					if err := s.check(sub, at+"/items/"+strconv.Itoa(i)); err != nil {
						return err
					}
				}
			} else if err := s.check(v, at+"/items"); err != nil {
				return err
			}
		case "type":
			if _, ok := v.(string); !ok {
				return fail(at, "only a single type is supported")
			}
		case "additionalProperties":
			if _, isBool := v.(bool); !isBool {
				if err := s.check(v, at+"/additionalProperties"); err != nil {
					return err
				}
			}
		case "allOf", "anyOf":
			list, _ := v.([]any)
			for i, sub := range list {
				if err := s.check(sub, at+"/"+k+"/"+strconv.Itoa(i)); err != nil {
					return err
				}
			}
		case "pattern":
			p, _ := v.(string)
			re, err := regexp.Compile(p)
			if err != nil {
				return fail(at, "pattern: %v", err)
			}
			s.regex[p] = re
		case "$ref":
			ref, _ := v.(string)
			name, ok := strings.CutPrefix(ref, "#/definitions/")
			if _, found := s.defs[name]; !ok || !found {
				return fail(at, "$ref %q does not resolve", ref)
			}
		}
	}
	return nil
}

// Validate checks a decoded JSON document (as encoding/json decodes into
// any) against the schema; the error names the first place that fails.
func (s *Schema) Validate(doc any) error {
	if err := s.validate(s.root, doc, "$"); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// ValidateJSON decodes raw and validates it.
func (s *Schema) ValidateJSON(raw []byte) error {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return s.Validate(doc)
}

func (s *Schema) validate(sch map[string]any, v any, at string) error {
	if ref, ok := sch["$ref"].(string); ok {
		def, _ := s.defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
		if err := s.validate(def, v, at); err != nil {
			return err
		}
	}
	if t, ok := sch["type"].(string); ok && !hasType(v, t) {
		return fail(at, "not of type %s", t)
	}
	if enum, ok := sch["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if equalJSON(e, v) {
				found = true
				break
			}
		}
		if !found {
			return fail(at, "%v is not one of %v", v, enum)
		}
	}
	if list, ok := sch["allOf"].([]any); ok {
		for _, sub := range list {
			if err := s.validate(sub.(map[string]any), v, at); err != nil {
				return err
			}
		}
	}
	if list, ok := sch["anyOf"].([]any); ok {
		var deepest *pathError
		matched := false
		for _, sub := range list {
			err := s.validate(sub.(map[string]any), v, at)
			if err == nil {
				matched = true
				break
			}
			// The alternative that got furthest is the one meant; one that
			// failed on its "type" discriminator was not meant at all.
			if pe, ok := err.(*pathError); ok && !strings.HasSuffix(pe.at, ".type") && (deepest == nil || len(pe.at) > len(deepest.at)) {
				deepest = pe
			}
		}
		if !matched {
			if deepest != nil && deepest.at != at {
				return deepest
			}
			return fail(at, "matches none of %d alternatives", len(list))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		return s.object(sch, x, at)
	case []any:
		if n, ok := number(sch["minItems"]); ok && float64(len(x)) < n {
			return fail(at, "fewer than %v items", n)
		}
		if n, ok := number(sch["maxItems"]); ok && float64(len(x)) > n {
			return fail(at, "more than %v items", n)
		}
		switch items := sch["items"].(type) {
		case map[string]any:
			for i, e := range x {
				if err := s.validate(items, e, at+"["+strconv.Itoa(i)+"]"); err != nil {
					return err
				}
			}
		case []any: // a tuple; items past it are free (no additionalItems)
			for i, e := range x {
				if i < len(items) {
					if err := s.validate(items[i].(map[string]any), e, at+"["+strconv.Itoa(i)+"]"); err != nil {
						return err
					}
				}
			}
		}
	case string:
		if n, ok := number(sch["minLength"]); ok && float64(utf8.RuneCountInString(x)) < n {
			return fail(at, "shorter than %v", n)
		}
		if p, ok := sch["pattern"].(string); ok && !s.regex[p].MatchString(x) {
			return fail(at, "does not match %s", p)
		}
	case float64:
		if n, ok := number(sch["minimum"]); ok && x < n {
			return fail(at, "below %v", n)
		}
		if n, ok := number(sch["maximum"]); ok && x > n {
			return fail(at, "above %v", n)
		}
	}
	return nil
}

func (s *Schema) object(sch map[string]any, x map[string]any, at string) error {
	if req, ok := sch["required"].([]any); ok {
		for _, r := range req {
			if _, present := x[r.(string)]; !present {
				return fail(at, "required %q is missing", r)
			}
		}
	}
	props, _ := sch["properties"].(map[string]any)
	for k, val := range x {
		if p, ok := props[k].(map[string]any); ok {
			if err := s.validate(p, val, at+"."+k); err != nil {
				return err
			}
			continue
		}
		switch ap := sch["additionalProperties"].(type) {
		case bool:
			if !ap {
				return fail(at, "property %q is not allowed", k)
			}
		case map[string]any:
			if err := s.validate(ap, val, at+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// pathError is a failure at a place in the document.
type pathError struct{ at, msg string }

func (e *pathError) Error() string { return e.at + ": " + e.msg }

func fail(at, format string, args ...any) error {
	return &pathError{at: at, msg: fmt.Sprintf(format, args...)}
}

func hasType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	}
	return false
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
