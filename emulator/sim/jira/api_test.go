package jira

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
)

func TestAuthorization(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name, auth string
		status     int
	}{
		{"no Authorization", "", 401},
		{"another user's", "Basic b3RoZXI6b3RoZXI=", 401},
		{"a bearer token", "Bearer abc", 401},
		{"the configured one", DefaultAuthorization, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.api.URL+"/rest/api/3/myself", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			a := e.do(t, req)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.raw)
			}
			// GET /myself answers as Cloud does (measured: text/html, an
			// OAuth challenge), which is what an install sees.
			if tt.status == 401 && (string(a.raw) != "Client must be authenticated to access this resource." ||
				!strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "OAuth")) {
				t.Errorf("body %s %v", a.raw, a.header)
			}
			if tt.status == 200 && (a.json["accountId"] != "chatbridge-dev-app" || a.json["accountType"] != "app") {
				t.Errorf("myself %s", a.raw)
			}
		})
	}
	t.Run("every endpoint is protected", func(t *testing.T) {
		for _, p := range []string{"/rest/servicedeskapi/request/SUP-1", "/rest/api/3/issue/SUP-1", "/rest/api/3/attachment/content/1", "/secure/attachment/1/x"} {
			req, _ := http.NewRequest("GET", e.api.URL+p, nil)
			if a := e.do(t, req); a.status != 401 {
				t.Errorf("%s: %d", p, a.status)
			}
		}
	})
}

func TestCreateRequest(t *testing.T) {
	e := newEnv(t, Config{})
	valid := func() map[string]any {
		return map[string]any{"serviceDeskId": "1", "requestTypeId": "10",
			"requestFieldValues": map[string]any{"summary": "Printer on fire", "description": "It *really* is."}}
	}
	with := func(change func(m map[string]any)) map[string]any { m := valid(); change(m); return m }
	tests := []struct {
		name   string
		body   map[string]any
		status int
		msg    string
	}{
		{"without serviceDeskId", with(func(m map[string]any) { delete(m, "serviceDeskId") }), 400, "The serviceDeskId field is required."},
		{"for an unknown service desk", with(func(m map[string]any) { m["serviceDeskId"] = "9" }), 404, "The service project with ID 9 does not exist or you do not have permission to access it."},
		{"without requestTypeId", with(func(m map[string]any) { delete(m, "requestTypeId") }), 400, "The requestTypeId field is required."},
		{"of an unknown request type", with(func(m map[string]any) { m["requestTypeId"] = "99" }), 400, "The request type you are trying to use does not exist or you do not have permission to use it."},
		{"without summary", with(func(m map[string]any) { m["requestFieldValues"] = map[string]any{"description": "x"} }), 400, "You must specify a summary of the issue."},
		{"with a summary over 255", with(func(m map[string]any) { m["requestFieldValues"] = map[string]any{"summary": strings.Repeat("s", 256)} }), 400,
			"Summary must be less than 255 characters and on one line."},
		{"with an unknown field", with(func(m map[string]any) {
			m["requestFieldValues"] = map[string]any{"summary": "x", "customfield_1": "y"}
		}), 400, "Field 'customfield_1' cannot be set. It is not on the appropriate screen, or unknown."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.call(t, "POST", "/rest/servicedeskapi/request", tt.body)
			if a.status != tt.status || a.json["errorMessage"] != tt.msg {
				t.Errorf("got %d %s", a.status, a.raw)
			}
		})
	}
	t.Run("a valid request is created, on behalf of a customer", func(t *testing.T) {
		a := e.call(t, "POST", "/rest/servicedeskapi/request", with(func(m map[string]any) { m["raiseOnBehalfOf"] = "ann@example.com" }))
		if a.status != 201 || a.json["issueKey"] != "SUP-1" || a.json["issueId"] == "" || a.json["requestTypeId"] != "10" || a.json["serviceDeskId"] != "1" {
			t.Fatalf("created %d %s", a.status, a.raw)
		}
		if dig(a.json, "currentStatus", "status") != "Waiting for support" || dig(a.json, "currentStatus", "statusCategory") != "NEW" {
			t.Errorf("currentStatus %v", a.json["currentStatus"])
		}
		if dig(a.json, "_links", "self") == nil || dig(a.json, "reporter", "emailAddress") != "ann@example.com" {
			t.Errorf("links or reporter %s", a.raw)
		}
		d := e.hook.next(t)
		if d.event() != "jira:issue_created" || dig(d.payload, "issue", "key") != "SUP-1" {
			t.Errorf("webhook %s", d.body)
		}
		// Readable by key, id and lower-case key.
		for _, ref := range []string{"SUP-1", a.json["issueId"].(string), "sup-1"} {
			if g := e.call(t, "GET", "/rest/servicedeskapi/request/"+ref, nil); g.status != 200 || g.json["issueKey"] != "SUP-1" {
				t.Errorf("GET %s: %d %s", ref, g.status, g.raw)
			}
		}
		if g := e.call(t, "GET", "/rest/servicedeskapi/request/SUP-99", nil); g.status != 404 {
			t.Errorf("GET unknown: %d", g.status)
		}
		list := e.requests(t)
		if len(list) != 1 || list[0].Summary != "Printer on fire" || list[0].Status != "Waiting for support" || list[0].StatusCategory != "new" ||
			!strings.HasPrefix(list[0].ReporterAccountID, "qm:") {
			t.Errorf("control requests %+v", list)
		}
	})
	t.Run("keys count up", func(t *testing.T) {
		if k := e.newRequest(t, "second"); k != "SUP-2" {
			t.Errorf("key %s", k)
		}
	})
}

