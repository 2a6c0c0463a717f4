package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/trigger/jiraevent"
)

func TestJiraWebhookSecretIsShownAgainAndRotatesWithADaysGrace(t *testing.T) {
	t.Parallel()
	k := startKillable(t)
	var list []struct {
		ID             string
		JiraWebhookURL string `json:"jiraWebhookUrl"`
	}
	if code := stacktest.AdminCall(t, k.adminURL, k.token, "GET", "/admin/installations", &list); code != 200 || len(list) != 1 {
		t.Fatalf("installations: %d %v", code, list)
	}
	in := list[0]
	secretRE := regexp.MustCompile(`(?m)^jira webhook secret  (\S+)$`)
	secretOf := func(args ...string) string {
		t.Helper()
		out, err := chatbridge(t, append([]string{"installations"}, append(args, "-admin", k.adminURL, "-data", k.Data, in.ID)...)...)
		m := secretRE.FindStringSubmatch(out)
		if err != nil || m == nil || !strings.Contains(out, in.JiraWebhookURL) {
			t.Fatalf("installations %v: %v\n%s", args, err, out)
		}
		return m[1]
	}
	// A delivery Jira would send; an event the bridge does not take is
	// acknowledged with 202 once its signature verifies.
	body := []byte(`{"webhookEvent":"jira:worklog_updated","timestamp":1}`)
	deliver := func(secret string) int {
		t.Helper()
		return k.PostPublic(t, in.JiraWebhookURL, body, map[string]string{"X-Hub-Signature": jiraevent.Sign([]byte(secret), body)})
	}

	old := secretOf("secret")
	if code := deliver(old); code != 202 {
		t.Fatalf("a delivery signed with the shown secret: %d", code)
	}
	if code := deliver("not-the-secret"); code != 401 {
		t.Fatalf("a delivery signed with another secret: %d", code)
	}
	out, err := chatbridge(t, "installations", "rotate-secret", "-admin", k.adminURL, "-data", k.Data, in.ID)
	if err != nil || !strings.Contains(out, "the old one verifies deliveries until") {
		t.Fatalf("rotate-secret: %v\n%s", err, out)
	}
	next := secretRE.FindStringSubmatch(out)[1]
	if next == old || secretOf("secret") != next {
		t.Fatalf("after the rotation the secret shown is %q (old %q, rotated to %q)", secretOf("secret"), old, next)
	}
	if code := deliver(next); code != 202 {
		t.Fatalf("a delivery signed with the new secret: %d", code)
	}
	if code := deliver(old); code != 202 {
		t.Fatalf("a delivery signed with the old secret within the grace: %d", code)
	}
	// A second rotation ends the first one's grace.
	third := secretRE.FindStringSubmatch(mustRun(t, "installations", "rotate-secret", "-admin", k.adminURL, "-data", k.Data, in.ID))[1]
	if code := deliver(old); code != 401 {
		t.Fatalf("a delivery signed with a secret two rotations old: %d", code)
	}
	if code := deliver(third); code != 202 {
		t.Fatalf("a delivery signed with the newest secret: %d", code)
	}
	if out, err := chatbridge(t, "installations", "secret", "-admin", k.adminURL, "-data", k.Data, "nope"); err == nil || !strings.Contains(out, "no such installation") {
		t.Fatalf("secret of an unknown installation: %v\n%s", err, out)
	}
}
