package bridge

import (
	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
)

// The choices an admin picks from when configuring a project: the site's
// service desks with their request types, by name (servicedesks.list), and
// the channels, languages and attachment kinds config.set accepts
// (config.options). A UI shows names and sends back the ids.

// deskChoice is one service desk of servicedesks.list. JSM names a service
// desk after its project.
type deskChoice struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	ProjectKey   string       `json:"projectKey"`
	RequestTypes []typeChoice `json:"requestTypes"`
}

type typeChoice struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type desksInput struct {
	// ProjectKey, when set, keeps only that project's service desks: the
	// only ones config.set accepts for it.
	ProjectKey string `json:"projectKey,omitempty"`
}

// serviceDesksList lists the site's service desks and each one's request
// types, read from Jira with the app's account. A Jira problem is an
// answer with ok:false on serviceDeskId, as in config.set.
func (b *Bridge) serviceDesksList(env *sdk.Env, payload []byte) (answer, error) {
	var in desksInput
	if len(payload) > 0 {
		if err := decodeStrict(payload, &in); err != nil {
			return nil, err
		}
	}
	if in.ProjectKey != "" && !ValidProjectKey(in.ProjectKey) {
		return fieldErrors(map[string]string{"projectKey": "Not a Jira project key."}), nil
	}
	jc := jira.Client{API: env.Jira}
	desks, err := jc.ServiceDesks()
	if err != nil {
		return fieldErrors(map[string]string{"serviceDeskId": jiraProblem(err)}), nil
	}
	out := []deskChoice{}
	for _, d := range desks {
		if in.ProjectKey != "" && d.ProjectKey != in.ProjectKey {
			continue
		}
		types, err := jc.RequestTypes(d.ID)
		if err != nil {
			return fieldErrors(map[string]string{"requestTypeId": jiraProblem(err)}), nil
		}
		c := deskChoice{ID: d.ID, Name: d.ProjectName, ProjectKey: d.ProjectKey, RequestTypes: []typeChoice{}}
		for _, t := range types {
			c.RequestTypes = append(c.RequestTypes, typeChoice{ID: t.ID, Name: t.Name})
		}
		out = append(out, c)
	}
	return okAnswer("serviceDesks", out), nil
}

// configOptions lists the values config.set accepts for channel, language
// and attachmentsIn, and its defaults.
func (b *Bridge) configOptions() answer {
	kinds := make([]string, 0, len(channel.AttachmentKinds))
	for _, k := range channel.AttachmentKinds {
		kinds = append(kinds, string(k))
	}
	return okAnswer("channels", b.kindNames(), "languages", Languages(), "attachmentKinds", kinds,
		"defaultLanguage", DefaultLanguage, "defaultSummaryTemplate", DefaultSummaryTemplate,
		"defaultRetentionDays", DefaultRetentionDays, "maxRetentionDays", maxRetentionDays)
}
