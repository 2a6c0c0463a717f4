package capability

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// A fetch that fails in the transport answers unavailable, and the host's
// log says why (here: nothing listens on the port) without the URL's path,
// query or the secret substituted into it.
func TestFailedFetchLogsItsCauseWithoutTheURLOrSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the dial is refused

	h, m := fuzzHost(t)
	h.policy = egressTo("api.example.com")
	// api.example.com is reached at addr, as a resolver would send it there.
	h.deps.HTTP = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	var buf bytes.Buffer
	call := &Call{Installation: "inst-1", Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	ctx := WithCall(context.Background(), call)
	name, value := "token", "bot-s3cr3t-777"
	m.Memory().Write(0, []byte(name))
	m.Memory().Write(100, []byte(value))
	if code, _ := abi.SplitResult(h.secretsSet(ctx, m, 0, uint32(len(name)), 100, uint32(len(value)))); code != abi.OK {
		t.Fatalf("secrets.set: %v", code)
	}
	buf.Reset()
	req := (&abi.Request{Method: "GET", URL: "https://api.example.com/bot{{secret:token}}/getMe?q=private-query"}).Append(nil)
	m.Memory().Write(1000, req)
	if code, _ := abi.SplitResult(h.fetch(ctx, m, 1000, uint32(len(req)))); code != abi.Unavailable {
		t.Fatalf("fetch: %v, want unavailable", code)
	}
	recs := logRecords(t, &buf)
	if len(recs) != 1 || recs[0]["msg"] != "outbound request failed" {
		t.Fatalf("want one outbound request failed record:\n%s", buf.String())
	}
	cause, _ := recs[0]["cause"].(string)
	if !strings.Contains(cause, "connection refused") {
		t.Errorf("the cause does not say the connection was refused: %q", cause)
	}
	for _, leak := range []string{value, "private-query", "getMe"} {
		if strings.Contains(buf.String(), leak) {
			t.Errorf("the log holds %q:\n%s", leak, buf.String())
		}
	}
}

// egressTo allows everything, and fetch to one host on port 443.
type egressTo string

func (egressTo) HasCapability(string) bool { return true }
func (e egressTo) EgressAllowedAt(host string, port int) bool {
	return host == string(e) && port == 443
}
func (egressTo) HasQueue(string) bool { return true }
func (egressTo) HasScope(string) bool { return true }
