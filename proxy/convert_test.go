package proxy

import (
	"bufio"
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func parseRequest(t testing.TB, raw string) *fasthttp.Request {
	t.Helper()
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return &req
}

func TestToRequest(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Request
	}{
		{
			name: "a Telegram update keeps its secret-token header for the module to check",
			raw: "POST /x/abc HTTP/1.1\r\nHost: edge.example\r\nContent-Type: application/json\r\n" +
				"X-Telegram-Bot-Api-Secret-Token: tok\r\nContent-Length: 15\r\n\r\n{\"update_id\":1}",
			want: Request{Method: "POST", Path: "/x/abc",
				Headers: []Header{h("host", "edge.example"), h("content-length", "15"), h("content-type", "application/json"),
					h("x-telegram-bot-api-secret-token", "tok")},
				Body: []byte(`{"update_id":1}`)},
		},
		{
			name: "a WhatsApp verification GET carries its query parameters",
			raw:  "GET /x/abc?hub.mode=subscribe&hub.verify_token=v&hub.challenge=1158201444 HTTP/1.1\r\nHost: h\r\n\r\n",
			want: Request{Method: "GET", Path: "/x/abc",
				Headers: []Header{h("host", "h")},
				Query:   []Header{h("hub.mode", "subscribe"), h("hub.verify_token", "v"), h("hub.challenge", "1158201444")},
				Body:    []byte{}},
		},
		{
			name: "repeated headers and query parameters stay repeated, in order; percent-encoding is decoded",
			raw:  "POST /x/abc?a=1&a=%20two HTTP/1.1\r\nHost: h\r\nX-M: 1\r\nX-M: 2\r\nContent-Length: 0\r\n\r\n",
			want: Request{Method: "POST", Path: "/x/abc",
				Headers: []Header{h("host", "h"), h("content-length", "0"), h("x-m", "1"), h("x-m", "2")},
				Query:   []Header{h("a", "1"), h("a", " two")},
				Body:    []byte{}},
		},
		{
			name: "hop-by-hop headers are left out and a chunked body arrives whole",
			raw: "POST /x/abc HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n" +
				"Keep-Alive: timeout=5\r\nUpgrade: h2c\r\nX-Hub-Signature-256: sha256=ab\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			want: Request{Method: "POST", Path: "/x/abc",
				Headers: []Header{h("host", "h"), h("x-hub-signature-256", "sha256=ab")},
				Body:    []byte("abc")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := toRequest(parseRequest(t, tt.raw))
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func h(name, value string) Header { return Header{Name: name, Value: value} }

func cloneRequest(r *Request) *Request {
	c := *r
	c.Headers = append([]Header(nil), r.Headers...)
	c.Query = append([]Header(nil), r.Query...)
	c.Body = bytes.Clone(r.Body)
	return &c
}

// FuzzToRequest converts arbitrary raw requests that fasthttp
// accepts and checks the copy: it matches the request, names headers in
// lower case, leaves hop-by-hop headers out, and does not change when
// fasthttp reuses the request's buffers for another request.
func FuzzToRequest(f *testing.F) {
	for _, seed := range []string{
		"POST /x/abc HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"GET /x/abc?hub.mode=subscribe&hub.challenge=1 HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /jira/abc HTTP/1.1\r\nHost: h\r\nX-Hub-Signature: sha256=00\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"POST /x/a%20b?x=%zz&&=&y HTTP/1.0\r\nCookie: a=b; c=d\r\nUser-Agent: u\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 1\r\n\r\nz",
		"POST /x/abc HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /x/abc HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	const other = "POST /x/zzzzzzzzzzzzzzzzzzzzzzzzzz?q=overwritten HTTP/1.1\r\nHost: other\r\nX-A: overwritten-overwritten\r\nContent-Length: 11\r\n\r\noverwritten"
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req fasthttp.Request
		if err := req.ReadLimitBody(bufio.NewReader(bytes.NewReader(raw)), 1<<20); err != nil {
			return
		}
		_ = ambiguousFraming(req.Header.RawHeaders())
		got := toRequest(&req)
		want := cloneRequest(got)

		if got.Method != string(req.Header.Method()) || got.Path != string(req.URI().Path()) || !bytes.Equal(got.Body, req.Body()) {
			t.Fatalf("method/path/body differ: %q %q %q", got.Method, got.Path, got.Body)
		}
		n := 0
		for k := range req.Header.All() {
			if !hopByHop[strings.ToLower(string(k))] {
				n++
			}
		}
		if n != len(got.Headers) {
			t.Fatalf("%d headers copied, want %d", len(got.Headers), n)
		}
		for _, h := range got.Headers {
			if h.Name != strings.ToLower(h.Name) || hopByHop[h.Name] {
				t.Fatalf("header name %q", h.Name)
			}
		}
		if len(got.Query) != req.URI().QueryArgs().Len() {
			t.Fatalf("%d query parameters copied, want %d", len(got.Query), req.URI().QueryArgs().Len())
		}

		// Reuse the request as fasthttp does between requests.
		req.Reset()
		if err := req.Read(bufio.NewReader(strings.NewReader(other))); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the copy changed when the request was reused:\n%+v\n%+v", got, want)
		}
	})
}
