package jira

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxPropertyBytes is Jira's limit on an entity property's value.
const maxPropertyBytes = 32768

// listIssueComments is GET /rest/api/{2,3}/issue/{key}/comment: paged with
// startAt and maxResults, ordered by orderBy (created, +created, -created).
// Its expand documents renderedBody only; expand=properties is ignored, as
// Cloud may ignore it (properties come from comment/list).
func (s *Sim) listIssueComments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, max, ok := pageParams(w, q, 5000)
	if !ok {
		return
	}
	newestFirst := false
	switch q.Get("orderBy") {
	case "", "created", "+created":
	case "-created":
		newestFirst = true
	default:
		writeErrors(w, http.StatusBadRequest, []string{"The orderBy parameter must be created, +created or -created."}, nil)
		return
	}
	v3 := strings.HasPrefix(r.URL.Path, "/rest/api/3/")
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		issueNotFound(w)
		return
	}
	list := slices.Clone(req.comments)
	if newestFirst {
		slices.Reverse(list)
	}
	out := []any{}
	for i := start; i < len(list) && i < start+max; i++ {
		c := list[i]
		var body any = c.wiki
		if v3 {
			body = json.RawMessage(c.adf)
		}
		out = append(out, s.commentJSON(req, c, body))
	}
	writeJSON(w, http.StatusOK, map[string]any{"startAt": start, "maxResults": max, "total": len(list), "comments": out})
}

// maxCommentIDs is the most ids POST comment/list takes.
const maxCommentIDs = 1000

// listCommentsByID is POST /rest/api/{2,3}/comment/list {"ids": [...]}: the
// comments with those ids (unknown ids are left out), oldest first, in one
// page, each with its properties under expand=properties.
func (s *Sim) listCommentsByID(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IDs *[]int64 `json:"ids"`
	}
	if !decodeBody(w, r, &body, false) {
		return
	}
	if body.IDs == nil {
		writeErrors(w, http.StatusBadRequest, nil, map[string]string{"ids": "The list of comment ids is required."})
		return
	}
	if len(*body.IDs) > maxCommentIDs {
		writeErrors(w, http.StatusBadRequest, []string{"The number of comment ids must not exceed 1000."}, nil)
		return
	}
	withProps := slices.Contains(strings.Split(r.URL.Query().Get("expand"), ","), "properties")
	v3 := strings.HasPrefix(r.URL.Path, "/rest/api/3/")
	want := map[string]bool{}
	for _, id := range *body.IDs {
		want[strconv.FormatInt(id, 10)] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, req := range s.requests {
		for _, c := range req.comments {
			if !want[c.id] {
				continue
			}
			var b any = c.wiki
			if v3 {
				b = json.RawMessage(c.adf)
			}
			m := s.commentJSON(req, c, b)
			if withProps {
				m["properties"] = propertiesJSON(c.properties)
			}
			out = append(out, m)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"self": s.cfg.Site + r.URL.Path, "startAt": 0, "maxResults": maxCommentIDs,
		"total": len(out), "isLast": true, "values": out})
}

// propertiesJSON is the properties array of an expanded entity, by key.
func propertiesJSON(props map[string]json.RawMessage) []any {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := []any{}
	for _, k := range keys {
		out = append(out, map[string]any{"key": k, "value": props[k]})
	}
	return out
}

// pageParams reads startAt and maxResults; false after answering 400.
func pageParams(w http.ResponseWriter, q map[string][]string, def int) (start, max int, ok bool) {
	get := func(name string, def int) (int, bool) {
		v := ""
		if l := q[name]; len(l) > 0 {
			v = l[0]
		}
		if v == "" {
			return def, true
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeErrors(w, http.StatusBadRequest, []string{"The " + name + " parameter must be a non-negative number."}, nil)
			return 0, false
		}
		return n, true
	}
	if start, ok = get("startAt", 0); !ok {
		return 0, 0, false
	}
	if max, ok = get("maxResults", def); !ok {
		return 0, 0, false
	}
	if max == 0 || max > def {
		max = def
	}
	return start, max, true
}

// propertyNotFound is the platform API's answer for an unknown property.
func propertyNotFound(w http.ResponseWriter, key string) {
	writeErrors(w, http.StatusNotFound, []string{"The property with key '" + key + "' does not exist."}, nil)
}

