package bridge

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Outbound job kinds.
const (
	jobComment  = "comment"
	jobResolved = "resolved"
	// jobEdit is an edit of a public comment, sent as a correction.
	jobEdit = "edit"
)

// reply reports whether a kind carries an agent's words (a comment or its
// edit), whose failure the agents are told of.
func reply(kind string) bool { return kind == jobComment || kind == jobEdit }

// outboundJob is the payload of the outbound queue: an agent's public reply
// or a resolution notice for one request's chat.
type outboundJob struct {
	Kind    string `json:"kind"`
	Project string `json:"project"`
	Issue   string `json:"issue"`
	Nonce   string `json:"nonce"`
	// Dedupe is the key of the progress record the job owns.
	Dedupe  string          `json:"dedupe"`
	Comment string          `json:"comment,omitempty"`
	Content channel.Content `json:"content,omitzero"`
	// Verify asks the consumer to read sd.public.comment first, because the
	// event did not say whether the comment is public.
	Verify bool `json:"verify,omitempty"`
	// Held marks a reply held outside the reply window and released when
	// the customer answered: its text is read from Jira (template.go).
	Held bool `json:"held,omitempty"`
}

// Pacing: Telegram allows about one message per second per chat. A reply of
// many parts is sent partsPerCall at a time, the rest re-queued.
const (
	pace         = time.Second
	partsPerCall = 10
)

// Event handles a Jira event: a public agent comment is queued for the
// customer, a resolution closes the chat's mapping and queues the
// resolution message, a reopening attaches the request to its chat again.
// Nothing is sent from here; the outbound consumer does that, with retries.
func (b *Bridge) Event(env *sdk.Env, ev *abi.Event) error {
	w, err := jira.ParseWebhook(ev.Type, ev.Payload)
	if err != nil {
		env.Log.Warn("event: payload not understood; ignored", "type", ev.Type, "err", err)
		return nil
	}
	if !jira.ValidIssueKey(w.Issue.Key) {
		return nil
	}
	st := store{env.Storage}
	var rev issueRecord
	found, err := st.get(issueKey(w.Issue.Key), &rev)
	if err != nil {
		return err
	}
	if !found {
		return nil // not a chat's request
	}
	log := logger(env, "project", rev.Project, "event", string(w.Event))
	var cfg Config
	found, err = st.get(configKey(rev.Project), &cfg)
	if err != nil {
		return err
	}
	if !found || !cfg.Enabled {
		return nil
	}
	if w.Event == jira.CommentCreated || w.Event == jira.CommentUpdated {
		if err := b.relayComment(env, log, ev.Context, w, &rev); err != nil {
			return err
		}
	}
	if _, ok := w.StatusChange(); ok {
		return b.statusChanged(env, log, w, &rev)
	}
	return nil
}

// relayComment queues a comment that may be public, once per comment id,
// and an edit of one as a correction, once per edit (comment id and its
// updated time: Jira's retries and its double fire of comment_updated and
// issue_comment_edited carry the same). Fail closed: internal by jsdPublic,
// by a visibility restriction, or unknown (checked by the consumer against
// sd.public.comment), for an edit as for the comment.
func (b *Bridge) relayComment(env *sdk.Env, log *slog.Logger, ctx abi.Context, w *jira.Webhook, rev *issueRecord) error {
	c := w.Comment
	if !jira.ValidID(c.ID) {
		log.Warn("event: comment id not numeric; not relayed")
		return nil
	}
	log = log.With("comment", c.ID)
	switch {
	case w.SelfGenerated || ctx.AppAccountID != "" && c.Author.AccountID == ctx.AppAccountID:
		log.Debug("event: the app's own comment; not relayed")
		return nil
	case c.Restricted:
		log.Info("event: restricted comment; not relayed")
		return nil
	case c.JSDPublic != nil && !*c.JSDPublic:
		log.Info("event: internal comment; not relayed")
		return nil
	case c.Body.Empty():
		return nil
	}
	job := outboundJob{
		Kind: jobComment, Project: rev.Project, Issue: w.Issue.Key,
		Dedupe: commentDedupeKey(rev.Project, c.ID), Comment: c.ID,
		Content: channel.Content{Wiki: c.Body.Wiki, ADF: c.Body.ADF},
		Verify:  c.JSDPublic == nil,
	}
	if w.Event == jira.CommentUpdated {
		edited, ok := editTime(c)
		if !ok {
			log.Info("event: comment update without a later updated time; not relayed")
			return nil
		}
		job.Kind, job.Dedupe = jobEdit, commentEditDedupeKey(rev.Project, c.ID, edited)
	}
	return queueOnce(env, log, job, chatKey(rev.Project, rev.Channel, rev.Chat))
}

