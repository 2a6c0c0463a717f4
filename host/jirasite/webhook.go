package jirasite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrNotAdmin: Jira refused the admin webhook API to the account (403): it
// lacks the Administer Jira global permission.
var ErrNotAdmin = errors.New("jirasite: the account may not manage Jira's admin webhooks")

// webhookAPI is Jira Cloud's admin webhook REST API (RATIONALE.md, "Why
// does install register the Jira webhook through
// /rest/webhooks/1.0/webhook?").
const webhookAPI = "/rest/webhooks/1.0/webhook"

// Webhook is an admin webhook to register.
type Webhook struct {
	Name string
	URL  string
	// Events are Jira webhook event names (comment_created, ...).
	Events []string
	// JQL selects the issues whose events are sent; empty: every issue.
	JQL string
	// Secret signs each delivery (X-Hub-Signature).
	Secret string
}

// RegisterWebhook registers w with the site and returns its id. An account
// without Administer Jira fails with ErrNotAdmin.
func RegisterWebhook(ctx context.Context, client *http.Client, siteURL, authorization string, w Webhook) (string, error) {
	body, err := json.Marshal(map[string]any{
		"name":        w.Name,
		"url":         w.URL,
		"events":      w.Events,
		"filters":     map[string]string{"issue-related-events-section": w.JQL},
		"excludeBody": false,
		"secret":      w.Secret,
	})
	if err != nil {
		return "", err
	}
	status, answer, err := call(ctx, client, http.MethodPost, strings.TrimSuffix(siteURL, "/")+webhookAPI, authorization, body)
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return "", fmt.Errorf("%w: POST %s answered %d", ErrUnreachable, webhookAPI, status)
	}
	var out struct {
		Self string `json:"self"`
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		return "", fmt.Errorf("%w: POST %s: not JSON: %w", ErrUnreachable, webhookAPI, err)
	}
	u, err := url.Parse(out.Self)
	id := ""
	if err == nil {
		id = u.Path[strings.LastIndex(u.Path, "/")+1:]
	}
	if err != nil || !strings.HasSuffix(u.Path, webhookAPI+"/"+id) || id == "" {
		return "", fmt.Errorf("%w: POST %s answered no webhook self link", ErrUnreachable, webhookAPI)
	}
	return id, nil
}

// WebhookRegistered asks the site whether the admin webhook id still exists.
func WebhookRegistered(ctx context.Context, client *http.Client, siteURL, authorization, id string) (bool, error) {
	status, _, err := call(ctx, client, http.MethodGet, strings.TrimSuffix(siteURL, "/")+webhookAPI+"/"+url.PathEscape(id), authorization, nil)
	switch {
	case err != nil:
		return false, err
	case status == http.StatusOK:
		return true, nil
	case status == http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("%w: GET %s/{id} answered %d", ErrUnreachable, webhookAPI, status)
}

// DeleteWebhook deletes the admin webhook id; one already gone is not an
// error.
func DeleteWebhook(ctx context.Context, client *http.Client, siteURL, authorization, id string) error {
	status, _, err := call(ctx, client, http.MethodDelete, strings.TrimSuffix(siteURL, "/")+webhookAPI+"/"+url.PathEscape(id), authorization, nil)
	switch {
	case err != nil:
		return err
	case status == http.StatusNoContent, status == http.StatusOK, status == http.StatusNotFound:
		return nil
	}
	return fmt.Errorf("%w: DELETE %s/{id} answered %d", ErrUnreachable, webhookAPI, status)
}

// call makes one admin webhook API call; 401 is ErrCredentials, 403
// ErrNotAdmin, any other status is the caller's.
func call(ctx context.Context, client *http.Client, method, u, authorization string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s %s: %w", ErrUnreachable, method, webhookAPI, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return 0, nil, fmt.Errorf("%w: %s %s answered 401", ErrCredentials, method, webhookAPI)
	case resp.StatusCode == http.StatusForbidden:
		return 0, nil, fmt.Errorf("%w: %s %s answered 403 (the account lacks the Administer Jira global permission)", ErrNotAdmin, method, webhookAPI)
	case err != nil:
		return 0, nil, fmt.Errorf("%w: %s %s: %w", ErrUnreachable, method, webhookAPI, err)
	}
	return resp.StatusCode, answer, nil
}
