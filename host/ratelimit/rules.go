package ratelimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Spec is one pacing rule as a bundle declares it. Package bundle decodes
// it from the manifest (permissions.external.fetch.pacing), whose doc
// describes every field in the manifest's words; package doc here says how
// a table of them is applied.
type Spec struct {
	// Host is the egress host the rule applies to: a DNS name, or
	// "*.example.com" for any one label in front of example.com.
	// Required.
	Host string
	// Method, when set, limits the rule to requests of that HTTP method.
	Method string
	// Path, when set, is a pattern the request's escaped path must match
	// segment by segment: "/bot{bot}/{method}". A segment is literal text,
	// or one capture {name} with optional literal text before and after it,
	// which matches one non-empty segment.
	Path string
	// When holds conditions on request values (see Key for how a value is
	// named), all of which must hold for the rule to apply.
	When map[string]Match
	// Key names the values a key of this rule is made of, besides the
	// installation and the host: "path.<capture>", "param.<name>" (the
	// query's, else the body's: a JSON object's top-level member, a form
	// field or a multipart text field) or "header.<Name>". A rule applies
	// only to requests that carry every value it names, in Key and When.
	// Empty: one key per installation and host.
	Key []string
	// Pace is the rate of each key. Zero: no pace; the key only carries
	// the blocks learned from answers.
	Pace Pace
	// TooManyRequests says how the destination spells "wait". It is used
	// when the rule is the first to match a request.
	TooManyRequests Answers
}

// Match is a condition on one request value. Comparisons ignore ASCII case;
// every list that is set must be satisfied.
type Match struct {
	In        []string // the value is one of these
	NotIn     []string // the value is none of these
	Prefix    []string // the value starts with one of these
	NotPrefix []string // the value starts with none of these
}

// Answers say how a destination asks a client to wait, and how the host
// asks in its name when it holds a request back.
type Answers struct {
	// RetryAfterField is the dotted path of a JSON member of a 429 or 503
	// answer that holds the seconds to wait ("parameters.retry_after"),
	// read before the Retry-After and X-RateLimit-Reset headers. Empty:
	// headers only.
	RetryAfterField string
	// RetryAfter is how long a 429 that names no time blocks. Zero: it
	// blocks nothing.
	RetryAfter time.Duration
	// Body is the JSON body of the 429 the host answers in place of a
	// request it holds back, with every {seconds} replaced by the wait in
	// whole seconds. Empty: the default body.
	Body string
}

// Bounds of a Spec.
const (
	// MaxRules caps the rules of one table.
	MaxRules = 100
	maxKey   = 8   // values in a rule's key
	maxWhen  = 8   // conditions of a rule
	maxList  = 32  // entries of one Match list
	maxText  = 256 // bytes of a path pattern, a name or a Match entry
	maxBody  = 4096
	maxParts = 8 // multipart fields read looking for params
)

// ErrInvalidRule is wrapped by every SpecError.
var ErrInvalidRule = errors.New("ratelimit: invalid rule")

// SpecError is a problem with one field of one Spec.
type SpecError struct {
	Rule    int    // index of the Spec in the list given to NewTable
	Field   string // as the manifest spells it: "path", "key[1]", "when.param.chat_id", "tooManyRequests.body"
	Problem string // the field's value and what is wrong with it
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("ratelimit: rule %d: %s %s", e.Rule, e.Field, e.Problem)
}

// Unwrap returns ErrInvalidRule.
func (e *SpecError) Unwrap() error { return ErrInvalidRule }

// Table is a compiled list of rules. A nil *Table has no rules.
type Table struct {
	rules []*rule
}

type rule struct {
	id        string // what the rule's keys are made of, for the hash
	host      string // lower case; the parent of a wildcard
	wildcard  bool
	method    string // upper case; "" any
	path      []segment
	when      []condition
	key       []ref
	pace      Pace
	answers   Answers
	retryPath []string
}

// segment is one segment of a path pattern: literal text when capture is
// false, else prefix, a non-empty capture, and suffix.
type segment struct {
	prefix, suffix string
	capture        bool
}

type source uint8

const (
	fromPath source = iota
	fromParam
	fromHeader
)

// ref names one request value.
type ref struct {
	from source
	name string
	n    int // fromPath: index among the pattern's captures
}

type condition struct {
	ref
	m Match
}

