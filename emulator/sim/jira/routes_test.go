package jira

import (
	"testing"
)

// Comment properties live at /rest/api/{2,3}/comment/{commentId}/properties/{propertyKey};
// the issue-scoped paths the simulator once served do not exist in Jira
// Cloud and must fail as Jira fails them (issue 16, finding 1).
func TestCommentPropertiesLiveAtTheDocumentedPath(t *testing.T) {
	e := newEnv(t, Config{})
	key := e.newRequest(t, "props")
	a := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/comment", map[string]any{"body": "hello", "public": true})
	if a.status != 201 {
		t.Fatalf("comment %d %s", a.status, a.raw)
	}
	id := a.json["id"].(string)
	for _, v := range []string{"2", "3"} {
		t.Run("v"+v, func(t *testing.T) {
			base := "/rest/api/" + v + "/comment/" + id + "/properties/"
			if p := e.call(t, "GET", base+"sd.public.comment", nil); p.status != 200 || dig(p.json, "value", "internal") != false {
				t.Errorf("GET sd.public.comment: %d %s", p.status, p.raw)
			}
			if p := e.call(t, "PUT", base+"chatbridge.op.v"+v, map[string]any{"id": "n.x"}); p.status != 201 {
				t.Errorf("PUT new property: %d %s", p.status, p.raw)
			}
			if p := e.call(t, "PUT", base+"chatbridge.op.v"+v, map[string]any{"id": "n.y"}); p.status != 200 {
				t.Errorf("PUT existing property: %d %s", p.status, p.raw)
			}
			if p := e.call(t, "GET", base+"chatbridge.op.v"+v, nil); dig(p.json, "value", "id") != "n.y" {
				t.Errorf("GET after PUT: %d %s", p.status, p.raw)
			}
			if p := e.call(t, "GET", "/rest/api/"+v+"/comment/99999999/properties/sd.public.comment", nil); p.status != 404 {
				t.Errorf("unknown comment: %d %s", p.status, p.raw)
			}
		})
	}
	t.Run("the invented issue-scoped paths are unknown routes", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"GET", "/rest/api/3/issue/" + key + "/comment/" + id + "/properties/sd.public.comment"},
			{"PUT", "/rest/api/2/issue/" + key + "/comment/" + id + "/properties/chatbridge.op"},
		} {
			var body any
			if c.method == "PUT" {
				body = map[string]any{"id": "n.z"}
			}
			p := e.call(t, c.method, c.path, body)
			if p.status != 404 || p.header.Get("Content-Type") != "application/problem+json;charset=UTF-8" ||
				p.json["detail"] != "No endpoint "+c.method+" "+c.path+"." || p.json["instance"] != c.path || p.json["status"] != 404.0 {
				t.Errorf("%s %s: %d %s %s", c.method, c.path, p.status, p.header.Get("Content-Type"), p.raw)
			}
		}
	})
}

// A method a served path does not take is 405 with Allow, in the same
// problem shape.
func TestAWrongMethodIs405WithAllow(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.call(t, "DELETE", "/rest/api/3/myself", nil)
	if p.status != 405 || p.header.Get("Allow") != "GET" || p.json["title"] != "Method Not Allowed" || p.json["instance"] != "/rest/api/3/myself" {
		t.Errorf("%d allow %q %s", p.status, p.header.Get("Allow"), p.raw)
	}
}