func TestCreateRequestLabels(t *testing.T) {
	e := newEnv(t, Config{RequestTypes: []RequestType{{ID: "10", Name: "Get IT help"}, {ID: "11", Name: "Report a bug", WithoutLabels: true}}})
	create := func(rt string, labels any) answer {
		return e.call(t, "POST", "/rest/servicedeskapi/request", map[string]any{"serviceDeskId": "1", "requestTypeId": rt,
			"requestFieldValues": map[string]any{"summary": "s", "labels": labels}})
	}
	t.Run("labels on the form are stored and served", func(t *testing.T) {
		a := create("10", []string{"chatbridge-telegram", "vip", "vip"})
		if a.status != 201 {
			t.Fatalf("created %d %s", a.status, a.raw)
		}
		e.hook.next(t)
		g := e.call(t, "GET", "/rest/api/3/issue/"+a.json["issueKey"].(string)+"?fields=labels", nil)
		got, _ := json.Marshal(dig(g.json, "fields", "labels"))
		if g.status != 200 || string(got) != `["chatbridge-telegram","vip"]` {
			t.Errorf("issue %d labels %s", g.status, got)
		}
		if list := e.requests(t); len(list) != 1 || !slices.Equal(list[0].Labels, []string{"chatbridge-telegram", "vip"}) {
			t.Errorf("control requests %+v", list)
		}
	})
	for _, tt := range []struct {
		name, rt string
		labels   any
		msg      string
	}{
		{"a request type without the field refuses them", "11", []string{"chatbridge-telegram"}, "Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."},
		{"a label with a space is refused", "10", []string{"chat bridge"}, "The label 'chat bridge' contains spaces which is invalid."},
		{"a string is not a list", "10", "chatbridge", "Labels must be an array of strings."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if a := create(tt.rt, tt.labels); a.status != 400 || a.json["errorMessage"] != tt.msg {
				t.Errorf("got %d %s", a.status, a.raw)
			}
		})
	}
}

