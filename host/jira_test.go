package host_test

import (
	"context"
	"testing"

	"github.com/chatbridge/chatbridge/host/engine"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func TestJiraWebhooksAreAuthenticatedBeforeTheSandbox(t *testing.T) {
	f := newFixture(t, nil, engine.Config{})
	ctx := context.Background()
	in, secret, err := f.host.Install(ctx, siteFor("https://example.atlassian.net"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"webhookEvent":"comment_created","comment":{"id":"10001"}}`)
	deliver := func(sig string, body []byte) uint16 {
		return jiraevent.Webhook(ctx, f.host, in.ID, &abi.WebTriggerRequest{Method: "POST", Body: body,
			Headers: []abi.Header{{Name: "X-Hub-Signature", Value: sig}}}).Status
	}
	calls := func() int64 { return f.host.Engine().Stats().Calls.Load() }

	for _, c := range []struct {
		name string
		sig  string
	}{
		{"no signature", ""},
		{"signed with another secret", jiraevent.Sign([]byte("not the secret"), body)},
		{"signature of other bytes", jiraevent.Sign([]byte(secret), []byte(`{}`))},
		{"not hex", "sha256=zz"},
		{"sha1 prefix", "sha1=" + jiraevent.Sign([]byte(secret), body)[7:]},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := calls()
			if got := deliver(c.sig, body); got != 401 {
				t.Fatalf("status %d, want 401", got)
			}
			if calls() != before {
				t.Fatal("a forged delivery entered the sandbox")
			}
		})
	}
	t.Run("a signed comment event reaches the trigger", func(t *testing.T) {
		if got := deliver(jiraevent.Sign([]byte(secret), body), body); got != 200 {
			t.Fatalf("status %d, want 200", got)
		}
		if r := f.probe(t, in, map[string]any{"op": "storage.get", "key": "event:last"}); r.Value != "avi:jira:commented:issue|jira-events" {
			t.Fatalf("event not delivered: %+v", r)
		}
	})
	t.Run("an event no trigger subscribes to is acknowledged", func(t *testing.T) {
		other := []byte(`{"webhookEvent":"jira:issue_deleted"}`)
		if got := deliver(jiraevent.Sign([]byte(secret), other), other); got != 202 {
			t.Fatalf("status %d, want 202", got)
		}
	})
	t.Run("another installation's secret does not verify", func(t *testing.T) {
		_, otherSecret, err := f.host.Install(ctx, siteFor("https://other.atlassian.net"))
		if err != nil {
			t.Fatal(err)
		}
		if got := deliver(jiraevent.Sign([]byte(otherSecret), body), body); got != 401 {
			t.Fatalf("status %d, want 401", got)
		}
	})
}