// Jira's comment times: the platform API's and Forge's ISO 8601 forms.
var jiraTimeLayouts = []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano}

// editTime is when an edited comment was last updated, in Unix
// milliseconds: the edit's identity. A comment whose updated time is
// missing, unreadable or not after its created time was not edited.
func editTime(c *jira.Comment) (int64, bool) {
	parse := func(s string) (time.Time, bool) {
		for _, l := range jiraTimeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	}
	updated, ok := parse(c.Updated)
	if !ok {
		return 0, false
	}
	if created, ok := parse(c.Created); ok && !updated.After(created) {
		return 0, false
	}
	return updated.UnixMilli(), true
}

// queueOnce claims the job's dedupe key and pushes it in the order of the
// chat (order, a chat key); a duplicate event finds the claim and does
// nothing, unless the claim may never have been queued (see claimed).
func queueOnce(env *sdk.Env, log *slog.Logger, job outboundJob, order string) error {
	st := store{env.Storage}
	nonce, queue, won, err := st.claimed(job.Dedupe)
	if err != nil {
		return err
	}
	if !queue {
		log.Info("event: duplicate; already queued")
		return nil
	}
	job.Nonce = nonce
	payload, err := json.Marshal(job)
	if err == nil {
		err = env.Queue.Push(QueueOutbound, order, payload, 0)
	}
	if err != nil {
		if won {
			_ = st.del(job.Dedupe)
		}
		if errors.Is(err, sdk.ErrLimitExceeded) {
			// As for a messenger's event (WebTrigger): a retry would not
			// fit either, so Jira gets its 2xx and the job is dropped.
			log.Warn("event: too large to queue; dropped", "kind", job.Kind, "bytes", len(payload))
			return nil
		}
		return err
	}
	log.Info("event: queued for the customer", "kind", job.Kind)
	return nil
}

// statusChanged follows the request's status category: into done closes the
// chat's mapping and tells the customer; out of done reattaches the request
// when the chat has not opened another one meanwhile.
//
// Jira does not deliver webhooks in order: an issue_updated written before
// the resolution can arrive after it, its payload still showing the older
// status. So a change of category that the payload announces is acted on
// only once Jira confirms it is the request's status now.
func (b *Bridge) statusChanged(env *sdk.Env, log *slog.Logger, w *jira.Webhook, rev *issueRecord) error {
	st := store{env.Storage}
	done := w.Issue.Done()
	doneNow := func() (bool, error) {
		jc := jira.Client{API: env.Jira}
		_, category, err := jc.IssueStatus(w.Issue.Key)
		return category == "done", err
	}
	if w.Issue.StatusCategory == "" && !w.Issue.Resolved {
		// The payload does not carry the category: ask Jira.
		var err error
		if done, err = doneNow(); err != nil {
			return err
		}
	} else if done != rev.Resolved {
		now, err := doneNow()
		if err != nil {
			return err
		}
		if now != done {
			log.Info("event: a status Jira has since left; ignored")
			return nil
		}
	}
	chatKey := chatKey(rev.Project, rev.Channel, rev.Chat)
	var chat chatRecord
	if _, err := st.get(chatKey, &chat); err != nil {
		return err
	}
	switch {
	case done && !rev.Resolved:
		marker := ""
		if w.Changelog != nil && jira.ValidID(w.Changelog.ID) {
			marker = w.Changelog.ID
		} else {
			marker = strconv.FormatInt(w.Timestamp, 10)
		}
		if !chat.Blocked {
			job := outboundJob{Kind: jobResolved, Project: rev.Project, Issue: w.Issue.Key,
				Dedupe: statusDedupeKey(rev.Project, w.Issue.Key, marker)}
			if err := queueOnce(env, log, job, chatKey); err != nil {
				return err
			}
		}
		rev.Resolved, rev.At = true, b.now().Unix()
		if err := st.put(issueKey(w.Issue.Key), rev, 0); err != nil {
			return err
		}
		if chat.Issue == w.Issue.Key || dropKey(&chat.Others, w.Issue.Key) {
			if chat.Issue == w.Issue.Key {
				chat.Issue, chat.IssueID = "", ""
			}
			if err := st.put(chatKey, &chat, 0); err != nil {
				return err
			}
		}
		log.Info("event: request resolved; mapping closed")
	case !done && rev.Resolved:
		rev.Resolved, rev.At = false, b.now().Unix()
		if err := st.put(issueKey(w.Issue.Key), rev, 0); err != nil {
			return err
		}
		if chat.Issue == "" {
			chat.Issue, chat.IssueID = w.Issue.Key, rev.IssueID
			if err := st.put(chatKey, &chat, 0); err != nil {
				return err
			}
			log.Info("event: request reopened; mapping reattached")
		} else {
			// One of the chat's open requests again (requests.go).
			chat.Others = addKey(chat.Others, w.Issue.Key)
			if err := st.put(chatKey, &chat, 0); err != nil {
				return err
			}
			log.Info("event: request reopened; the chat has a newer request")
		}
	}
	return nil
}

