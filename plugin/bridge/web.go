package bridge

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/plaintext"
	"github.com/chatbridge/chatbridge/plugin/channel/web"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// maxOrigins bounds a project's allowed widget origins.
const maxOrigins = 20

// originProblems checks the widget's allowed origins: one to maxOrigins
// serialised origins, "https://shop.example" (http only for loopback, for
// development), none repeated. Its messages name no URL: the egress audit
// reads every https URL in the module as a host it may reach.
func originProblems(origins []string, errs map[string]string) {
	switch {
	case len(origins) == 0:
		errs["allowedOrigins"] = "Name at least one page origin the widget may serve, as browsers send it in their Origin header: https, the page's host, and its port if not 443."
		return
	case len(origins) > maxOrigins:
		errs["allowedOrigins"] = "At most 20 origins."
		return
	}
	for i, o := range origins {
		switch {
		case o == "" || abi.OriginProblem(o) != "":
			errs["allowedOrigins"] = "Not an origin (https://host[:port], lower case, no path): " + quoteShort(o) + "."
		case strings.HasPrefix(o, "http://") && !loopbackOrigin(o):
			errs["allowedOrigins"] = "Only https origins, except loopback for development: " + quoteShort(o) + "."
		case slices.Contains(origins[:i], o):
			errs["allowedOrigins"] = quoteShort(o) + " is listed twice."
		}
	}
}

func loopbackOrigin(o string) bool {
	host := strings.TrimPrefix(o, "http://")
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = h
	}
	return host == "127.0.0.1" || host == "localhost" || strings.HasPrefix(host, "[::1]")
}

// widgetAnswer is a JSON answer to the widget, with the CORS headers of an
// allowed origin.
func widgetAnswer(status uint16, origin string, v any) *abi.Response {
	body, _ := json.Marshal(v)
	return &abi.Response{Status: status, Body: body, Headers: []abi.Header{
		{Name: "Content-Type", Value: "application/json"},
		{Name: "Access-Control-Allow-Origin", Value: origin},
		{Name: "Vary", Value: "Origin"},
		{Name: "Cache-Control", Value: "no-store"},
	}}
}

// historyItem is one entry of the history a widget shows on (re)connect.
type historyItem struct {
	// From is "me" for the customer's own messages, "agent" otherwise.
	From string `json:"from"`
	Text string `json:"text"`
	At   int64  `json:"at,omitempty"` // Unix milliseconds
}

// webWidget serves the website widget's requests (channel web): the
// page's origin must be one of the project's AllowedOrigins, or it gets a
// bare 403 without CORS headers, which a browser does not let it read.
// A "session" request gets a new session, a "connect" a realtime token for
// the session's chat and the history of its request read from Jira (never
// from the store), a "send" is queued as the messengers' messages are.
func (b *Bridge) webWidget(env *sdk.Env, req *abi.WebTriggerRequest, log *slog.Logger, kind Kind, name, project string, cfg Config, found bool) *abi.Response {
	origin := abi.Get(req.Headers, "origin")
	if !found || !cfg.Enabled {
		return respond(404)
	}
	if origin == "" || !slices.Contains(cfg.AllowedOrigins, origin) {
		log.Warn("widget: a page of an origin not allowed; refused")
		return respond(403)
	}
	if req.Method != "POST" {
		return widgetAnswer(405, origin, map[string]any{"ok": false})
	}
	if ct := abi.Get(req.Headers, "content-type"); strings.HasPrefix(strings.ToLower(ct), "multipart/form-data") {
		return b.webUpload(env, req, log, kind, project, cfg, origin, ct)
	}
	r, err := web.ReadRequest(req.Body)
	switch {
	case errors.Is(err, web.ErrTooLong):
		return widgetAnswer(413, origin, map[string]any{"ok": false, "error": "too long"})
	case err != nil:
		return widgetAnswer(400, origin, map[string]any{"ok": false, "error": "not understood"})
	}
	switch r.Op {
	case "session":
		return widgetAnswer(200, origin, map[string]any{"ok": true, "session": web.NewSession()})
	case "connect":
		return b.webConnect(env, req, log, project, cfg, origin, web.ChatOf(r.Session))
	}
	ch := kind.New(env, cfg.secrets())
	events, err := ch.Parse(req.Body)
	if err != nil || len(events) != 1 {
		return widgetAnswer(400, origin, map[string]any{"ok": false, "error": "not understood"})
	}
	if resp := b.queueEvents(env, log, ch, kind, project, name, events); resp != nil {
		return widgetAnswer(resp.Status, origin, map[string]any{"ok": false})
	}
	return widgetAnswer(200, origin, map[string]any{"ok": true})
}

