package jira

import (
	"strings"
)

// The statuses of JSM's default workflow between which its "Transition on
// comment" rule moves a request (RATIONALE.md, "Why does a customer's
// message move the request, and how?").
const (
	WaitingForSupport  = "Waiting for support"
	WaitingForCustomer = "Waiting for customer"
)

// TransitionTo moves an issue into the status named to (case-insensitive)
// through a transition the app may make: GET then POST
// /rest/api/3/issue/{key}/transitions. It reports false, without an error,
// when no available transition leads there (a workflow without that
// status, or one the app may not use).
func (c *Client) TransitionTo(issueKey, to string) (bool, error) {
	if err := checkKey(issueKey); err != nil {
		return false, err
	}
	var out struct {
		Transitions []struct {
			ID          flexString `json:"id"`
			IsAvailable *bool      `json:"isAvailable"`
			To          struct {
				Name string `json:"name"`
			} `json:"to"`
		} `json:"transitions"`
	}
	if err := c.do("GET", "/rest/api/3/issue/"+issueKey+"/transitions", nil, nil, &out); err != nil {
		return false, err
	}
	for _, tr := range out.Transitions {
		if !strings.EqualFold(strings.TrimSpace(tr.To.Name), to) || tr.IsAvailable != nil && !*tr.IsAvailable || !ValidID(string(tr.ID)) {
			continue
		}
		in := map[string]any{"transition": map[string]string{"id": string(tr.ID)}}
		if err := c.doJSON("POST", "/rest/api/3/issue/"+issueKey+"/transitions", in, nil); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}