// outbound is the work on one message to a customer.
type outbound struct {
	b       *Bridge
	env     *sdk.Env
	st      store
	jc      jira.Client
	log     *slog.Logger
	job     outboundJob
	cfg     Config
	ch      channel.Channel
	short   string // the channel's short name, for receipts' keys
	rev     issueRecord
	chat    chatRecord
	prog    progress
	attempt uint32
	last    bool // the host's last attempt
	sent    int  // parts sent by this call, for pacing
	// marks finds, on a redelivery, the Jira calls of earlier attempts.
	marks ledger
}

// texts are the bot's texts in the customer's language, as their last
// message told it (chatRecord.Lang), else the project's.
func (o *outbound) texts() *texts { return o.cfg.textsIn(o.chat.Lang) }

func (o *outbound) chatKey() string { return chatKey(o.job.Project, o.rev.Channel, o.rev.Chat) }

func (o *outbound) saveProgress() error {
	// The request key lets a forget find the record (privacy.go).
	o.prog.At, o.prog.Issue = o.b.now().Unix(), o.job.Issue
	return o.st.put(o.job.Dedupe, &o.prog, DedupeTTL)
}

func (o *outbound) step(name string, fn func() error) error {
	if o.prog.has(name) {
		return nil
	}
	if err := fn(); err != nil {
		return err
	}
	o.prog.Steps = append(o.prog.Steps, name)
	return o.saveProgress()
}

// note adds an internal note to the request once: the step's comment is
// marked with its op in the same call, and a redelivery that finds the mark
// records the step without adding the note again.
func (o *outbound) note(name, text string) error {
	if o.prog.has(name) {
		return nil
	}
	op := opID(o.job.Nonce, name)
	done, err := o.marks.done(o.job.Issue, op, nil)
	if err != nil {
		return err
	}
	return o.step(name, func() error {
		if done {
			o.log.Info("outbound: an earlier attempt's note went through; not repeated", "step", name)
			return nil
		}
		_, err := o.jc.AddMarkedComment(o.job.Issue, text, false, op)
		return err
	})
}

// errRequeued ends a call that handed the rest of its work to a new message.
var errRequeued = errors.New("bridge: rest of the reply re-queued")

func (b *Bridge) consumeOutbound(env *sdk.Env, m *abi.QueueMessage) (abi.QueueResult, error) {
	var job outboundJob
	if err := json.Unmarshal(m.Payload, &job); err != nil || !ValidProjectKey(job.Project) || !jira.ValidIssueKey(job.Issue) || job.Dedupe == "" {
		env.Log.Error("outbound: malformed job dropped", "message", m.ID)
		return abi.QueueResult{}, nil
	}
	o := &outbound{b: b, env: env, st: store{env.Storage}, jc: jira.Client{API: env.Jira}, job: job, attempt: m.Attempt, last: lastAttempt(m),
		log: logger(env, "project", job.Project, "comment", job.Comment, "kind", job.Kind, "message", m.ID, "attempt", m.Attempt)}
	found, err := o.st.get(job.Dedupe, &o.prog)
	if err != nil {
		return o.fail(err)
	}
	switch {
	case !found:
		o.prog = progress{Owner: job.Nonce}
	case o.prog.Owner != job.Nonce:
		o.log.Info("outbound: another delivery owns this reply; skipped")
		return abi.QueueResult{}, nil
	case o.prog.Done:
		return abi.QueueResult{}, nil
	}
	o.marks = newLedger(o.jc, m.Attempt, m.Context.AppAccountID, o.prog.At)
	found, err = o.st.get(configKey(job.Project), &o.cfg)
	if err != nil {
		return o.fail(err)
	}
	if !found || !o.cfg.Enabled {
		o.log.Info("outbound: project not configured; dropped")
		return abi.QueueResult{}, nil
	}
	found, err = o.st.get(issueKey(job.Issue), &o.rev)
	if err != nil {
		return o.fail(err)
	}
	if !found || o.rev.Project != job.Project {
		o.log.Info("outbound: request no longer mapped; dropped")
		return abi.QueueResult{}, nil
	}
	kind, secrets, ok := b.endpoint(&o.cfg, o.rev.Channel) // bots.go: the bot the chat wrote to
	if !ok {
		o.log.Info("outbound: the chat's bot no longer serves the project; dropped")
		return abi.QueueResult{}, nil
	}
	o.ch, o.short = kind.New(env, secrets), kind.Short
	o.inTopic() // topics.go
	if _, err := o.st.get(o.chatKey(), &o.chat); err != nil {
		return o.fail(err)
	}
	switch job.Kind {
	case jobComment, jobEdit:
		err = o.comment()
	case jobResolved:
		err = o.resolved()
	}
	switch {
	case errors.Is(err, errRequeued):
		return abi.QueueResult{}, nil
	case errors.Is(err, errStop):
		err = nil
	}
	if err != nil {
		return o.fail(err)
	}
	o.prog.Done = true
	if err := o.saveProgress(); err != nil {
		return o.fail(err)
	}
	return abi.QueueResult{}, nil
}

