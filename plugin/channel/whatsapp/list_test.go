package whatsapp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
)

func listReply(id, title string) map[string]any {
	return map[string]any{"from": annaWaID, "id": "wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjBUTjI=", "timestamp": "1700000000", "type": "interactive",
		"context":     map[string]any{"from": "15550783881", "id": "wamid.SIM2=="},
		"interactive": map[string]any{"type": "list_reply", "list_reply": map[string]any{"id": id, "title": title, "description": ""}}}
}

// A row chosen from the bridge's list is a Chosen event carrying the row's
// id; a list_reply whose id the bridge could not have sent stays a message
// with its title.
func TestAListChoiceIsAChosenEvent(t *testing.T) {
	env := sdktest.NewEnv()
	ch := New(env.Env, setup(env))
	evs, err := ch.Parse(delivery(change(phoneID, listReply("rt:12", "Report a problem"))))
	if err != nil || len(evs) != 1 || evs[0].Kind != channel.Chosen || evs[0].Choice != "rt:12" || evs[0].ChatID != annaWaID || evs[0].Plain != "" {
		t.Fatalf("%v %+v", err, evs)
	}
	evs, err = ch.Parse(delivery(change(phoneID, listReply("a row of another tool", "Shipping"))))
	if err != nil || len(evs) != 1 || evs[0].Kind != channel.Message || evs[0].Plain != "Shipping" {
		t.Errorf("%v %+v", err, evs)
	}
}

func TestSendListSendsOneSectionOfRows(t *testing.T) {
	env := sdktest.NewEnv()
	env.HTTP.Handler = answer(nil)
	ch := New(env.Env, setup(env))
	choices := []channel.Choice{{Label: "Get IT help", Data: "rt:11"}, {Label: "Report a delivery problem with a parcel", Data: "rt:12"}}
	if err := ch.SendList(annaWaID, "What is your message about?", "Choose a topic", choices); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Type        string `json:"type"`
		Interactive struct {
			Type   string                `json:"type"`
			Body   struct{ Text string } `json:"body"`
			Action struct {
				Button   string `json:"button"`
				Sections []struct {
					Rows []struct{ ID, Title string } `json:"rows"`
				} `json:"sections"`
			} `json:"action"`
		} `json:"interactive"`
	}
	if err := json.Unmarshal(env.HTTP.Requests()[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	a := m.Interactive.Action
	if m.Type != "interactive" || m.Interactive.Type != "list" || m.Interactive.Body.Text != "What is your message about?" || a.Button != "Choose a topic" ||
		len(a.Sections) != 1 || len(a.Sections[0].Rows) != 2 || a.Sections[0].Rows[1].ID != "rt:12" || len([]rune(a.Sections[0].Rows[1].Title)) != MaxRowTitle {
		t.Fatalf("%s", env.HTTP.Requests()[0].Body)
	}
	eleven := make([]channel.Choice, 11)
	for i := range eleven {
		eleven[i] = channel.Choice{Label: "T" + strings.Repeat("x", i), Data: "rt:" + strings.Repeat("1", i+1)}
	}
	for name, bad := range map[string][]channel.Choice{"none": nil, "eleven": eleven, "same title": {{Label: "A", Data: "a"}, {Label: "A", Data: "b"}}} {
		if err := ch.SendList(annaWaID, "?", "Choose", bad); err == nil {
			t.Errorf("%s: sent", name)
		}
	}
	if err := ch.SendList(annaWaID, "?", " ", choices); err == nil {
		t.Error("a list without a button label was sent")
	}
	if n := len(env.HTTP.Requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
}

func TestSendTemplateNamesTheApprovedTemplate(t *testing.T) {
	env := sdktest.NewEnv()
	env.HTTP.Handler = answer(nil)
	ch := New(env.Env, setup(env))
	id, err := ch.SendTemplate(annaWaID, channel.Template{Name: "support_reply_waiting", Language: "en_US", Params: []string{"SUP-7"}})
	if err != nil || id == "" {
		t.Fatalf("%q %v", id, err)
	}
	var m struct {
		Type     string `json:"type"`
		To       string `json:"to"`
		Template struct {
			Name     string `json:"name"`
			Language struct {
				Policy, Code string
			} `json:"language"`
			Components []struct {
				Type       string                        `json:"type"`
				Parameters []struct{ Type, Text string } `json:"parameters"`
			} `json:"components"`
		} `json:"template"`
	}
	if err := json.Unmarshal(env.HTTP.Requests()[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	tp := m.Template
	if m.Type != "template" || m.To != annaWaID || tp.Name != "support_reply_waiting" || tp.Language.Policy != "deterministic" || tp.Language.Code != "en_US" ||
		len(tp.Components) != 1 || tp.Components[0].Type != "body" || tp.Components[0].Parameters[0] != (struct{ Type, Text string }{"text", "SUP-7"}) {
		t.Fatalf("%s", env.HTTP.Requests()[0].Body)
	}
	for _, bad := range []channel.Template{{Name: "Has Spaces", Language: "en"}, {Name: "ok", Language: "english"}} {
		if _, err := ch.SendTemplate(annaWaID, bad); err == nil {
			t.Errorf("%+v sent", bad)
		}
	}
	if n := len(env.HTTP.Requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
}
