package jira

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/chatbridge/chatbridge/wit/abi"
)

// JSM customers, as the service desk API defines them: "Create customer"
// (POST /rest/servicedeskapi/customer), "Get customers" and "Add
// customers" of a service desk (/rest/servicedeskapi/servicedesk/{id}/
// customer). The bridge links a chat to a customer (plugin/bridge,
// identity.go) and raises requests on the customer's behalf
// (NewRequest.RaiseOnBehalfOf).

// ErrExists: Create customer refused an email that already has an account
// (409 with strictConflictStatusCode=true).
var ErrExists = errors.New("jira: an account with this email exists")

// Customer is a JSM customer as the service desk API shows one.
type Customer struct {
	AccountID   string `json:"accountId"`
	Email       string `json:"emailAddress"`
	DisplayName string `json:"displayName"`
}

// CreateCustomer creates a portal-only customer account for email: POST
// /rest/servicedeskapi/customer?strictConflictStatusCode=true, which
// answers 409 (ErrExists) instead of 400 when the email has an account.
func (c *Client) CreateCustomer(email, displayName string) (Customer, error) {
	var out Customer
	err := c.doJSON("POST", "/rest/servicedeskapi/customer?strictConflictStatusCode=true",
		map[string]string{"email": email, "displayName": displayName}, &out)
	var se *StatusError
	if errors.As(err, &se) && se.Status == 409 {
		return Customer{}, fmt.Errorf("jira: create customer: %w", ErrExists)
	}
	if err != nil {
		return Customer{}, err
	}
	if out.AccountID == "" {
		return Customer{}, fmt.Errorf("jira: create customer: answer without an account id: %w", ErrBadID)
	}
	return out, nil
}

// FindCustomer finds the customer of a service desk whose email is email
// (compared without regard to case): GET .../servicedesk/{id}/customer
// ?query=, an experimental method (X-ExperimentalApi: opt-in). The query
// also matches names, so only an exact email match counts; a customer whose
// email the site hides is not found. found is false when none matches.
func (c *Client) FindCustomer(serviceDeskID, email string) (cust Customer, found bool, err error) {
	if err := checkID(serviceDeskID); err != nil {
		return Customer{}, false, err
	}
	start := 0
	for range maxPages {
		var page struct {
			Values     []Customer `json:"values"`
			IsLastPage bool       `json:"isLastPage"`
			Size       int        `json:"size"`
		}
		path := "/rest/servicedeskapi/servicedesk/" + serviceDeskID + "/customer?query=" + url.QueryEscape(email) +
			"&start=" + fmt.Sprint(start) + "&limit=50"
		if err := c.do("GET", path, []abi.Header{{Name: "X-ExperimentalApi", Value: "opt-in"}}, nil, &page); err != nil {
			return Customer{}, false, err
		}
		for _, v := range page.Values {
			if v.AccountID != "" && strings.EqualFold(strings.TrimSpace(v.Email), email) {
				return v, true, nil
			}
		}
		if page.IsLastPage || len(page.Values) == 0 {
			return Customer{}, false, nil
		}
		start += len(page.Values)
	}
	return Customer{}, false, nil
}

// AddCustomer makes an account a customer of a service desk (POST
// .../servicedesk/{id}/customer), so that requests can be raised on its
// behalf on a desk not open to everyone. Adding a customer twice is no
// error.
func (c *Client) AddCustomer(serviceDeskID, accountID string) error {
	if err := checkID(serviceDeskID); err != nil {
		return err
	}
	return c.doJSON("POST", "/rest/servicedeskapi/servicedesk/"+serviceDeskID+"/customer",
		map[string][]string{"accountIds": {accountID}}, nil)
}