func (o *outbound) fail(err error) (abi.QueueResult, error) {
	res, temporary := retryAfter(err, o.attempt)
	switch {
	case temporary && !o.last:
		o.log.Warn("outbound: will retry", "err", err, "retryAfter", res.RetryAfterSeconds)
		return res, nil
	case temporary:
		o.log.Error("outbound: still failing on the host's last attempt; left as a dead letter to replay", "err", err)
	default:
		o.log.Error("outbound: failed; giving up", "err", err)
	}
	if reply(o.job.Kind) && o.ch != nil {
		// Tell the agents; their reply did not reach the customer.
		note := fill(noteSendFailed, "{channel}", channelTitle(o.rev.Channel), "{reason}", reason(err))
		if e := o.note("failnote", note); e != nil {
			o.log.Warn("outbound: could not add the failure note", "err", e)
		}
	}
	if temporary {
		// Not done: a replay of the dead letter carries on from here.
		_ = o.saveProgress()
		return res, nil
	}
	o.prog.Done = true
	_ = o.saveProgress()
	return abi.QueueResult{}, nil
}

func reason(err error) string {
	switch {
	case errors.Is(err, channel.ErrNotFound):
		return "the chat no longer exists"
	case errors.Is(err, channel.ErrUnauthorized):
		return "the bot token was rejected"
	case errors.Is(err, channel.ErrTooLarge):
		return "too large"
	}
	return "the messenger refused it"
}

func (o *outbound) comment() error {
	if gone, err := o.heldContent(); gone || err != nil { // template.go
		return err
	}
	if o.job.Verify && !o.prog.has("verified") {
		vis, err := o.jc.CommentVisibility(o.job.Issue, o.job.Comment)
		if err != nil {
			return err
		}
		if vis != jira.Public {
			// Fail closed: only a positively public comment leaves Jira.
			o.log.Info("outbound: comment not positively public; withheld", "visibility", int(vis))
			return nil
		}
		o.prog.Steps = append(o.prog.Steps, "verified")
		if err := o.saveProgress(); err != nil {
			return err
		}
	}
	if o.chat.Blocked {
		return o.blockedNote()
	}
	if out, err := o.outsideWindow(); out || err != nil {
		return o.windowClosed(err) // window.go
	}
	if o.job.Kind == jobEdit {
		// The text only: the files it shows went with the comment.
		return o.sendParts(o.ch.Render(corrected(o.requestTag(o.job.Content), o.texts().Corrected)))
	}
	if err := o.sendParts(o.ch.Render(o.requestTag(o.job.Content))); err != nil { // requests.go
		return err
	}
	if !o.cfg.AttachmentsOut {
		return nil
	}
	return o.files()
}

func (o *outbound) resolved() error {
	if o.chat.Blocked {
		return nil
	}
	if out, err := o.outsideWindow(); out || err != nil {
		return o.windowClosed(err)
	}
	if err := o.sendParts(o.ch.Render(channel.Content{Plain: o.texts().Resolved})); err != nil {
		return err
	}
	return o.survey() // satisfaction.go
}

// sendParts sends the parts not yet sent, in order, about one a second.
func (o *outbound) sendParts(parts []string) error {
	for o.prog.Parts < len(parts) {
		if o.sent >= partsPerCall {
			return o.requeue()
		}
		if o.sent > 0 {
			o.b.sleep(pace)
		}
		if err := o.send(func(chat string) error { return o.sendText(chat, parts[o.prog.Parts]) }); err != nil {
			return err
		}
		o.sent++
		o.prog.Parts++
		if err := o.saveProgress(); err != nil {
			return err
		}
	}
	return nil
}

