package jira

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestPlatformComments_PropertiesAtCreationAreKeptAndListed(t *testing.T) {
	e := newEnv(t, Config{})
	key := e.newRequest(t, "marks")
	a := e.call(t, "POST", "/rest/api/2/issue/"+key+"/comment", map[string]any{"body": "Customer blocked the bot", "properties": []any{
		map[string]any{"key": "sd.public.comment", "value": map[string]any{"internal": true}},
		map[string]any{"key": "chatbridge.op", "value": map[string]any{"id": "a1b2.note"}},
	}})
	if a.status != 201 || a.json["jsdPublic"] != false {
		t.Fatalf("create %d %s", a.status, a.raw)
	}
	id := a.json["id"].(string)
	if d := e.hook.next(t); d.comment()["jsdPublic"] != false {
		t.Errorf("an internal comment fired as %s", d.body)
	}
	e.hook.next(t)
	if rs := e.requests(t); len(rs[0].Comments) != 1 || rs[0].Comments[0].Public {
		t.Errorf("control shows %+v", rs[0].Comments)
	}
	if p := e.call(t, "GET", "/rest/api/2/comment/"+id+"/properties/chatbridge.op", nil); dig(p.json, "value", "id") != "a1b2.note" {
		t.Errorf("property %d %s", p.status, p.raw)
	}
	e.call(t, "POST", "/rest/api/2/issue/"+key+"/comment", map[string]any{"body": "second"})
	e.call(t, "POST", "/rest/api/2/issue/"+key+"/comment", map[string]any{"body": "third"})

	t.Run("newest first, expand=properties ignored as Jira documents only renderedBody", func(t *testing.T) {
		l := e.call(t, "GET", "/rest/api/2/issue/"+key+"/comment?expand=properties&orderBy=-created&maxResults=100", nil)
		list, _ := l.json["comments"].([]any)
		if l.status != 200 || len(list) != 3 || l.json["total"] != 3.0 {
			t.Fatalf("list %d %s", l.status, l.raw)
		}
		if dig(list[0], "body") != "third" || dig(list[2], "body") != "Customer blocked the bot" {
			t.Errorf("order %s", l.raw)
		}
		for _, c := range list {
			if p, ok := c.(map[string]any)["properties"]; ok {
				t.Errorf("a listing carried properties: %v", p)
			}
		}
	})
	t.Run("comment/list by id with properties", func(t *testing.T) {
		n, _ := strconv.ParseInt(id, 10, 64)
		for _, v := range []string{"2", "3"} {
			l := e.call(t, "POST", "/rest/api/"+v+"/comment/list?expand=properties", map[string]any{"ids": []int64{n, 1}})
			list, _ := l.json["values"].([]any)
			if l.status != 200 || len(list) != 1 || l.json["isLast"] != true || dig(list[0], "id") != id {
				t.Fatalf("v%s: %d %s", v, l.status, l.raw)
			}
			props, _ := dig(list[0], "properties").([]any)
			found := map[string]any{}
			for _, p := range props {
				found[dig(p, "key").(string)] = dig(p, "value")
			}
			if dig(found["chatbridge.op"], "id") != "a1b2.note" || dig(found["sd.public.comment"], "internal") != true {
				t.Errorf("v%s properties %v", v, props)
			}
		}
		if l := e.call(t, "POST", "/rest/api/2/comment/list", map[string]any{}); l.status != 400 {
			t.Errorf("without ids: %d %s", l.status, l.raw)
		}
		if l := e.call(t, "POST", "/rest/api/2/comment/list", map[string]any{"ids": make([]int64, 1001)}); l.status != 400 {
			t.Errorf("1001 ids: %d %s", l.status, l.raw)
		}
		l := e.call(t, "POST", "/rest/api/2/comment/list", map[string]any{"ids": []int64{n}})
		if list, _ := l.json["values"].([]any); len(list) != 1 || dig(list[0], "properties") != nil {
			t.Errorf("properties without expand: %s", l.raw)
		}
	})
	t.Run("pages", func(t *testing.T) {
		l := e.call(t, "GET", "/rest/api/2/issue/"+key+"/comment?orderBy=-created&startAt=2&maxResults=2", nil)
		list, _ := l.json["comments"].([]any)
		if len(list) != 1 || l.json["total"] != 3.0 || dig(list[0], "body") != "Customer blocked the bot" {
			t.Errorf("page %s", l.raw)
		}
		if dig(list[0], "properties") != nil {
			t.Errorf("properties without expand: %s", l.raw)
		}
	})
	t.Run("oldest first by default, ADF in v3", func(t *testing.T) {
		l := e.call(t, "GET", "/rest/api/3/issue/"+key+"/comment", nil)
		list, _ := l.json["comments"].([]any)
		if len(list) != 3 || dig(list[0], "body", "type") != "doc" || dig(list[0], "id") != id {
			t.Errorf("v3 list %s", l.raw)
		}
	})
	t.Run("bad orderBy and unknown issues", func(t *testing.T) {
		if l := e.call(t, "GET", "/rest/api/2/issue/"+key+"/comment?orderBy=author", nil); l.status != 400 {
			t.Errorf("orderBy=author: %d", l.status)
		}
		if l := e.call(t, "GET", "/rest/api/2/issue/SUP-999/comment", nil); l.status != 404 {
			t.Errorf("unknown issue: %d", l.status)
		}
	})
}