// webConnect signs the realtime token of a chat for the page's origin and
// reads the chat's request history from Jira: its description and public
// comments; internal notes are never asked for.
func (b *Bridge) webConnect(env *sdk.Env, req *abi.WebTriggerRequest, log *slog.Logger, project string, cfg Config, origin, chat string) *abi.Response {
	token, err := env.Realtime.SignToken(web.RealtimeChannel(chat), origin, 0)
	switch {
	case errors.Is(err, sdk.ErrLimitExceeded):
		return widgetAnswer(429, origin, map[string]any{"ok": false, "error": "busy"})
	case err != nil:
		log.Error("widget: realtime token not signed", "err", err)
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	}
	history := []historyItem{}
	var rec chatRecord
	found, err := store{env.Storage}.get(chatKey(project, web.Name, chat), &rec)
	if err != nil {
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	}
	if found && rec.Issue != "" {
		jc := jira.Client{API: env.Jira}
		desc, comments, err := jc.PublicHistory(rec.Issue)
		if err != nil {
			log.Warn("widget: history not read from Jira", "err", err)
			return widgetAnswer(503, origin, map[string]any{"ok": false})
		}
		if t := plaintext.Text(channel.Content{Wiki: desc}); strings.TrimSpace(t) != "" {
			history = append(history, historyItem{From: "me", Text: t})
		}
		for _, c := range comments {
			from := "agent"
			if c.AuthorID != "" && c.AuthorID == req.Context.AppAccountID {
				from = "me"
			}
			history = append(history, historyItem{From: from, Text: plaintext.Text(channel.Content{Wiki: c.Body}), At: c.Created})
		}
	}
	return widgetAnswer(200, origin, map[string]any{"ok": true, "token": token, "history": history})
}

// webUpload attaches a customer's file to the session's open request,
// through the service desk's temporary attachment and attach calls, at
// once: a file does not fit the queue (200 KiB), and the module keeps no
// copy of it. A chat without an open request is told to write first; a
// retried upload (the same widget id) attaches once.
func (b *Bridge) webUpload(env *sdk.Env, req *abi.WebTriggerRequest, log *slog.Logger, kind Kind, project string, cfg Config, origin, contentType string) *abi.Response {
	u, err := web.ReadUpload(contentType, req.Body)
	switch {
	case errors.Is(err, web.ErrTooLong):
		return widgetAnswer(413, origin, map[string]any{"ok": false, "error": "too large"})
	case err != nil:
		return widgetAnswer(400, origin, map[string]any{"ok": false, "error": "not understood"})
	case !cfg.accepts(u.Kind()):
		return widgetAnswer(415, origin, map[string]any{"ok": false, "error": "not accepted"})
	}
	chat := web.ChatOf(u.Session)
	st := store{env.Storage}
	var rec chatRecord
	found, err := st.get(chatKey(project, web.Name, chat), &rec)
	if err != nil {
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	}
	if !found || rec.Issue == "" || rec.Blocked {
		return widgetAnswer(409, origin, map[string]any{"ok": false, "error": "write first"})
	}
	key := inboundDedupeKey(kind.Short, project, chat+":"+u.ID)
	nonce := newNonce()
	won, held, err := st.claimOrPeek(key, nonce)
	switch {
	case err != nil:
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	case !won && held.Done:
		return widgetAnswer(200, origin, map[string]any{"ok": true})
	case !won:
		return widgetAnswer(409, origin, map[string]any{"ok": false, "error": "in progress"})
	}
	jc := jira.Client{API: env.Jira}
	ids, err := jc.AttachTemporaryFile(cfg.ServiceDeskID, u.FileName, u.MIME, u.Data)
	if err == nil {
		// As a messenger's file without a caption: the file alone.
		_, err = jc.Attach(rec.Issue, ids, true, "")
	}
	if err != nil {
		_ = st.del(key)
		log.Warn("widget: upload not attached", "err", err)
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	}
	if err := st.put(key, progress{Owner: nonce, Done: true}, DedupeTTL); err != nil {
		log.Warn("widget: upload attached; its record not saved", "err", err)
	}
	log.Info("widget: upload attached", "bytes", len(u.Data))
	return widgetAnswer(200, origin, map[string]any{"ok": true})
}