// send runs fn on the chat, following a group's move to a supergroup once,
// and turning a block into a note for the agents.
func (o *outbound) send(fn func(chat string) error) error {
	err := fn(o.rev.Chat)
	if to, ok := channel.MigratedTo(err); ok {
		if merr := o.migrate(to); merr != nil {
			return merr
		}
		err = fn(o.rev.Chat)
	}
	if errors.Is(err, channel.ErrBlocked) {
		o.log.Info("outbound: customer blocked the bot")
		o.chat.Blocked = true
		if err := o.st.put(o.chatKey(), &o.chat, 0); err != nil {
			return err
		}
		if e := o.blockedNote(); e != nil {
			return e
		}
		return errStop
	}
	return err
}

// errStop ends the work early without an error: the customer is unreachable.
var errStop = errors.New("bridge: customer unreachable")

func (o *outbound) blockedNote() error {
	if !reply(o.job.Kind) {
		return nil
	}
	err := o.note("note", fill(noteNotDelivered, "{channel}", channelTitle(o.rev.Channel)))
	if errors.Is(err, jira.ErrNotFound) {
		return nil
	}
	return err
}

// errBadMigration reports a supergroup id that is not a chat id.
var errBadMigration = errors.New("bridge: the chat moved to an id that is not a number")

// migrate moves the mapping of a group that became a supergroup.
func (o *outbound) migrate(to string) error {
	if _, err := strconv.ParseInt(to, 10, 64); err != nil {
		// strconv's error quotes the id: a chat id must not reach a log.
		return errBadMigration
	}
	old := o.chatKey()
	o.log.Info("outbound: chat moved to a new id; mapping moved")
	o.rev.Chat = to
	if err := o.st.put(o.chatKey(), &o.chat, 0); err != nil {
		return err
	}
	if err := o.st.put(issueKey(o.job.Issue), &o.rev, 0); err != nil {
		return err
	}
	return o.st.del(old)
}

func (o *outbound) requeue() error {
	payload, err := json.Marshal(o.job)
	if err != nil {
		return err
	}
	if err := o.env.Queue.Push(QueueOutbound, o.chatKey(), payload, pace); err != nil {
		return err
	}
	o.log.Info("outbound: long reply; the rest re-queued", "sent", o.prog.Parts)
	return errRequeued
}

// files sends the attachments a public comment shows: only those, since an
// attachment's own visibility is not in the API; larger than the
// messenger's upload limit (or the host's download limit) gives a notice
// without a link.
func (o *outbound) files() error {
	names := jira.Body{Wiki: o.job.Content.Wiki, ADF: o.job.Content.ADF}.AttachmentNames()
	if len(names) == 0 {
		return nil
	}
	list, err := o.jc.Attachments(o.job.Issue)
	if err != nil {
		return err
	}
	limits := o.ch.Limits()
	for _, name := range names {
		var att *jira.Attachment
		for i := range list {
			if list[i].Filename == name && (att == nil || newerID(list[i].ID, att.ID)) {
				att = &list[i]
			}
		}
		if att == nil || !jira.ValidID(att.ID) {
			continue
		}
		a := *att
		err := o.step("file:"+a.ID, func() error {
			if a.Size > limits.Upload {
				return o.fileNotice(a.Filename)
			}
			if o.sent > 0 {
				o.b.sleep(pace)
			}
			if sent, err := o.sendLink(a); sent || err != nil {
				return err // by a download link (links.go)
			}
			data, err := o.jc.AttachmentContent(a.ID)
			if errors.Is(err, sdk.ErrLimitExceeded) {
				return o.fileNotice(a.Filename)
			}
			if err != nil {
				return err
			}
			err = o.send(func(chat string) error {
				return o.sendFile(chat, channel.File{Name: a.Filename, MIME: a.MimeType, Data: data})
			})
			if errors.Is(err, channel.ErrTooLarge) {
				return o.fileNotice(a.Filename)
			}
			o.sent++
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (o *outbound) fileNotice(name string) error {
	text := fill(o.texts().FileTooLarge, "{name}", name)
	for _, part := range o.ch.Render(channel.Content{Plain: text}) {
		if err := o.send(func(chat string) error { return o.ch.SendText(chat, part) }); err != nil {
			return err
		}
	}
	return nil
}

// newerID reports whether numeric id a is greater than b.
func newerID(a, b string) bool {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return x > y
}