func TestIssueProperties(t *testing.T) {
	e := newEnv(t, Config{})
	key := e.newRequest(t, "props")
	path := "/rest/api/2/issue/" + key + "/properties/chatbridge.op"
	if g := e.call(t, "GET", path, nil); g.status != 404 {
		t.Fatalf("before: %d", g.status)
	}
	if p := e.call(t, "PUT", path, map[string]any{"id": "x.open"}); p.status != 201 {
		t.Fatalf("create: %d %s", p.status, p.raw)
	}
	if p := e.call(t, "PUT", path, map[string]any{"id": "y.open"}); p.status != 200 {
		t.Fatalf("update: %d %s", p.status, p.raw)
	}
	if g := e.call(t, "GET", path, nil); g.status != 200 || g.json["key"] != "chatbridge.op" || dig(g.json, "value", "id") != "y.open" {
		t.Errorf("read %d %s", g.status, g.raw)
	}
	if l := e.call(t, "GET", "/rest/api/3/issue/"+key+"/properties", nil); len(l.json["keys"].([]any)) != 1 {
		t.Errorf("keys %s", l.raw)
	}
	if p := e.call(t, "PUT", "/rest/api/2/issue/SUP-999/properties/chatbridge.op", map[string]any{"id": "z"}); p.status != 404 {
		t.Errorf("unknown issue: %d", p.status)
	}
}

func TestSearchJQL(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	e := newEnv(t, Config{Now: clock})
	old := e.newRequest(t, "old one")
	advance(30 * time.Minute)
	a := e.newRequest(t, "first")
	b := e.newRequest(t, "second")
	e.call(t, "PUT", "/rest/api/2/issue/"+b+"/properties/chatbridge.op", map[string]any{"id": "n1.open"})
	advance(2 * time.Minute)
	const jql = `project = "SUP" AND creator = currentUser() AND created >= -5m ORDER BY created DESC`
	s := e.call(t, "POST", "/rest/api/2/search/jql", map[string]any{"jql": jql, "fields": []string{"summary", "description", "created"},
		"properties": []string{"chatbridge.op"}, "maxResults": 50})
	issues, _ := s.json["issues"].([]any)
	if s.status != 200 || len(issues) != 2 || s.json["isLast"] != true {
		t.Fatalf("search %d %s", s.status, s.raw)
	}
	if dig(issues[0], "key") != b || dig(issues[1], "key") != a {
		t.Errorf("not newest first, or %s found: %s", old, s.raw)
	}
	if dig(issues[0], "fields", "description") != "from chat" || dig(issues[0], "fields", "summary") != "second" || dig(issues[0], "fields", "status") != nil {
		t.Errorf("fields %s", s.raw)
	}
	if dig(issues[0], "properties", "chatbridge.op", "id") != "n1.open" || dig(issues[1], "properties", "chatbridge.op") != nil {
		t.Errorf("properties %s", s.raw)
	}
	t.Run("pages", func(t *testing.T) {
		p := e.call(t, "POST", "/rest/api/2/search/jql", map[string]any{"jql": jql, "maxResults": 1})
		if l, _ := p.json["issues"].([]any); len(l) != 1 || p.json["isLast"] != false || p.json["nextPageToken"] == nil {
			t.Fatalf("first page %s", p.raw)
		}
		n := e.call(t, "POST", "/rest/api/2/search/jql", map[string]any{"jql": jql, "maxResults": 1, "nextPageToken": p.json["nextPageToken"]})
		if l, _ := n.json["issues"].([]any); len(l) != 1 || dig(l[0], "key") != a || n.json["isLast"] != true {
			t.Errorf("second page %s", n.raw)
		}
	})
	for _, bad := range []string{
		`summary ~ "printer"`,
		`project = "OTHER" AND creator = currentUser()`,
		`project = "SUP" OR creator = currentUser()`,
		`issue.property[chatbridge.op].id = "n1.open"`,
		``,
	} {
		if r := e.call(t, "POST", "/rest/api/2/search/jql", map[string]any{"jql": bad}); r.status != 400 || len(r.json["errorMessages"].([]any)) == 0 {
			t.Errorf("%q: %d %s", bad, r.status, r.raw)
		}
	}
}
