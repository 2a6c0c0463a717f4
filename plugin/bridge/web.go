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
// from the store), a "send" is queued as the messengers' messages are, an
// "upload" gets an upload link for a file and an "attach" attaches what
// the link received.
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
	case "upload":
		return b.webUploadLink(env, log, project, cfg, origin, r)
	case "attach":
		return b.webAttach(env, log, kind, project, cfg, origin, r)
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

// openRequest is the chat's record when the chat has an open request a
// file may go to; else the answer to give: 409 "write first" (a file
// before the first message has no request to go to), 503 when the store
// fails.
func (b *Bridge) openRequest(env *sdk.Env, project, chat, origin string) (chatRecord, *abi.Response) {
	var rec chatRecord
	found, err := store{env.Storage}.get(chatKey(project, web.Name, chat), &rec)
	switch {
	case err != nil:
		return rec, widgetAnswer(503, origin, map[string]any{"ok": false})
	case !found || rec.Issue == "" || rec.Blocked:
		return rec, widgetAnswer(409, origin, map[string]any{"ok": false, "error": "write first"})
	}
	return rec, nil
}

// webUploadLink answers an "upload" with a single-use upload link of the
// host (jira.upload-link) for the page's origin, the project's service
// desk and the file's id: the page sends the file there, and the host
// streams it to the service desk's temporary attachments; the module never
// holds its bytes. The link's subject is a hash of the chat and the file
// id (web.UploadSubject), which webAttach checks, and its size is the
// file's as the page announced it (File.size, exact in a browser).
func (b *Bridge) webUploadLink(env *sdk.Env, log *slog.Logger, project string, cfg Config, origin string, r web.Request) *abi.Response {
	if !cfg.accepts(r.Kind()) {
		return widgetAnswer(415, origin, map[string]any{"ok": false, "error": "not accepted"})
	}
	chat := web.ChatOf(r.Session)
	if _, resp := b.openRequest(env, project, chat, origin); resp != nil {
		return resp
	}
	linker, ok := env.Jira.(sdk.UploadLinker)
	if !ok {
		log.Warn("widget: this host hands out no upload links")
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	}
	// The link takes the size the page announced and not a byte more.
	// It is bound to the type the kinds were checked against: the host
	// sends the file to Jira as that type, whatever the form says.
	link, err := linker.UploadLink(cfg.ServiceDeskID, origin, web.UploadSubject(chat, r.ID), r.MIME, r.Size, 0)
	switch {
	case errors.Is(err, sdk.ErrLimitExceeded):
		return widgetAnswer(429, origin, map[string]any{"ok": false, "error": "busy"})
	case errors.Is(err, sdk.ErrInvalidArgument):
		// Over the bundle's app.uploads.maxBytes, which may be below
		// web.MaxUpload.
		return widgetAnswer(413, origin, map[string]any{"ok": false, "error": "too large"})
	case err != nil:
		log.Warn("widget: upload link not minted", "err", err)
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	}
	return widgetAnswer(200, origin, map[string]any{"ok": true, "link": link})
}

// webAttach attaches the file an upload link received to the session's
// open request (POST /rest/servicedeskapi/request/{key}/attachment), once:
// a retried attach (the same widget id) finds the dedupe record of
// messages and attaches nothing more. The link's result must carry this
// chat's and this file id's subject; any other link, one not yet used and
// one whose result is gone are all 404, so a session cannot attach
// another's file.
func (b *Bridge) webAttach(env *sdk.Env, log *slog.Logger, kind Kind, project string, cfg Config, origin string, r web.Request) *abi.Response {
	chat := web.ChatOf(r.Session)
	rec, resp := b.openRequest(env, project, chat, origin)
	if resp != nil {
		return resp
	}
	linker, ok := env.Jira.(sdk.UploadLinker)
	if !ok {
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	}
	st := store{env.Storage}
	key := inboundDedupeKey(kind.Short, project, chat+":"+r.ID)
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
	res, err := linker.UploadResult(r.Link)
	switch {
	case errors.Is(err, sdk.ErrNotFound), err == nil && (res.Subject != web.UploadSubject(chat, r.ID) || len(res.TemporaryAttachmentIDs) == 0):
		_ = st.del(key)
		log.Info("widget: attach of no upload of this chat's")
		return widgetAnswer(404, origin, map[string]any{"ok": false, "error": "no upload"})
	case err != nil:
		_ = st.del(key)
		log.Warn("widget: upload result not read", "err", err)
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	}
	jc := jira.Client{API: env.Jira}
	// As a messenger's file without a caption: the file alone.
	if _, err := jc.Attach(rec.Issue, res.TemporaryAttachmentIDs, true, ""); err != nil {
		_ = st.del(key)
		log.Warn("widget: upload not attached", "err", err)
		return widgetAnswer(503, origin, map[string]any{"ok": false})
	}
	if err := st.put(key, progress{Owner: nonce, Done: true}, DedupeTTL); err != nil {
		log.Warn("widget: upload attached; its record not saved", "err", err)
	}
	log.Info("widget: upload attached", "bytes", res.Bytes)
	return widgetAnswer(200, origin, map[string]any{"ok": true})
}
