package simctl

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in string
		want     Rule
		ok       bool
	}{
		{"count defaults to one", `{"service":"jira","match":"*","status":503}`, Rule{Service: "jira", Match: "*", Status: 503, Count: 1}, true},
		{"all fields", `{"service":"telegram","match":"sendMessage","status":429,"retry_after":5,"count":3,"description":"x"}`,
			Rule{Service: "telegram", Match: "sendMessage", Status: 429, RetryAfter: 5, Count: 3, Description: "x"}, true},
		{"forever", `{"service":"jira","match":"*","status":500,"count":-1}`, Rule{Service: "jira", Match: "*", Status: 500, Count: -1}, true},
		{"no service", `{"match":"*","status":500}`, Rule{}, false},
		{"no match", `{"service":"jira","status":500}`, Rule{}, false},
		{"a success status", `{"service":"jira","match":"*","status":204}`, Rule{}, false},
		{"negative retry_after", `{"service":"jira","match":"*","status":429,"retry_after":-1}`, Rule{}, false},
		{"count below -1", `{"service":"jira","match":"*","status":500,"count":-2}`, Rule{}, false},
		{"unknown field", `{"service":"jira","match":"*","status":500,"when":"now"}`, Rule{}, false},
		{"not JSON", `service=jira`, Rule{}, false},
		{"held", `{"service":"jira","match":"PUT /rest/api/3/comment/*","status":500,"hold_seconds":60}`,
			Rule{Service: "jira", Match: "PUT /rest/api/3/comment/*", Status: 500, Count: 1, HoldSeconds: 60}, true},
		{"negative hold", `{"service":"jira","match":"*","status":500,"hold_seconds":-1}`, Rule{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(strings.NewReader(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("err %v", err)
			}
			if err != nil && !errors.Is(err, ErrBadRule) {
				t.Errorf("error %v is not ErrBadRule", err)
			}
			if got != tt.want {
				t.Errorf("rule %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFaults_TakeUsesRulesUpInOrder(t *testing.T) {
	var f Faults
	f.Add(Rule{Match: "sendMessage", Status: 429, Count: 2})
	f.Add(Rule{Match: "*", Status: 500, Count: 1})
	var got []int
	for _, key := range []string{"getMe", "sendMessage", "sendMessage", "sendMessage", "getMe"} {
		r, ok := f.Take(key)
		if !ok {
			got = append(got, 0)
			continue
		}
		got = append(got, r.Status)
	}
	// getMe takes the "*" rule; sendMessage uses its own twice, then nothing is left.
	want := []int{500, 429, 429, 0, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	f.Add(Rule{Match: "*", Status: 503, Count: -1})
	for range 3 {
		if r, ok := f.Take("x"); !ok || r.Status != 503 {
			t.Fatal("a -1 rule ran out")
		}
	}
	f.Clear()
	if _, ok := f.Take("x"); ok || len(f.Rules()) != 0 {
		t.Error("Clear left rules")
	}
}

func TestFaults_APrefixRuleMatchesEveryKeyItStarts(t *testing.T) {
	var f Faults
	f.Add(Rule{Service: "jira", Match: "PUT /rest/api/3/comment/*", Status: 500, Count: 2})
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"PUT /rest/api/2/comment/10001/properties/chatbridge.op", false},
		{"GET /rest/api/3/comment/10001/properties/chatbridge.op", false},
		{"PUT /rest/api/3/comment/10001/properties/chatbridge.op", true},
		{"PUT /rest/api/3/comment/10002/properties/x", true},
		{"PUT /rest/api/3/comment/10003/properties/x", false}, // used up
	} {
		if _, got := f.Take(tc.key); got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestRule_HoldEndsWhenTheCallerGoesAway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Rule{HoldSeconds: 3600}.Hold(ctx)
		close(done)
	}()
	cancel()
	<-done // the test would time out if the hold outlived its caller
}