func TestConfigurationEndpoints(t *testing.T) {
	e := newEnv(t, Config{RequestTypes: []RequestType{{ID: "10", Name: "Get IT help"}, {ID: "11", Name: "Report a bug"}}})
	a := e.call(t, "GET", "/rest/servicedeskapi/servicedesk", nil)
	if a.status != 200 || dig(a.json, "values") == nil || a.json["size"].(float64) != 1 {
		t.Errorf("service desks %s", a.raw)
	}
	desk := a.json["values"].([]any)[0].(map[string]any)
	if desk["id"] != "1" || desk["projectKey"] != "SUP" {
		t.Errorf("desk %v", desk)
	}
	rt := e.call(t, "GET", "/rest/servicedeskapi/servicedesk/1/requesttype", nil)
	if rt.status != 200 || len(rt.json["values"].([]any)) != 2 {
		t.Errorf("request types %s", rt.raw)
	}
	if rt := e.call(t, "GET", "/rest/servicedeskapi/servicedesk/2/requesttype", nil); rt.status != 404 {
		t.Errorf("request types of an unknown desk: %d", rt.status)
	}
	c := e.call(t, "POST", "/rest/servicedeskapi/customer", map[string]any{"email": "bo@example.com", "displayName": "Bo"})
	if c.status != 201 || c.json["displayName"] != "Bo" || c.json["accountId"] == "" {
		t.Errorf("customer %s", c.raw)
	}
	if again := e.call(t, "POST", "/rest/servicedeskapi/customer", map[string]any{"email": "bo@example.com"}); again.status != 400 {
		t.Errorf("duplicate customer %d", again.status)
	}
}

func TestIssueFields(t *testing.T) {
	e := newEnv(t, Config{})
	key := e.newRequest(t, "fields")
	a := e.call(t, "GET", "/rest/api/3/issue/"+key+"?fields=status,summary", nil)
	fields, _ := a.json["fields"].(map[string]any)
	if a.status != 200 || len(fields) != 2 || fields["summary"] != "fields" || dig(fields, "status", "name") != "Waiting for support" ||
		dig(fields, "status", "statusCategory", "key") != "new" {
		t.Errorf("issue %s", a.raw)
	}
	all := e.call(t, "GET", "/rest/api/3/issue/"+key, nil)
	if dig(all.json, "fields", "project", "key") != "SUP" || dig(all.json, "fields", "description", "type") != "doc" {
		t.Errorf("all fields %s", all.raw)
	}
	if nf := e.call(t, "GET", "/rest/api/3/issue/SUP-404", nil); nf.status != 404 ||
		string(nf.raw) != `{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}` {
		t.Errorf("unknown issue %d %s", nf.status, nf.raw)
	}
}

