package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/chatbridge/chatbridge/host/jirasite"
)

// runProjects is `chatbridge projects`: a project's bridge settings, over
// the bridge's config.* admin functions, with the service desk and the
// request type given by name or id.
func runProjects(args []string, stdout, stderr io.Writer) error {
	return subcommands("projects", []command{
		{name: "list", summary: "list the configured projects of an installation", run: projectsList},
		{name: "show", summary: "show one project's settings (no secrets)", run: projectsShow},
		{name: "set", summary: "create or change a project's settings", run: projectsSet},
		{name: "delete", summary: "delete a project's settings and bot token, unregistering its bot's webhook", run: projectsDelete},
	}, args, stdout, stderr)
}

// projectArgs parses the common flags and the positional arguments
// INSTALLATION_ID [PROJECT_KEY].
func projectArgs(name string, args []string, stderr io.Writer, withProject bool, more func(*flag.FlagSet)) (*adminClient, []string, *flag.FlagSet, error) {
	fs := newFlags("projects "+name, stderr)
	target := adminFlags(fs)
	if more != nil {
		more(fs)
	}
	usage := "usage: chatbridge projects " + name + " [flags] INSTALLATION_ID"
	want := 1
	if withProject {
		usage += " PROJECT_KEY"
		want = 2
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	// Flags may come before and after the positional arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != want {
		fs.Usage()
		return nil, nil, nil, errUsage
	}
	c, err := newAdminClient(target)
	return c, pos, fs, err
}

// resolveFn calls an installation's admin function and fails on ok:false
// with the bridge's per-field messages.
func (c *adminClient) resolveFn(inst, fn string, payload any) (map[string]json.RawMessage, error) {
	var out map[string]json.RawMessage
	if err := c.do("POST", "/admin/installations/"+inst+"/resolve/"+fn, payload, &out); err != nil {
		return nil, err
	}
	if string(out["ok"]) != "true" {
		var errs map[string]string
		_ = json.Unmarshal(out["errors"], &errs)
		var b strings.Builder
		for field, msg := range errs {
			fmt.Fprintf(&b, "\n  %s: %s", field, msg)
		}
		return out, fmt.Errorf("refused, nothing saved:%s", b.String())
	}
	return out, nil
}

