package main

import (
	"fmt"
	"io"

	"github.com/chatbridge/chatbridge/host/adminapi"
)

// installationSecret is `chatbridge installations secret ID` (the Jira
// webhook's URL and secret, shown again) and `... rotate-secret ID` (a new
// secret; the old one verifies deliveries for a day more).
func installationSecret(sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("installations "+sub, stderr)
	target := adminFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "usage: chatbridge installations %s [flags] INSTALLATION_ID\n", sub)
		return errUsage
	}
	c, err := newAdminClient(target)
	if err != nil {
		return err
	}
	var out adminapi.WebhookSecret
	if sub == "secret" {
		err = c.do("GET", "/admin/installations/"+fs.Arg(0)+"/webhook-secret", nil, &out)
	} else {
		err = c.do("POST", "/admin/installations/"+fs.Arg(0)+"/webhook-secret/rotate", struct{}{}, &out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "jira webhook URL     %s\njira webhook secret  %s\n", out.JiraWebhookURL, out.JiraWebhookSecret)
	switch hook := out.JiraWebhook; {
	case hook != nil && hook.Registered && hook.Manual == nil:
		fmt.Fprintf(stdout, "the Jira webhook is registered again with the new secret (id %s); nothing to do in Jira\n", hook.ID)
	case hook != nil && hook.Registered:
		fmt.Fprintf(stdout, "the Jira webhook is registered again with the new secret (id %s), but %s\n", hook.ID, hook.Manual.Reason)
	case hook != nil && hook.Manual != nil:
		fmt.Fprintf(stdout, "the Jira webhook could not be registered again: %s\n  %s\n", hook.Manual.Reason, hook.Manual.Steps)
	case out.PreviousValidUntil != nil:
		fmt.Fprintf(stdout, "enter the new secret in Jira's webhook page (Jira settings > System > WebHooks); the old one verifies deliveries until %s\n",
			out.PreviousValidUntil.Format("2006-01-02 15:04 MST"))
	}
	return nil
}
