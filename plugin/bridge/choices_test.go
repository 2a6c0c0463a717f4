package bridge

import (
	"errors"
	"fmt"
	"testing"

	"github.com/chatbridge/chatbridge/wit/abi"
)

func TestServiceDesksListNamesEachDeskAndItsRequestTypes(t *testing.T) {
	h := newHarness(t)
	a, err := h.resolve("servicedesks.list", map[string]any{})
	if err != nil || a["ok"] != true {
		t.Fatalf("servicedesks.list: %v %v", a, err)
	}
	got := fmt.Sprint(a["serviceDesks"])
	want := "[map[id:1 name:IT Help projectKey:IT requestTypes:[map[id:11 name:Get help] map[id:12 name:Report a delivery problem]]] " +
		"map[id:2 name:Acme Support projectKey:SUP requestTypes:[map[id:11 name:Get help] map[id:12 name:Report a delivery problem]]]]"
	if got != want {
		t.Errorf("service desks\n got %s\nwant %s", got, want)
	}
}

func TestServiceDesksListKeepsOnlyTheProjectsDesks(t *testing.T) {
	h := newHarness(t)
	a, err := h.resolve("servicedesks.list", map[string]any{"projectKey": "SUP"})
	if err != nil || a["ok"] != true {
		t.Fatalf("servicedesks.list: %v %v", a, err)
	}
	desks := a["serviceDesks"].([]any)
	if len(desks) != 1 || desks[0].(map[string]any)["id"] != "2" {
		t.Errorf("desks of SUP: %v", desks)
	}
	// The desk and request type it lists are the ones config.set accepts.
	d := desks[0].(map[string]any)
	rt := d["requestTypes"].([]any)[1].(map[string]any)
	h.configure(map[string]any{"serviceDeskId": d["id"], "requestTypeId": rt["id"]})
}

func TestServiceDesksListRefusesBadInputAndReportsJiraProblems(t *testing.T) {
	h := newHarness(t)
	if _, err := h.resolve("servicedesks.list", map[string]any{"projectKey": "SUP", "extra": 1}); !errors.Is(err, abi.InvalidArgument) {
		t.Errorf("unknown field: %v", err)
	}
	a, err := h.resolve("servicedesks.list", map[string]any{"projectKey": "not a key"})
	if err != nil || a["ok"] != false || a["errors"].(map[string]any)["projectKey"] == nil {
		t.Errorf("bad project key: %v %v", a, err)
	}
	h.jira.fail("GET", "/rest/servicedeskapi/servicedesk", 503, 1)
	a, err = h.resolve("servicedesks.list", map[string]any{})
	if err != nil || a["ok"] != false || a["errors"].(map[string]any)["serviceDeskId"] != "Jira is busy or unavailable; try again in a minute." {
		t.Errorf("Jira 503: %v %v", a, err)
	}
	h.jira.fail("GET", "/rest/servicedeskapi/servicedesk/2/requesttype", 403, 1)
	a, err = h.resolve("servicedesks.list", map[string]any{"projectKey": "SUP"})
	if err != nil || a["ok"] != false || a["errors"].(map[string]any)["requestTypeId"] == nil {
		t.Errorf("Jira 403 on request types: %v %v", a, err)
	}
}

func TestConfigOptionsListWhatConfigSetAccepts(t *testing.T) {
	h := newHarness(t)
	a, err := h.resolve("config.options", map[string]any{})
	if err != nil || a["ok"] != true {
		t.Fatalf("config.options: %v %v", a, err)
	}
	if got := fmt.Sprint(a["languages"]); got != fmt.Sprint(Languages()) {
		t.Errorf("languages %s", got)
	}
	if got := fmt.Sprint(a["attachmentKinds"]); got != "[photo document voice video sticker]" {
		t.Errorf("attachment kinds %s", got)
	}
	chans := a["channels"].([]any)
	if len(chans) == 0 {
		t.Fatal("no channels")
	}
	// Every language it offers is one config.set takes.
	for _, l := range a["languages"].([]any) {
		h.configure(map[string]any{"language": l})
	}
}