func printJSON(w io.Writer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func projectsList(args []string, stdout, stderr io.Writer) error {
	c, pos, _, err := projectArgs("list", args, stderr, false, nil)
	if err != nil {
		return err
	}
	out, err := c.resolveFn(pos[0], "config.list", struct{}{})
	if err != nil {
		return err
	}
	return printJSON(stdout, out["configs"])
}

func projectsShow(args []string, stdout, stderr io.Writer) error {
	c, pos, _, err := projectArgs("show", args, stderr, true, nil)
	if err != nil {
		return err
	}
	out, err := c.resolveFn(pos[0], "config.get", map[string]string{"projectKey": pos[1]})
	if err != nil {
		return err
	}
	return printJSON(stdout, out["config"])
}

func projectsDelete(args []string, stdout, stderr io.Writer) error {
	c, pos, _, err := projectArgs("delete", args, stderr, true, nil)
	if err != nil {
		return err
	}
	if _, err := c.resolveFn(pos[0], "config.delete", map[string]string{"projectKey": pos[1]}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted the settings of %s\n", pos[1])
	return nil
}

// setFlags are projects set's flags; only those given are sent, so the
// others keep their saved values.
type setFlags struct {
	serviceDesk, requestType, tokenEnv string
	channel, summary, greeting         string
	resolution, language, attachIn     string
	enabled, attachOut                 string
	retention                          int
}

func projectsSet(args []string, stdout, stderr io.Writer) error {
	var f setFlags
	c, pos, fs, err := projectArgs("set", args, stderr, true, func(fs *flag.FlagSet) {
		fs.StringVar(&f.serviceDesk, "service-desk", "", "the service desk, by project name, project key or id (default: the one of PROJECT_KEY on a first save)")
		fs.StringVar(&f.requestType, "request-type", "", "the request type new conversations open, by name or id")
		fs.StringVar(&f.tokenEnv, "bot-token-env", "", "environment variable holding the channel's bot token (never a flag: it would show in the process list)")
		fs.StringVar(&f.channel, "channel", "", "telegram, viber or whatsapp")
		fs.StringVar(&f.enabled, "enabled", "", "true or false")
		fs.StringVar(&f.summary, "summary-template", "", "a new request's summary; {name} and {text}")
		fs.StringVar(&f.greeting, "greeting", "", "sent to a customer who starts a conversation")
		fs.StringVar(&f.resolution, "resolution-message", "", "sent when the request is resolved")
		fs.StringVar(&f.language, "language", "", "en or de")
		fs.StringVar(&f.attachIn, "attachments-in", "", "customer file kinds attached to the request, comma-separated (photo,document,voice,video,sticker); - for none")
		fs.StringVar(&f.attachOut, "attachments-out", "", "true or false: send agents' public attachments")
		fs.IntVar(&f.retention, "retention-days", 0, "days a resolved request's mapping is kept")
	})
	if err != nil {
		return err
	}
	inst, project := pos[0], pos[1]
	body := map[string]any{"projectKey": project}
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for name, field := range map[string]string{"channel": "channel", "summary-template": "summaryTemplate", "greeting": "greeting",
		"resolution-message": "resolutionMessage", "language": "language"} {
		if given[name] {
			body[field] = fs.Lookup(name).Value.String()
		}
	}
	for name, field := range map[string]string{"enabled": "enabled", "attachments-out": "attachmentsOut"} {
		if given[name] {
			v, err := strconv.ParseBool(fs.Lookup(name).Value.String())
			if err != nil {
				return fmt.Errorf("-%s: want true or false", name)
			}
			body[field] = v
		}
	}
	if given["retention-days"] {
		body["retentionDays"] = f.retention
	}
	if given["attachments-in"] {
		kinds := []string{}
		if f.attachIn != "-" {
			for _, k := range strings.Split(f.attachIn, ",") {
				if k = strings.TrimSpace(k); k != "" {
					kinds = append(kinds, k)
				}
			}
		}
		body["attachmentsIn"] = kinds
	}
	if f.tokenEnv != "" {
		tok := os.Getenv(f.tokenEnv)
		if tok == "" {
			return fmt.Errorf("-bot-token-env: the environment variable %s is empty", f.tokenEnv)
		}
		body["botToken"] = tok
	}
	// The service desk and request type by name: asked of JSM through the
	// host, with the installation's credentials.
	if given["service-desk"] || given["request-type"] {
		sd, err := c.serviceDesk(inst, project, f.serviceDesk)
		if err != nil {
			return err
		}
		body["serviceDeskId"] = sd.ID
		if given["request-type"] {
			rt, err := c.requestType(inst, sd, f.requestType)
			if err != nil {
				return err
			}
			body["requestTypeId"] = rt.ID
		}
	}
	out, err := c.resolveFn(inst, "config.set", body)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "saved the settings of %s\n", project)
	return printJSON(stdout, out["config"])
}

// serviceDesk finds a service desk by project name, project key or id;
// with no name, the project's own (by key), else the saved one.
func (c *adminClient) serviceDesk(inst, project, name string) (jirasite.ServiceDesk, error) {
	var desks []jirasite.ServiceDesk
	if err := c.do("GET", "/admin/installations/"+inst+"/servicedesks", nil, &desks); err != nil {
		return jirasite.ServiceDesk{}, err
	}
	want := name
	if want == "" {
		var cfg struct {
			ServiceDeskID string `json:"serviceDeskId"`
		}
		if out, err := c.resolveFn(inst, "config.get", map[string]string{"projectKey": project}); err == nil {
			_ = json.Unmarshal(out["config"], &cfg)
		}
		want = cfg.ServiceDeskID
		if want == "" {
			want = project
		}
	}
	var names []string
	for _, d := range desks {
		if d.ID == want || strings.EqualFold(d.ProjectName, want) || strings.EqualFold(d.ProjectKey, want) {
			return d, nil
		}
		names = append(names, fmt.Sprintf("%q (key %s, id %s)", d.ProjectName, d.ProjectKey, d.ID))
	}
	if len(names) == 0 {
		return jirasite.ServiceDesk{}, fmt.Errorf("the app account sees no service desk: add it to the service project's team")
	}
	return jirasite.ServiceDesk{}, fmt.Errorf("no service desk %q; the app account sees: %s", want, strings.Join(names, ", "))
}

// requestType finds one of the service desk's request types by name or id.
func (c *adminClient) requestType(inst string, sd jirasite.ServiceDesk, name string) (jirasite.RequestType, error) {
	var types []jirasite.RequestType
	if err := c.do("GET", "/admin/installations/"+inst+"/servicedesks/"+sd.ID+"/requesttypes", nil, &types); err != nil {
		return jirasite.RequestType{}, err
	}
	var names []string
	for _, t := range types {
		if t.ID == name || strings.EqualFold(t.Name, name) {
			return t, nil
		}
		names = append(names, fmt.Sprintf("%q (id %s)", t.Name, t.ID))
	}
	return jirasite.RequestType{}, fmt.Errorf("no request type %q in service desk %q (%s); it offers: %s", name, sd.ProjectName, sd.ProjectKey, strings.Join(names, ", "))
}
