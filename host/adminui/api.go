package adminui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// apiClient calls the admin API in process, with the admin token.
type apiClient struct {
	h     http.Handler
	token string
}

// errAPI is an answer of the admin API other than the one expected.
var errAPI = errors.New("adminui: admin API")

// recorder is the ResponseWriter an in-process call writes to.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// do calls method path with in as JSON (when not nil) and decodes a 2xx
// answer into out (when not nil). Another status is an error carrying the
// API's message.
func (c apiClient) do(ctx context.Context, method, path string, in, out any) error {
	rec, err := c.call(ctx, method, path, in)
	if err != nil {
		return err
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("%w: %s: %v", errAPI, method, err)
		}
	}
	return nil
}

// call calls method path with in as JSON (when not nil) and returns a 2xx
// answer as it came: its headers and exact body. Another status is an
// error carrying the API's message.
func (c apiClient) call(ctx context.Context, method, path string, in any) (*recorder, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	rec := &recorder{header: http.Header{}}
	c.h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &e)
		if e.Error == "" {
			e.Error = http.StatusText(rec.status)
		}
		return nil, fmt.Errorf("%w: %s %d: %s", errAPI, method, rec.status, e.Error)
	}
	return rec, nil
}

// resolve calls one of the module's resolvers for an installation.
func (c apiClient) resolve(ctx context.Context, installation, function string, in, out any) error {
	return c.do(ctx, http.MethodPost, "/admin/installations/"+url.PathEscape(installation)+"/resolve/"+url.PathEscape(function), in, out)
}

// The admin API's answers, as far as the UI shows them.

type installation struct {
	ID          string            `json:"id"`
	SiteURL     string            `json:"siteUrl"`
	WebTriggers map[string]string `json:"webTriggers"`
	JiraWebhook string            `json:"jiraWebhookUrl"`
}

// health is GET /admin/installations/{id}/health (adminapi.Health).
type health struct {
	Webhook          string     `json:"webhook"`
	LastJiraDelivery *time.Time `json:"lastJiraDelivery"`
	Credentials      string     `json:"credentials"`
}

// webhookSecret is the answer of GET .../webhook-secret and POST
// .../webhook-secret/rotate (adminapi.WebhookSecret).
type webhookSecret struct {
	JiraWebhookURL     string     `json:"jiraWebhookUrl"`
	JiraWebhookSecret  string     `json:"jiraWebhookSecret"`
	PreviousValidUntil *time.Time `json:"previousValidUntil"`
	JiraWebhook        *struct {
		Registered bool   `json:"registered"`
		ID         string `json:"id"`
		Manual     *struct {
			Reason string   `json:"reason"`
			Steps  string   `json:"steps"`
			URL    string   `json:"url"`
			Events []string `json:"events"`
			JQL    string   `json:"jql"`
		} `json:"manual"`
	} `json:"jiraWebhook"`
}

type queueView struct {
	Stats struct {
		Pending      int64 `json:"pending"`
		Delivered    int64 `json:"delivered"`
		Retried      int64 `json:"retried"`
		DeadLettered int64 `json:"deadLettered"`
		DeadLetters  int64 `json:"deadLetters"`
	} `json:"stats"`
	DeadLetters []struct {
		ID           string    `json:"id"`
		Installation string    `json:"installation"`
		Queue        string    `json:"queue"`
		Attempts     int       `json:"attempts"`
		Pushed       time.Time `json:"pushed"`
		FailedAt     time.Time `json:"failedAt"`
		LastError    string    `json:"lastError"`
	} `json:"deadLetters"`
	// Cluster is the whole cluster's queue, on a node of one.
	Cluster *struct {
		Pending       int64 `json:"pending"`
		Lanes         int   `json:"lanes"`
		Installations []struct {
			Installation string `json:"installation"`
			Pending      int64  `json:"pending"`
			Lanes        int    `json:"lanes"`
			DeadLetters  int    `json:"deadLetters"`
		} `json:"installations"`
		Nodes []struct {
			Node  string `json:"node"`
			Self  bool   `json:"self"`
			Stats struct {
				Pending      int64 `json:"pending"`
				Delivered    int64 `json:"delivered"`
				Retried      int64 `json:"retried"`
				DeadLettered int64 `json:"deadLettered"`
			} `json:"stats"`
		} `json:"nodes"`
	} `json:"cluster"`
}

// The resolvers' answers (plugin/bridge): ok, or per-field errors.

type answer struct {
	OK     bool              `json:"ok"`
	Errors map[string]string `json:"errors"`
}

type projectConfig struct {
	ProjectKey        string   `json:"projectKey"`
	Enabled           bool     `json:"enabled"`
	Channel           string   `json:"channel"`
	ServiceDeskID     string   `json:"serviceDeskId"`
	RequestTypeID     string   `json:"requestTypeId"`
	SummaryTemplate   string   `json:"summaryTemplate"`
	Greeting          string   `json:"greeting"`
	ResolutionMessage string   `json:"resolutionMessage"`
	AttachmentsIn     []string `json:"attachmentsIn"`
	AttachmentsOut    bool     `json:"attachmentsOut"`
	RelayReactions    bool     `json:"relayReactions"`
	Language          string   `json:"language"`
	RetentionDays     int      `json:"retentionDays"`
	Bot               string   `json:"bot"`
	TokenSet          bool     `json:"tokenSet"`
}

type configAnswer struct {
	answer
	Config projectConfig `json:"config"`
}

type configList struct {
	answer
	Configs []projectConfig `json:"configs"`
}

type options struct {
	answer
	Channels               []string `json:"channels"`
	Languages              []string `json:"languages"`
	AttachmentKinds        []string `json:"attachmentKinds"`
	DefaultLanguage        string   `json:"defaultLanguage"`
	DefaultSummaryTemplate string   `json:"defaultSummaryTemplate"`
	DefaultRetentionDays   int      `json:"defaultRetentionDays"`
	MaxRetentionDays       int      `json:"maxRetentionDays"`
}

type serviceDesks struct {
	answer
	ServiceDesks []struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		ProjectKey   string `json:"projectKey"`
		RequestTypes []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"requestTypes"`
	} `json:"serviceDesks"`
}

type mappings struct {
	answer
	Mappings []struct {
		IssueKey     string `json:"issueKey"`
		Channel      string `json:"channel"`
		Chat         string `json:"chat"`
		Open         bool   `json:"open"`
		Resolved     bool   `json:"resolved"`
		LastActivity string `json:"lastActivity"`
		ExpiresAt    string `json:"expiresAt"`
	} `json:"mappings"`
	Next string `json:"next"`
}

type inventoryRow struct {
	Kind             string `json:"kind"`
	Holds            string `json:"holds"`
	Lifetime         string `json:"lifetime"`
	Sealed           bool   `json:"sealed"`
	Count            int    `json:"count"`
	OldestAgeSeconds int64  `json:"oldestAgeSeconds"`
	Undated          int    `json:"undated"`
}

type inventory struct {
	answer
	Kinds   []inventoryRow `json:"kinds"`
	Unknown int            `json:"unknown"`
}