// multipartBody is one multipart "file" part.
func multipartBody(t *testing.T, name string, data []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	h.Set("Content-Type", "application/octet-stream")
	w, _ := mw.CreatePart(h)
	w.Write(data)
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func TestAttachmentsInTwoSteps(t *testing.T) {
	e := newEnv(t, Config{MaxAttachmentBytes: 1 << 20})
	key := e.newRequest(t, "with files")
	data := []byte("%PDF-1.4 the customer's invoice")
	upload := func(headers map[string]string, name string, data []byte) answer {
		ct, body := multipartBody(t, name, data)
		req, _ := http.NewRequest("POST", e.api.URL+"/rest/servicedeskapi/servicedesk/1/attachTemporaryFile", body)
		req.Header.Set("Authorization", DefaultAuthorization)
		req.Header.Set("Content-Type", ct)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		return e.do(t, req)
	}
	both := map[string]string{"X-Atlassian-Token": "no-check", "X-ExperimentalApi": "opt-in"}
	t.Run("without X-Atlassian-Token the XSRF check fails", func(t *testing.T) {
		a := upload(map[string]string{"X-ExperimentalApi": "opt-in"}, "a.pdf", data)
		if a.status != 403 || string(a.raw) != "XSRF check failed" {
			t.Errorf("got %d %s", a.status, a.raw)
		}
	})
	t.Run("without X-ExperimentalApi the call is refused", func(t *testing.T) {
		a := upload(map[string]string{"X-Atlassian-Token": "no-check"}, "a.pdf", data)
		if a.status != 400 || !strings.Contains(a.json["errorMessage"].(string), "X-ExperimentalApi: opt-in") {
			t.Errorf("got %d %s", a.status, a.raw)
		}
	})
	t.Run("a file over the limit is refused", func(t *testing.T) {
		if a := upload(both, "big.bin", make([]byte, 1<<20+1)); a.status != 413 {
			t.Errorf("got %d %s", a.status, a.raw)
		}
	})
	t.Run("an unknown temporary id is refused", func(t *testing.T) {
		a := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/attachment", map[string]any{"temporaryAttachmentIds": []string{"temp1"}, "public": true})
		if a.status != 400 {
			t.Errorf("got %d %s", a.status, a.raw)
		}
	})
	t.Run("upload, attach, download", func(t *testing.T) {
		up := upload(both, "invoice.pdf", data)
		if up.status != 201 {
			t.Fatalf("upload %d %s", up.status, up.raw)
		}
		temps := up.json["temporaryAttachments"].([]any)
		tmp := temps[0].(map[string]any)
		if len(temps) != 1 || tmp["fileName"] != "invoice.pdf" || !strings.HasPrefix(tmp["temporaryAttachmentId"].(string), "temp") {
			t.Fatalf("temporary %s", up.raw)
		}
		att := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/attachment", map[string]any{
			"temporaryAttachmentIds": []string{tmp["temporaryAttachmentId"].(string)}, "public": true,
			"additionalComment": map[string]any{"body": "Here it is"}})
		if att.status != 201 || dig(att.json, "comment", "body") != "Here it is\n\n[^invoice.pdf]" || dig(att.json, "attachments", "size").(float64) != 1 {
			t.Fatalf("attach %d %s", att.status, att.raw)
		}
		// The temporary id is used up.
		if again := e.call(t, "POST", "/rest/servicedeskapi/request/"+key+"/attachment", map[string]any{
			"temporaryAttachmentIds": []string{tmp["temporaryAttachmentId"].(string)}}); again.status != 400 {
			t.Errorf("reuse: %d", again.status)
		}
		// Webhooks: issue_updated with the Attachment changelog, then comment_created.
		d1, d2 := e.hook.next(t), e.hook.next(t)
		if d1.event() != "jira:issue_updated" || dig(d1.payload, "changelog", "items") == nil || d2.event() != "comment_created" {
			t.Fatalf("deliveries %s / %s", d1.body, d2.body)
		}
		item := dig(d1.payload, "changelog", "items").([]any)[0].(map[string]any)
		if item["field"] != "Attachment" || item["toString"] != "invoice.pdf" {
			t.Errorf("changelog item %v", item)
		}
		list := e.requests(t)
		if len(list[0].Attachments) != 1 || list[0].Attachments[0].Filename != "invoice.pdf" || list[0].Attachments[0].Size != int64(len(data)) {
			t.Fatalf("control requests %+v", list[0].Attachments)
		}
		id := list[0].Attachments[0].ID
		// Content: a 303 to the bytes, or the bytes with redirect=false.
		a := e.call(t, "GET", "/rest/api/3/attachment/content/"+id, nil)
		loc := a.header.Get("Location")
		if a.status != 303 || !strings.HasPrefix(loc, e.api.URL+"/secure/attachment/"+id+"/") {
			t.Fatalf("content: %d Location %q", a.status, loc)
		}
		req, _ := http.NewRequest("GET", loc, nil)
		req.Header.Set("Authorization", DefaultAuthorization)
		if got := e.do(t, req); got.status != 200 || !bytes.Equal(got.raw, data) || got.header.Get("Content-Type") != "application/pdf" {
			t.Errorf("redirect target: %d %q %q", got.status, got.raw, got.header.Get("Content-Type"))
		}
		if got := e.call(t, "GET", "/rest/api/3/attachment/content/"+id+"?redirect=false", nil); got.status != 200 || !bytes.Equal(got.raw, data) {
			t.Errorf("redirect=false: %d %q", got.status, got.raw)
		}
		if meta := e.call(t, "GET", "/rest/api/3/attachment/"+id, nil); meta.json["filename"] != "invoice.pdf" || meta.json["size"].(float64) != float64(len(data)) {
			t.Errorf("metadata %s", meta.raw)
		}
	})
}

