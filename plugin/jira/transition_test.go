package jira

import (
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func TestTransitionToPicksTheTransitionIntoTheStatus(t *testing.T) {
	list := `{"transitions":[
		{"id":"21","name":"Respond to customer","to":{"name":"Waiting for customer"}},
		{"id":"31","name":"Back to support","isAvailable":false,"to":{"name":"Waiting for support"}},
		{"id":"41","name":"Respond to support","isAvailable":true,"to":{"name":"waiting for SUPPORT "}}]}`
	for _, tc := range []struct {
		name, to, want string // want: the transition id posted, "" none
	}{
		{"by the status it leads to, not its name; unavailable ones skipped", WaitingForSupport, "41"},
		{"none when no transition leads there", "Escalated", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := sdktest.NewEnv()
			env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
				if req.Method == "GET" {
					return &abi.Response{Status: 200, Body: []byte(list)}, nil
				}
				return &abi.Response{Status: 204}, nil
			}
			moved, err := (&Client{API: env.Jira}).TransitionTo("SUP-7", tc.to)
			reqs := env.JiraAPI.Requests()
			if err != nil || moved != (tc.want != "") || reqs[0].URL != "/rest/api/3/issue/SUP-7/transitions" {
				t.Fatalf("moved %v, err %v, first call %s", moved, err, reqs[0].URL)
			}
			if tc.want == "" {
				if len(reqs) != 1 {
					t.Errorf("%d calls, want the listing only", len(reqs))
				}
				return
			}
			if len(reqs) != 2 || reqs[1].Method != "POST" || reqs[1].URL != "/rest/api/3/issue/SUP-7/transitions" ||
				!strings.Contains(string(reqs[1].Body), `"id":"`+tc.want+`"`) {
				t.Errorf("posted %v", reqs[1:])
			}
		})
	}
	t.Run("a refused transition is an error", func(t *testing.T) {
		env := sdktest.NewEnv()
		env.JiraAPI.Handler = func(req *abi.Request) (*abi.Response, error) {
			if req.Method == "GET" {
				return &abi.Response{Status: 200, Body: []byte(list)}, nil
			}
			return &abi.Response{Status: 400, Body: []byte(`{"errorMessages":["no"]}`)}, nil
		}
		if _, err := (&Client{API: env.Jira}).TransitionTo("SUP-7", WaitingForSupport); err == nil {
			t.Error("no error")
		}
	})
}