func (s *Sim) listIssueProperties(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		issueNotFound(w)
		return
	}
	keys := []any{}
	for _, p := range propertiesJSON(req.properties) {
		k := p.(map[string]any)["key"].(string)
		keys = append(keys, map[string]any{"self": s.cfg.Site + "/rest/api/2/issue/" + req.id + "/properties/" + k, "key": k})
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Sim) getIssueProperty(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		issueNotFound(w)
		return
	}
	v, ok := req.properties[r.PathValue("prop")]
	if !ok {
		propertyNotFound(w, r.PathValue("prop"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": r.PathValue("prop"), "value": v})
}

// setIssueProperty is PUT .../issue/{key}/properties/{prop}: 201 when
// created, 200 when updated; the body is the value, any JSON.
func (s *Sim) setIssueProperty(w http.ResponseWriter, r *http.Request) {
	var v json.RawMessage
	if !decodeBody(w, r, &v, false) {
		return
	}
	key := r.PathValue("prop")
	if len(key) > 255 {
		writeErrors(w, http.StatusBadRequest, []string{"The property key cannot be longer than 255 characters."}, nil)
		return
	}
	if len(v) > maxPropertyBytes {
		writeErrors(w, http.StatusBadRequest, []string{"The property value cannot be longer than 32768 bytes."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.findRequest(r.PathValue("key"))
	if req == nil {
		issueNotFound(w)
		return
	}
	if req.properties == nil {
		req.properties = map[string]json.RawMessage{}
	}
	_, existed := req.properties[key]
	req.properties[key] = v
	if existed {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
}

// searchBody is POST /rest/api/{2,3}/search/jql.
type searchBody struct {
	JQL           string   `json:"jql"`
	Fields        []string `json:"fields"`
	Properties    []string `json:"properties"`
	MaxResults    int      `json:"maxResults"`
	NextPageToken string   `json:"nextPageToken"`
	Expand        string   `json:"expand"`
	FieldsByKeys  bool     `json:"fieldsByKeys"`
}

// search is the enhanced JQL search. Only the JQL the bridge emits is
// understood; anything else is answered 400 as Jira answers a query it
// cannot parse.
func (s *Sim) search(w http.ResponseWriter, r *http.Request) {
	var body searchBody
	if !decodeBody(w, r, &body, false) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	match, ok := s.parseJQL(body.JQL)
	if !ok {
		writeErrors(w, http.StatusBadRequest, []string{"Error in the JQL Query: the query is not supported by the simulator."}, nil)
		return
	}
	if len(body.Properties) > 5 {
		writeErrors(w, http.StatusBadRequest, []string{"A maximum of 5 issue properties can be requested."}, nil)
		return
	}
	max := body.MaxResults
	if max <= 0 || max > 5000 {
		max = 50
	}
	start := 0
	if body.NextPageToken != "" {
		n, err := strconv.Atoi(body.NextPageToken)
		if err != nil || n < 0 {
			writeErrors(w, http.StatusBadRequest, []string{"The nextPageToken is invalid."}, nil)
			return
		}
		start = n
	}
	var hits []*request
	for _, req := range s.requests {
		if match.matches(req, s.now()) {
			hits = append(hits, req)
		}
	}
	if match.newestFirst {
		slices.Reverse(hits)
	}
	var fields map[string]bool
	if len(body.Fields) > 0 {
		fields = wantFields(strings.Join(body.Fields, ","))
	} else {
		fields = map[string]bool{} // the enhanced search returns ids only by default
	}
	v3 := strings.HasPrefix(r.URL.Path, "/rest/api/3/")
	issues := []any{}
	for i := start; i < len(hits) && i < start+max; i++ {
		out := s.issueJSON(hits[i], fields, v3)
		props := map[string]any{}
		for _, k := range body.Properties {
			if v, ok := hits[i].properties[k]; ok {
				props[k] = v
			}
		}
		out["properties"] = props
		issues = append(issues, out)
	}
	answer := map[string]any{"issues": issues, "isLast": start+max >= len(hits)}
	if start+max < len(hits) {
		answer["nextPageToken"] = strconv.Itoa(start + max)
	}
	writeJSON(w, http.StatusOK, answer)
}

// query is a parsed JQL query: clauses joined by AND, then an order.
type query struct {
	project     string        // project = "KEY"
	creator     string        // creator = currentUser(): the caller's account id
	createdFor  time.Duration // created >= -<n>{m,h,d}: within this of now
	newestFirst bool
}

func (q query) matches(r *request, now time.Time) bool {
	return (q.project == "" || strings.HasPrefix(r.key, q.project+"-")) &&
		(q.creator == "" || r.creator.ID == q.creator) &&
		(q.createdFor == 0 || !r.created.Before(now.Add(-q.createdFor)))
}

var (
	projectClause = regexp.MustCompile(`^project\s*=\s*"?([A-Z][A-Z0-9_]*)"?$`)
	creatorClause = regexp.MustCompile(`^creator\s*=\s*currentUser\(\)$`)
	createdClause = regexp.MustCompile(`^created\s*>=\s*"?-([0-9]+)([mhd])"?$`)
	orderClause   = regexp.MustCompile(`(?i)^(.*?)\s+ORDER\s+BY\s+created(\s+(ASC|DESC))?$`)
)

// parseJQL understands `project = "KEY"`, `creator = currentUser()` and
// `created >= -<n>m|h|d` joined by AND, with an optional
// `ORDER BY created [ASC|DESC]`; s.mu is held.
func (s *Sim) parseJQL(jql string) (query, bool) {
	var q query
	jql = strings.TrimSpace(jql)
	if m := orderClause.FindStringSubmatch(jql); m != nil {
		jql, q.newestFirst = strings.TrimSpace(m[1]), strings.EqualFold(m[3], "DESC")
	}
	if jql == "" {
		return q, false
	}
	for _, clause := range strings.Split(jql, " AND ") {
		clause = strings.TrimSpace(clause)
		switch {
		case projectClause.MatchString(clause):
			key := projectClause.FindStringSubmatch(clause)[1]
			if key != s.cfg.ProjectKey {
				return q, false // Jira: "The value 'X' does not exist for the field 'project'."
			}
			q.project = key
		case creatorClause.MatchString(clause):
			q.creator = s.app.ID
		case createdClause.MatchString(clause):
			m := createdClause.FindStringSubmatch(clause)
			n, _ := strconv.Atoi(m[1])
			unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
			q.createdFor = time.Duration(n) * unit
		default:
			return q, false
		}
	}
	return q, true
}
