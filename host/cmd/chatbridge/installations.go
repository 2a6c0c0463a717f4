package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/host/adminapi"
)

// adminClient talks to a running host's admin API.
type adminClient struct {
	base, token string
	http        *http.Client
	// lastHeader is the header of the last answer.
	lastHeader http.Header
}

// adminTarget is how a CLI command reaches a running host's admin API: its
// URL and its token, given with -token or read from the data directory.
type adminTarget struct {
	admin, data, token string
}

// adminFlags registers -admin, -data and -token with serve's defaults
// (defaults.go); `chatbridge dev` listens on devAdminAddr with -data
// devDataDir, so give those for a dev host.
func adminFlags(fs *flag.FlagSet) *adminTarget {
	var t adminTarget
	fs.StringVar(&t.admin, "admin", defaultAdminURL, "admin URL of the running host")
	fs.StringVar(&t.data, "data", defaultDataDir, "the host's data directory, whose admin.token is used when -token is not given")
	fs.StringVar(&t.token, "token", "", "the admin token (default: the content of <-data>/admin.token); a flag shows in the process list, so prefer the file on shared machines")
	return &t
}

func newAdminClient(t *adminTarget) (*adminClient, error) {
	tok := strings.TrimSpace(t.token)
	if tok == "" {
		b, err := os.ReadFile(filepath.Join(t.data, "admin.token"))
		if err != nil {
			return nil, fmt.Errorf("read the admin token (give -token, or -data the host's data directory): %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	return &adminClient{base: strings.TrimSuffix(t.admin, "/"), token: tok, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (c *adminClient) do(method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c.lastHeader = resp.Header
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func runInstall(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("install", stderr)
	target := adminFlags(fs)
	site := fs.String("site", "", "Jira site URL, https://NAME.atlassian.net; leave it out for an app that uses no Jira (docs/manifest.md)")
	account := fs.String("app-account", "", "optional: the app's Jira account id, checked against the account the credentials belong to (GET /rest/api/3/myself), which is used")
	authEnv := fs.String("auth-env", "CHATBRIDGE_JIRA_AUTHORIZATION", "environment variable holding the Jira Authorization header value")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	auth := os.Getenv(*authEnv)
	if *site == "" {
		// The host installs without a site only an app that uses no Jira.
		auth = ""
	} else if auth == "" {
		return fmt.Errorf("with -site, the %s environment variable is required: set it to \"Basic \" and the base64 of <the app account's email>:<its API token>", *authEnv)
	}
	c, err := newAdminClient(target)
	if err != nil {
		return err
	}
	var in adminapi.Installation
	// The host asks the site which account the credentials belong to and
	// whether it sees a service desk; its error says what to fix.
	if err := c.do("POST", "/admin/installations", adminapi.InstallRequest{SiteURL: *site, AppAccountID: *account, Authorization: auth}, &in); err != nil {
		return err
	}
	if in.SiteURL == "" {
		fmt.Fprintln(stderr, "installed without a Jira site")
	} else {
		fmt.Fprintf(stderr, "installed; the app account is %s\n", in.AppAccountID)
	}
	switch hook := in.JiraWebhookSetup; {
	case hook == nil:
	case hook.Registered:
		fmt.Fprintf(stderr, "the Jira webhook is registered (id %s); nothing to do in Jira's WebHooks page\n", hook.ID)
	case hook.Manual != nil:
		fmt.Fprintf(stderr, "the Jira webhook could not be registered: %s\nregister it by hand (docs/operations.md, section 7):\n  %s\n", hook.Manual.Reason, hook.Manual.Steps)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(in)
}

func runInstallations(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "secret" || args[0] == "rotate-secret") {
		return installationSecret(args[0], args[1:], stdout, stderr)
	}
	fs := newFlags("installations", stderr)
	target := adminFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	c, err := newAdminClient(target)
	if err != nil {
		return err
	}
	var list []adminapi.Installation
	if err := c.do("GET", "/admin/installations", nil, &list); err != nil {
		return err
	}
	// Each with its health: the webhook asked of Jira, the last delivery
	// the host's node received, the credentials' /myself.
	type withHealth struct {
		adminapi.Installation
		Health adminapi.Health `json:"health"`
	}
	out := []withHealth{}
	for _, in := range list {
		v := withHealth{Installation: in}
		if err := c.do("GET", "/admin/installations/"+in.ID+"/health", nil, &v.Health); err != nil {
			return err
		}
		out = append(out, v)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// runResolve calls an admin resolver of an installation (mappings.list,
// mappings.forget, inventory, config.*) and prints its answer.
func runResolve(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("resolve", stderr)
	target := adminFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 || fs.NArg() > 3 {
		fmt.Fprintln(stderr, `usage: chatbridge resolve [flags] INSTALLATION_ID FUNCTION ['{"projectKey":"SUP"}']`)
		return errUsage
	}
	payload := json.RawMessage("{}")
	if fs.NArg() == 3 {
		payload = json.RawMessage(fs.Arg(2))
		if !json.Valid(payload) {
			return fmt.Errorf("the payload is not JSON")
		}
	}
	c, err := newAdminClient(target)
	if err != nil {
		return err
	}
	var out json.RawMessage
	if err := c.do("POST", "/admin/installations/"+fs.Arg(0)+"/resolve/"+fs.Arg(1), payload, &out); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = stdout.Write(buf.Bytes())
	return err
}