var (
	captureRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	paramRE   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	headerRE  = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	memberRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$`)
	methods   = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

// NewTable compiles specs, in order. The error joins a *SpecError for
// every problem found.
func NewTable(specs []Spec) (*Table, error) {
	t := &Table{}
	var errs []error
	for i, s := range specs {
		r, problems := compile(s)
		for _, p := range problems {
			p.Rule = i
			errs = append(errs, p)
		}
		if len(problems) == 0 {
			t.rules = append(t.rules, r)
		}
	}
	if len(specs) > MaxRules {
		errs = append(errs, &SpecError{Rule: MaxRules, Field: "rule", Problem: fmt.Sprintf("is one too many: at most %d rules", MaxRules)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// Len is the number of rules.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.rules)
}

func compile(s Spec) (*rule, []*SpecError) {
	var errs []*SpecError
	bad := func(field, format string, args ...any) {
		errs = append(errs, &SpecError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	r := &rule{pace: s.Pace, answers: s.TooManyRequests}
	r.host = strings.ToLower(s.Host)
	r.host, r.wildcard = strings.CutPrefix(r.host, "*.")
	if r.host == "" || strings.ContainsAny(r.host, "*/:@ ") {
		bad("host", "%q is not a host name", s.Host)
	}
	if s.Method != "" {
		if r.method = strings.ToUpper(s.Method); !slices.Contains(methods, r.method) {
			bad("method", "%q is not one of %s", s.Method, strings.Join(methods, ", "))
		}
	}
	var captures []string
	if s.Path != "" {
		var problem string
		r.path, captures, problem = parsePath(s.Path)
		if problem != "" {
			bad("path", "%q %s", s.Path, problem)
		}
	}
	resolve := func(field, name string) (ref, bool) {
		x, problem := parseRef(name, captures)
		if problem != "" {
			bad(field, "%q %s", name, problem)
			return ref{}, false
		}
		return x, true
	}
	if len(s.Key) > maxKey {
		bad("key", "has %d values, at most %d", len(s.Key), maxKey)
	}
	for i, name := range s.Key {
		field := fmt.Sprintf("key[%d]", i)
		if slices.Contains(s.Key[:i], name) {
			bad(field, "%q is listed twice", name)
			continue
		}
		if x, ok := resolve(field, name); ok {
			r.key = append(r.key, x)
		}
	}
	if len(s.When) > maxWhen {
		bad("when", "has %d conditions, at most %d", len(s.When), maxWhen)
	}
	names := make([]string, 0, len(s.When))
	for name := range s.When {
		names = append(names, name)
	}
	slices.Sort(names) // one order for errors and for the rule's id
	for _, name := range names {
		field := "when." + name
		x, ok := resolve(field, name)
		m := s.When[name]
		set := 0
		for _, l := range []struct {
			name   string
			values []string
		}{{"in", m.In}, {"notIn", m.NotIn}, {"prefix", m.Prefix}, {"notPrefix", m.NotPrefix}} {
			set += len(l.values)
			if len(l.values) > maxList {
				bad(field+"."+l.name, "has %d entries, at most %d", len(l.values), maxList)
			}
			for _, v := range l.values {
				if v == "" || len(v) > maxText {
					bad(field+"."+l.name, "%q must be 1 to %d bytes", v, maxText)
				}
			}
		}
		if set == 0 {
			bad(field, "sets none of in, notIn, prefix, notPrefix")
			continue
		}
		if ok {
			r.when = append(r.when, condition{ref: x, m: m})
		}
	}
	if s.Pace.Every < 0 || s.Pace.Burst < 0 {
		bad("rate", "%v with bursts of %d is not a rate", s.Pace.Every, s.Pace.Burst)
	}
	a := s.TooManyRequests
	if a.RetryAfterField != "" {
		if !memberRE.MatchString(a.RetryAfterField) {
			bad("tooManyRequests.retryAfterField", "%q is not a dotted path of JSON member names (such as parameters.retry_after)", a.RetryAfterField)
		}
		r.retryPath = strings.Split(a.RetryAfterField, ".")
	}
	if a.RetryAfter < 0 {
		bad("tooManyRequests.retryAfter", "%v is negative", a.RetryAfter)
	}
	if a.Body != "" {
		switch {
		case len(a.Body) > maxBody:
			bad("tooManyRequests.body", "is longer than %d bytes", maxBody)
		case !json.Valid([]byte(strings.ReplaceAll(a.Body, "{seconds}", "1"))):
			bad("tooManyRequests.body", "%q is not JSON once {seconds} is replaced by a number", a.Body)
		}
	}
	r.id = fmt.Sprintf("%q %q %q %v %q", s.Host, r.method, s.Path, s.Key, names)
	return r, errs
}

// parsePath parses a path pattern, returning its segments, its capture
// names in order, and a problem or "".
func parsePath(p string) ([]segment, []string, string) {
	if !strings.HasPrefix(p, "/") {
		return nil, nil, "must start with /"
	}
	if len(p) > maxText {
		return nil, nil, fmt.Sprintf("is longer than %d bytes", maxText)
	}
	if strings.ContainsAny(p, "?#") {
		return nil, nil, "must be a path, without a query or fragment"
	}
	var segs []segment
	var names []string
	for _, s := range strings.Split(p[1:], "/") {
		if s == "" {
			return nil, nil, "has an empty segment"
		}
		open, close := strings.IndexByte(s, '{'), strings.IndexByte(s, '}')
		if open < 0 && close < 0 {
			segs = append(segs, segment{prefix: s})
			continue
		}
		if open < 0 || close < open || strings.Count(s, "{") != 1 || strings.Count(s, "}") != 1 {
			return nil, nil, fmt.Sprintf("segment %q must hold one {name} at most", s)
		}
		name := s[open+1 : close]
		if !captureRE.MatchString(name) {
			return nil, nil, fmt.Sprintf("capture {%s} must be a name of letters, digits and _", name)
		}
		if slices.Contains(names, name) {
			return nil, nil, fmt.Sprintf("captures {%s} twice", name)
		}
		names = append(names, name)
		segs = append(segs, segment{prefix: s[:open], suffix: s[close+1:], capture: true})
	}
	return segs, names, ""
}

// parseRef parses a value name against the path's captures.
func parseRef(name string, captures []string) (ref, string) {
	from, n, _ := strings.Cut(name, ".")
	switch from {
	case "path":
		i := slices.Index(captures, n)
		if i < 0 {
			return ref{}, "names no capture of the rule's path"
		}
		return ref{from: fromPath, name: n, n: i}, ""
	case "param":
		if !paramRE.MatchString(n) {
			return ref{}, "is not a parameter name (letters, digits, _ . -)"
		}
		return ref{from: fromParam, name: n}, ""
	case "header":
		if !headerRE.MatchString(n) {
			return ref{}, "is not a header name (letters, digits, -)"
		}
		return ref{from: fromHeader, name: http.CanonicalHeaderKey(n)}, ""
	}
	return ref{}, "is not path.<capture>, param.<name> or header.<Name>"
}

// Destination is what one outbound request counts against. Its first key
// is the one blocks learned from answers apply to.
type Destination struct {
	keys  []Key
	owner *rule // the first rule that matched; nil: the host's default
}

// For finds what a request of installation, with method, to u, with header
// and body, counts against: a key for every rule of t that applies, in
// the table's order, or, when none does, one unpaced key for the
// installation and host. Keys hold only hashes of the values they are made
// of. A nil t has no rules.
func (t *Table) For(installation, method string, u *url.URL, header http.Header, body []byte) Destination {
	host := strings.ToLower(u.Hostname())
	var d Destination
	if t != nil {
		req := request{u: u, header: header, body: body}
		for _, r := range t.rules {
			if r.wildcard {
				if _, parent, _ := strings.Cut(host, "."); parent != r.host {
					continue
				}
			} else if host != r.host {
				continue
			}
			if r.method != "" && !strings.EqualFold(method, r.method) {
				continue
			}
			parts, ok := r.apply(&req)
			if !ok {
				continue
			}
			if d.owner == nil {
				d.owner = r
			}
			d.keys = append(d.keys, newKey(r.pace, installation, []string{host, r.id}, parts))
		}
	}
	if len(d.keys) == 0 {
		d.keys = []Key{NewKey(Pace{}, installation, host)}
	}
	return d
}

// apply returns the values of r's key when r applies to req.
func (r *rule) apply(req *request) ([]string, bool) {
	var captures []string
	if r.path != nil {
		var ok bool
		if captures, ok = match(r.path, req.segments()); !ok {
			return nil, false
		}
	}
	for _, c := range r.when {
		v := req.value(c.ref, captures)
		if v == "" || !c.m.holds(v) {
			return nil, false
		}
	}
	parts := make([]string, len(r.key))
	for i, x := range r.key {
		if parts[i] = req.value(x, captures); parts[i] == "" {
			return nil, false
		}
	}
	return parts, true
}

func match(pattern []segment, segs []string) ([]string, bool) {
	if len(segs) != len(pattern) {
		return nil, false
	}
	var captures []string
	for i, p := range pattern {
		s := segs[i]
		if !p.capture {
			if s != p.prefix {
				return nil, false
			}
			continue
		}
		if len(s) <= len(p.prefix)+len(p.suffix) || !strings.HasPrefix(s, p.prefix) || !strings.HasSuffix(s, p.suffix) {
			return nil, false
		}
		captures = append(captures, s[len(p.prefix):len(s)-len(p.suffix)])
	}
	return captures, true
}

func (m Match) holds(v string) bool {
	in := func(list []string, eq func(string, string) bool) bool {
		return slices.ContainsFunc(list, func(x string) bool { return eq(v, x) })
	}
	return (len(m.In) == 0 || in(m.In, strings.EqualFold)) &&
		!in(m.NotIn, strings.EqualFold) &&
		(len(m.Prefix) == 0 || in(m.Prefix, hasPrefixFold)) &&
		!in(m.NotPrefix, hasPrefixFold)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// request reads the values of one request, each part parsed at most once.
type request struct {
	u      *url.URL
	header http.Header
	body   []byte

	segs   []string
	split  bool
	query  url.Values
	params map[string]string
	parsed bool
}

func (r *request) segments() []string {
	if !r.split {
		r.split = true
		if p, ok := strings.CutPrefix(r.u.EscapedPath(), "/"); ok {
			r.segs = strings.Split(p, "/")
		}
	}
	return r.segs
}

func (r *request) value(x ref, captures []string) string {
	switch x.from {
	case fromPath:
		return captures[x.n]
	case fromHeader:
		return r.header.Get(x.name)
	}
	if r.query == nil && r.u.RawQuery != "" {
		r.query = r.u.Query()
	}
	if v := r.query.Get(x.name); v != "" {
		return v
	}
	if !r.parsed {
		r.parsed = true
		r.params = bodyParams(r.header.Get("Content-Type"), r.body)
	}
	return r.params[x.name]
}

// bodyParams returns the top-level fields of a JSON object, form or
// multipart body (the first maxParts text fields), by name. A JSON string
// and the same text unquoted ("123" and 123) are one value.
func bodyParams(contentType string, body []byte) map[string]string {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	out := map[string]string{}
	switch mt {
	case "application/json", "":
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			return nil
		}
		for k, v := range obj {
			if s, err := strconv.Unquote(string(v)); err == nil {
				out[k] = s
			} else {
				out[k] = string(v)
			}
		}
	case "application/x-www-form-urlencoded":
		q, _ := url.ParseQuery(string(body))
		for k, v := range q {
			out[k] = v[0]
		}
	case "multipart/form-data":
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for range maxParts {
			p, err := r.NextPart()
			if err != nil {
				break
			}
			if name := p.FormName(); name != "" && p.FileName() == "" && out[name] == "" {
				v, _ := io.ReadAll(io.LimitReader(p, maxText))
				out[name] = strings.TrimSpace(string(v))
			}
		}
	}
	return out
}

// Observe learns from an answer to a request counted against d: a 429 or
// 503 that says how long to wait blocks d's first key until then, so that
// no other request counted against it goes out before. The wait is read
// from the JSON member the first matching rule names, then Retry-After
// (seconds or an HTTP date), then X-RateLimit-Reset (an RFC 3339 time); a
// 429 that names none blocks for the rule's RetryAfter.
func (l *Limiter) Observe(d Destination, status int, header http.Header, body []byte) {
	if l == nil || len(d.keys) == 0 || (status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable) {
		return
	}
	now := l.now()
	var wait time.Duration
	if d.owner != nil && d.owner.retryPath != nil {
		wait = memberSeconds(body, d.owner.retryPath)
	}
	if wait == 0 {
		wait = headerRetryAfter(header, now)
	}
	if wait == 0 && status == http.StatusTooManyRequests && d.owner != nil {
		wait = d.owner.answers.RetryAfter
	}
	if wait > 0 {
		l.block(d.keys[0], now.Add(wait))
	}
}

// memberSeconds reads a positive number of seconds at path in a JSON
// body; 0 when there is none.
func memberSeconds(body []byte, path []string) time.Duration {
	raw := json.RawMessage(body)
	for _, name := range path {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return 0
		}
		raw = obj[name]
	}
	var n float64
	if json.Unmarshal(raw, &n) != nil || !(n > 0) {
		return 0
	}
	// Beyond a day the block is capped anyway (Config.MaxBlock).
	return time.Duration(min(n, 86400) * float64(time.Second))
}

// headerRetryAfter reads Retry-After, then X-RateLimit-Reset.
func headerRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	return 0
}

// TooManyRequests is the answer to give in place of a request the limiter
// refused, one the caller already reads as "retry after seconds": a 429
// with Retry-After and, as body, the first matching rule's
// TooManyRequests.Body or else the Jira REST API's error shape (Jira
// sites, reached by the jira capability, are never declared).
func (d Destination) TooManyRequests(seconds int) (status int, header http.Header, body []byte) {
	n := strconv.Itoa(seconds)
	header = http.Header{"Retry-After": {n}, "Content-Type": {"application/json"}}
	if d.owner != nil && d.owner.answers.Body != "" {
		body = []byte(strings.ReplaceAll(d.owner.answers.Body, "{seconds}", n))
	} else {
		body = []byte(`{"errorMessages":["Too Many Requests: retry after ` + n + ` seconds"]}`)
	}
	return http.StatusTooManyRequests, header, body
}
