package jiraevent

import "testing"

func TestCausedByNamesTheActorOfAnEvent(t *testing.T) {
	const app = "app-1"
	for _, c := range []struct {
		name, payload string
		want          bool
	}{
		{"forge self-generated", `{"selfGenerated":true}`, true},
		{"the app commented", `{"webhookEvent":"comment_created","comment":{"author":{"accountId":"app-1"}}}`, true},
		{"an agent commented", `{"webhookEvent":"comment_created","comment":{"author":{"accountId":"agent-7"}}}`, false},
		{"an agent edited the app's comment", `{"comment":{"author":{"accountId":"app-1"},"updateAuthor":{"accountId":"agent-7"}}}`, false},
		{"the issue event's user is the app", `{"webhookEvent":"jira:issue_updated","user":{"accountId":"app-1"},"comment":{"author":{"accountId":"app-1"}}}`, true},
		{"an agent moved the app's request", `{"webhookEvent":"jira:issue_updated","user":{"accountId":"agent-7"}}`, false},
		{"no actor", `{"webhookEvent":"jira:issue_updated"}`, false},
		{"not JSON", `{`, false},
	} {
		if got := causedBy([]byte(c.payload), app); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if causedBy([]byte(`{"comment":{"author":{"accountId":""}}}`), "") {
		t.Error("an empty account caused an event")
	}
}
