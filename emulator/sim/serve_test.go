package sim

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
)

func TestServeTLSAnswersUnderTheServicesName(t *testing.T) {
	ls, err := ServeTLS(map[string]http.Handler{
		"api.example.org": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "simulated") }),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	addr := ls.Routes["api.example.org"]
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ls.CA.Pool()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	resp, err := client.Get("https://api.example.org/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "simulated" {
		t.Fatalf("answer %q", body)
	}
	// Under another name the certificate does not verify.
	if _, err := client.Get("https://other.example.org/"); err == nil {
		t.Fatal("a certificate for another name was accepted")
	}
}