func TestAgentAttachmentViaControl(t *testing.T) {
	e := newEnv(t, Config{NoCommentRule: true}) // the comments' own events only; automation_test.go has the rule
	key := e.newRequest(t, "agent sends a file")
	code, out, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/attachment", map[string]any{"filename": "fix.png", "size": 5000, "public": true})
	if code != 200 || out["id"] == "" || len(out["webhooks"].([]any)) != 2 {
		t.Fatalf("control attachment %d %s", code, raw)
	}
	d1, d2 := e.hook.next(t), e.hook.next(t)
	if d1.event() != "jira:issue_updated" || d2.event() != "comment_created" || d2.comment()["body"] != "[^fix.png]" || d2.comment()["jsdPublic"] != true {
		t.Errorf("deliveries %s / %s", d1.body, d2.body)
	}
	att := dig(d2.payload, "issue", "fields", "attachment").([]any)[0].(map[string]any)
	a := e.call(t, "GET", "/rest/api/3/attachment/content/"+att["id"].(string)+"?redirect=false", nil)
	if a.status != 200 || len(a.raw) != 5000 || att["mimeType"] != "image/png" {
		t.Errorf("content %d, %d bytes, %v", a.status, len(a.raw), att["mimeType"])
	}
}

func TestAgentAttachmentViaControlCarriesTheGivenContent(t *testing.T) {
	e := newEnv(t, Config{NoCommentRule: true})
	key := e.newRequest(t, "agent sends a voice note")
	content := []byte("OggS\x00\x02 a voice note")
	code, out, raw := e.control(t, "POST", "/_sim/jira/requests/"+key+"/attachment", map[string]any{"filename": "note.ogg", "mime_type": "audio/ogg", "public": true, "content": content})
	if code != 200 || out["id"] == "" {
		t.Fatalf("control attachment %d %s", code, raw)
	}
	e.hook.next(t)
	e.hook.next(t)
	a := e.call(t, "GET", "/rest/api/3/attachment/content/"+out["id"].(string)+"?redirect=false", nil)
	if a.status != 200 || !bytes.Equal(a.raw, content) {
		t.Errorf("content %d %q", a.status, a.raw)
	}
	if meta := e.call(t, "GET", "/rest/api/3/attachment/"+out["id"].(string), nil); meta.json["size"].(float64) != float64(len(content)) {
		t.Errorf("metadata %s", meta.raw)
	}
}

// The host streams a widget's file to attachTemporaryFile with chunked
// transfer encoding, its length unknown in advance: the simulator takes it
// as Jira's HTTP server would, and a body that ends before the form's
// closing boundary (a sender that gave up half way) makes no temporary
// file.
func TestAttachTemporaryFileTakesAChunkedBodyAndNothingOfATruncatedOne(t *testing.T) {
	e := newEnv(t, Config{MaxAttachmentBytes: 4 << 20})
	send := func(body []byte) answer {
		t.Helper()
		// An io.Reader that is not a *bytes.Reader: net/http sends it chunked.
		req, _ := http.NewRequest("POST", e.api.URL+"/rest/servicedeskapi/servicedesk/1/attachTemporaryFile", io.MultiReader(bytes.NewReader(body)))
		req.Header.Set("Authorization", DefaultAuthorization)
		req.Header.Set("X-Atlassian-Token", "no-check")
		req.Header.Set("X-ExperimentalApi", "opt-in")
		req.Header.Set("Content-Type", "multipart/form-data; boundary=b0undary")
		return e.do(t, req)
	}
	file := bytes.Repeat([]byte("streamed "), 200_000) // 1.8 MB
	whole := append(append([]byte("--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"), file...), "\r\n--b0undary--\r\n"...)
	e.sim.mu.Lock()
	before := len(e.sim.temps)
	e.sim.mu.Unlock()
	if a := send(whole[:len(whole)/2]); a.status != 400 {
		t.Errorf("a truncated body: %d %s, want 400", a.status, a.raw)
	}
	e.sim.mu.Lock()
	after := len(e.sim.temps)
	e.sim.mu.Unlock()
	if after != before {
		t.Errorf("a truncated body made %d temporary files", after-before)
	}
	if a := send(whole); a.status != 201 {
		t.Errorf("a whole chunked body: %d %s, want 201", a.status, a.raw)
	}
}
