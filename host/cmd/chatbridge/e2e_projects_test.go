package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
)

func TestProjectsCLIPicksServiceDeskAndRequestTypeByNameAndSaysWhatIsValid(t *testing.T) {
	t.Parallel()
	k := startKillable(t)
	var list []struct{ ID string }
	if code := stacktest.AdminCall(t, k.adminURL, k.token, "GET", "/admin/installations", &list); code != 200 || len(list) != 1 {
		t.Fatalf("installations: %d %v", code, list)
	}
	inst := list[0].ID
	cli := func(args ...string) (string, error) {
		t.Helper()
		return chatbridge(t, append(append([]string{"projects"}, args[0], "-admin", k.adminURL, "-data", k.Data), args[1:]...)...)
	}
	type cfg struct {
		ProjectKey, ServiceDeskID, RequestTypeID, Greeting string
		TokenSet                                           bool
	}
	show := func() cfg {
		t.Helper()
		out, err := cli("show", inst, "SUP")
		var c cfg
		if err != nil || json.Unmarshal([]byte(out), &c) != nil {
			t.Fatalf("projects show: %v\n%s", err, out)
		}
		return c
	}

	out, err := cli("list", inst)
	if err != nil || !strings.Contains(out, `"projectKey": "SUP"`) {
		t.Fatalf("projects list: %v\n%s", err, out)
	}
	out, err = cli("set", inst, "SUP", "-service-desk", "support", "-request-type", "get it help", "-greeting", "Hi from the CLI")
	if err != nil {
		t.Fatalf("projects set by name: %v\n%s", err, out)
	}
	if c := show(); c.ServiceDeskID != "1" || c.RequestTypeID != "10" || c.Greeting != "Hi from the CLI" || !c.TokenSet {
		t.Fatalf("after set by name: %+v", c)
	}

	// Names that do not exist: the error lists the valid ones, nothing is saved.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-request-type", "Broken printer", "-greeting", "lost"}, `no request type "Broken printer" in service desk "Support" (SUP); it offers: "Get IT help" (id 10)`},
		{[]string{"-service-desk", "Sales", "-greeting", "lost"}, `no service desk "Sales"; the app account sees: "Support" (key SUP, id 1)`},
		{[]string{"-enabled", "maybe"}, "-enabled: want true or false"},
		{[]string{"-language", "xx"}, "language"},
	} {
		out, err := cli(append([]string{"set", inst, "SUP"}, c.args...)...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("projects set %v: %v\n%s\nwant %q", c.args, err, out, c.want)
		}
	}
	if c := show(); c.Greeting != "Hi from the CLI" || c.RequestTypeID != "10" {
		t.Fatalf("a refused set changed the settings: %+v", c)
	}
	// By id too, and only the given fields change.
	if out, err := cli("set", inst, "SUP", "-service-desk", "1", "-request-type", "10"); err != nil {
		t.Fatalf("projects set by id: %v\n%s", err, out)
	}
	if c := show(); c.Greeting != "Hi from the CLI" || c.ServiceDeskID != "1" {
		t.Fatalf("after set by id: %+v", c)
	}
	if out, err := cli("show", inst, "NOPE"); err == nil || !strings.Contains(out, "no chat configuration") {
		t.Fatalf("projects show of an unconfigured project: %v\n%s", err, out)
	}
	if out, err := cli("delete", inst, "SUP"); err != nil || !strings.Contains(out, "deleted the settings of SUP") {
		t.Fatalf("projects delete: %v\n%s", err, out)
	}
	if out, err := cli("list", inst); err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("projects list after delete: %v\n%s", err, out)
	}
}
