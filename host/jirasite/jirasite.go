package jirasite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Errors of Check.
var (
	// ErrCredentials: Jira answered 401 or 403 to the credentials.
	ErrCredentials = errors.New("jirasite: Jira refused the credentials")
	// ErrNoServiceDesk: the account sees no Jira Service Management service desk.
	ErrNoServiceDesk = errors.New("jirasite: the account can see no service desk")
	// ErrUnreachable: the site did not answer as Jira does.
	ErrUnreachable = errors.New("jirasite: the site did not answer as Jira")
)

// Account is the app's account on a site.
type Account struct {
	ID          string
	DisplayName string
	// ServiceDesks is how many service desks the account sees (first page).
	ServiceDesks int
}

// maxAnswer bounds an answer read.
const maxAnswer = 1 << 20

// Myself asks GET /rest/api/3/myself with authorization: the account the
// credentials belong to (ServiceDesks not counted).
func Myself(ctx context.Context, client *http.Client, siteURL, authorization string) (Account, error) {
	var me struct {
		AccountID   string `json:"accountId"`
		DisplayName string `json:"displayName"`
	}
	if err := get(ctx, client, strings.TrimSuffix(siteURL, "/")+"/rest/api/3/myself", authorization, &me); err != nil {
		return Account{}, err
	}
	if me.AccountID == "" {
		return Account{}, fmt.Errorf("%w: GET /rest/api/3/myself answered without an accountId", ErrUnreachable)
	}
	return Account{ID: me.AccountID, DisplayName: me.DisplayName}, nil
}

// Check calls the site with authorization and returns the account it
// belongs to. siteURL is https://NAME.atlassian.net.
func Check(ctx context.Context, client *http.Client, siteURL, authorization string) (Account, error) {
	base := strings.TrimSuffix(siteURL, "/")
	me, err := Myself(ctx, client, siteURL, authorization)
	if err != nil {
		return Account{}, err
	}
	var desks struct {
		Size   int               `json:"size"`
		Values []json.RawMessage `json:"values"`
	}
	if err := get(ctx, client, base+"/rest/servicedeskapi/servicedesk", authorization, &desks); err != nil {
		return Account{}, err
	}
	a := Account{ID: me.ID, DisplayName: me.DisplayName, ServiceDesks: len(desks.Values)}
	if a.ServiceDesks == 0 {
		return a, fmt.Errorf("%w: the account %s (%s) sees no service desk on %s; add it to the service project's team (Project settings > People) and try again",
			ErrNoServiceDesk, a.ID, a.DisplayName, base)
	}
	return a, nil
}

func get(ctx context.Context, client *http.Client, url, authorization string, out any) error {
	path := url[strings.Index(url, "/rest/"):]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %w", ErrUnreachable, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: GET %s answered %d; the Authorization must be \"Basic \" and the base64 of "+
			"<the app account's email>:<an API token of that account> (create one at https://id.atlassian.com/manage-profile/security/api-tokens)",
			ErrCredentials, path, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: GET %s answered %d", ErrUnreachable, path, resp.StatusCode)
	case err != nil:
		return fmt.Errorf("%w: GET %s: %w", ErrUnreachable, path, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: GET %s: not JSON: %w", ErrUnreachable, path, err)
	}
	return nil
}
