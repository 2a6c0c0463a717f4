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
	if out.PreviousValidUntil != nil {
		fmt.Fprintf(stdout, "enter the new secret in Jira's webhook page (Jira settings > System > WebHooks); the old one verifies deliveries until %s\n",
			out.PreviousValidUntil.Format("2006-01-02 15:04 MST"))
	}
	return nil
}
