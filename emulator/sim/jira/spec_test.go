package jira

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/sim/apispec"
)

// specDir holds the services' own specifications (RATIONALE.md, "The
// services' own specifications").
var specDir = filepath.Join("..", "..", "..", "testdata", "specs")

// notREST are the simulator's routes outside the REST APIs, with why.
var notREST = map[string]string{
	"GET /secure/attachment/{id}/{name}": "where the 303 of GET attachment/content/{id} points (Cloud: its media host); the Location the specification documents",
}

// specs loads the platform and service management specifications.
func specs(t testing.TB) (platform, jsm *apispec.Spec) {
	t.Helper()
	var err error
	if platform, err = apispec.Load(filepath.Join(specDir, "jira-platform-v3.json")); err != nil {
		t.Fatal(err)
	}
	if jsm, err = apispec.Load(filepath.Join(specDir, "jsm.json")); err != nil {
		t.Fatal(err)
	}
	return platform, jsm
}

// specFor is the specification that documents path; nil for none.
func specFor(platform, jsm *apispec.Spec, path string) *apispec.Spec {
	switch {
	case strings.HasPrefix(path, "/rest/webhooks/1.0/"):
		return adminHooks
	case strings.HasPrefix(path, "/rest/api/2/"), strings.HasPrefix(path, "/rest/api/3/"):
		return platform
	case strings.HasPrefix(path, "/rest/servicedeskapi/"):
		return jsm
	}
	return nil
}

// adminHooks is the admin webhook fragment, loaded once.
var adminHooks = func() *apispec.Spec {
	s, err := apispec.Load(filepath.Join(specDir, "jira-admin-webhooks.json"))
	if err != nil {
		panic(err)
	}
	return s
}()

// The simulator serves no route Jira's specifications lack.
func TestEveryRouteIsInTheSpecification(t *testing.T) {
	platform, jsm := specs(t)
	routes := New(Config{}).Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes: %v", len(routes), routes)
	}
	for _, r := range routes {
		method, tmpl, _ := strings.Cut(r, " ")
		if why, ok := notREST[r]; ok {
			if strings.HasPrefix(tmpl, "/rest/") {
				t.Errorf("%s: a REST path cannot be excused (%s)", r, why)
			}
			continue
		}
		spec := specFor(platform, jsm, tmpl)
		if spec == nil {
			t.Errorf("%s: no specification covers the path", r)
			continue
		}
		path := samplePath(tmpl, map[string]string{})
		op, doc, ok := spec.Find(method, path)
		if !ok {
			t.Errorf("%s: not in the specification", r)
			continue
		}
		if op.Deprecated {
			t.Errorf("%s: deprecated in the specification (%s)", r, doc)
		}
	}
}

// samplePath fills a route's {params} from values, or with "1".
func samplePath(tmpl string, values map[string]string) string {
	segs := strings.Split(tmpl, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, "{"); ok {
			name = strings.TrimSuffix(name, "}")
			if v, ok := values[name]; ok {
				segs[i] = v
			} else {
				segs[i] = "1"
			}
		}
	}
	return strings.Join(segs, "/")
}

// A call without the body its operation requires is refused with 400 in
// the API's own error shape, not served.
func TestACallWithoutItsRequiredBodyIsRefused(t *testing.T) {
	platform, jsm := specs(t)
	e := newEnv(t, Config{})
	key := e.newRequest(t, "required")
	a := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "x", "public": true})
	values := map[string]string{"key": key, "prop": "chatbridge.op"}
	checked := 0
	for _, r := range e.sim.Routes() {
		method, tmpl, _ := strings.Cut(r, " ")
		spec := specFor(platform, jsm, tmpl)
		if spec == nil {
			continue
		}
		v := values
		if strings.Contains(tmpl, "/comment/{id}") {
			v = map[string]string{"key": key, "id": a.json["id"].(string), "prop": "chatbridge.op"}
		}
		path := samplePath(tmpl, v)
		op, _, _ := spec.Find(method, path)
		if op == nil || op.Body == nil || !op.Body.Required || !strings.Contains(strings.Join(op.Body.ContentTypes, ","), "json") {
			continue
		}
		checked++
		req, _ := http.NewRequest(method, e.api.URL+path, nil)
		req.Header.Set("Authorization", DefaultAuthorization)
		req.Header.Set("Content-Type", "application/json")
		got := e.do(t, req)
		shape := "errorMessages"
		if spec == jsm {
			shape = "errorMessage"
		}
		if _, ok := got.json[shape]; got.status != 400 || !ok {
			t.Errorf("%s without a body: %d %s", r, got.status, got.raw)
		}
	}
	if checked < 8 {
		t.Errorf("only %d routes with a required body checked", checked)
	}
}
