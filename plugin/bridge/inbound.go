package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// inboundJob is the payload of the inbound queue: one customer event. It is
// the only place message text exists outside Jira, and the host deletes it
// once delivered.
type inboundJob struct {
	Project string          `json:"project"`
	Channel string          `json:"channel"`
	Nonce   string          `json:"nonce"`
	Event   channel.Inbound `json:"event"`
	// Waits counts re-queues while another delivery opened the chat's request.
	Waits int `json:"waits,omitempty"`
	// Queued is when the webhook queued it (Unix milliseconds): a forget of
	// the chat refuses what was queued before it (privacy.go).
	Queued int64 `json:"queued,omitempty"`
	// Held marks a message waiting for the customer's choice of a request
	// type (routing.go).
	Held bool `json:"held,omitempty"`
}

// Opening a request: a delivery that finds another one opening the chat's
// request waits openWait and tries again, up to maxOpenWaits times; an
// opening older than staleOpening is taken over.
const (
	openWait     = 3 * time.Second
	maxOpenWaits = 40
	staleOpening = 2 * time.Minute
)

func respond(status uint16) *abi.Response {
	return &abi.Response{Status: status, Headers: []abi.Header{{Name: "Content-Type", Value: "application/json"}},
		Body: []byte(`{"ok":` + strconv.FormatBool(status/100 == 2) + `}`)}
}

// WebTrigger receives a messenger's webhook: it authenticates it, drops
// duplicates, queues each event and answers at once; Jira is never called
// here, so a slow Jira cannot make the messenger retry.
func (b *Bridge) WebTrigger(env *sdk.Env, req *abi.WebTriggerRequest) (*abi.Response, error) {
	name, kind, ok := b.kindByTrigger(req.Trigger)
	if !ok {
		return respond(404), nil
	}
	project := abi.Get(req.Query, "project")
	route := webhookRoute(req, name) // bots.go: the bot the update came through
	var (
		log     = logger(env, "channel", name)
		st      = store{env.Storage}
		cfg     Config
		secrets channel.Secrets
		found   bool
		err     error
	)
	if ValidProjectKey(project) {
		log = log.With("project", project)
		if found, err = st.get(configKey(project), &cfg); err != nil {
			log.Error("webhook: configuration unreadable", "err", err)
			return respond(503), nil
		}
		if found {
			_, secrets, found = b.endpoint(&cfg, route)
		}
		if !found || channelOf(route) != name {
			found, cfg = false, Config{}
		}
	}
	if kind.Origins {
		return b.webWidget(env, req, log, kind, name, project, cfg, found), nil
	}
	if kind.Handshake != nil {
		webhook := ""
		if found && cfg.Enabled {
			webhook = secrets.Webhook
		}
		if resp := kind.Handshake(env, req, webhook); resp != nil {
			return resp, nil
		}
	}
	if req.Method != "POST" {
		return respond(405), nil
	}
	if !found {
		return respond(404), nil
	}
	ch := kind.New(env, secrets)
	if err := ch.Authenticate(req); err != nil {
		if errors.Is(err, channel.ErrUnauthorized) {
			log.Warn("webhook: not authentic; rejected")
			return respond(401), nil
		}
		log.Error("webhook: authentication failed", "err", err)
		return respond(503), nil
	}
	if !cfg.Enabled {
		return respond(200), nil
	}
	events, err := ch.Parse(req.Body)
	if err != nil {
		// Authentic but unreadable: a retry would not read better.
		log.Warn("webhook: delivery not understood; dropped", "err", err)
		return respond(200), nil
	}
	events = cfg.unrelayed(events) // media.go
	var greeting []byte
	if g, ok := ch.(channel.Greeter); ok {
		greeting, events = g.Greet(events, cfg.textsIn(startLang(events)).Greeting)
	}
	if resp := b.queueEvents(env, log, ch, kind, project, route, events); resp != nil {
		return resp, nil
	}
	if greeting != nil {
		return &abi.Response{Status: 200, Headers: []abi.Header{{Name: "Content-Type", Value: "application/json"}}, Body: greeting}, nil
	}
	return respond(200), nil
}

// queueEvents drops duplicates and queues each event of an authentic
// delivery; it answers nil when every event was queued or dropped for good,
// or the answer that makes the sender retry. route is the bot the delivery
// came through (bots.go): the channel's name for the project's own bot.
func (b *Bridge) queueEvents(env *sdk.Env, log *slog.Logger, ch channel.Channel, kind Kind, project, route string, events []channel.Inbound) *abi.Response {
	st := store{env.Storage}
	for _, ev := range events {
		ev.ID = routedEventID(route, ev.ID)
		key := inboundDedupeKey(kind.Short, project, ev.ID)
		nonce, queue, won, err := st.claimed(key)
		if err != nil {
			log.Error("webhook: dedupe record failed", "event", ev.ID, "err", err)
			return respond(503)
		}
		if !queue {
			log.Info("webhook: duplicate delivery ignored", "event", ev.ID)
			continue
		}
		payload, err := json.Marshal(inboundJob{Project: project, Channel: route, Nonce: nonce, Event: ev, Queued: b.now().UnixMilli()})
		if err == nil {
			err = env.Queue.Push(QueueInbound, chatKey(project, route, ev.ChatID), payload, 0)
		}
		if err != nil {
			if won {
				// Forget the event so that the messenger's retry is not a "duplicate".
				_ = st.del(key)
			}
			if errors.Is(err, sdk.ErrLimitExceeded) {
				// Over the queue's payload cap: no retry would fit it, and
				// every messenger retries anything but 2xx (Viber for an
				// hour, WhatsApp for days), so it is answered 200 and
				// dropped. No real message is this big (a Telegram text is
				// at most 4096 characters); the host counts the refusal.
				log.Warn("webhook: event too large to queue; dropped", "event", ev.ID, "bytes", len(payload))
				continue
			}
			log.Error("webhook: could not queue the event", "event", ev.ID, "err", err)
			return respond(503)
		}
		log.Info("webhook: event queued", "event", ev.ID, "kind", string(ev.Kind))
		if !forgetCommand(&ev) { // a /forget leaves no window record behind (privacy.go)
			b.sawCustomer(env, ch, project, route, ev) // window.go
		}
	}
	return nil
}

// inbound is the work on one customer event.
type inbound struct {
	b    *Bridge
	env  *sdk.Env
	st   store
	jc   jira.Client
	log  *slog.Logger
	job  inboundJob
	cfg  Config
	kind Kind
	ch   channel.Channel
	key  string // the dedupe record's key
	prog progress
	chat chatRecord
	// attempt is the delivery's attempt number, for back-off.
	attempt uint32
	last    bool // the host's last attempt
	// marks finds, on a redelivery, the Jira calls of earlier attempts.
	marks ledger
	// chatFound: the chat has a record.
	chatFound bool
}

// texts are the bot's texts in the customer's language: the one this
// message tells, else the one the chat's last message told, else the
// project's.
func (w *inbound) texts() *texts { return w.cfg.textsIn(w.lang()) }

// lang is the customer's language as the messenger names it: this
// message's, else the chat's last message's; "" when neither said.
func (w *inbound) lang() string {
	if w.job.Event.Lang != "" {
		return w.job.Event.Lang
	}
	return w.chat.Lang
}

// startLang is the language of the first /start among events, which a
// Greeter answers.
func startLang(events []channel.Inbound) string {
	for _, ev := range events {
		if ev.Command == channel.CommandStart {
			return ev.Lang
		}
	}
	return ""
}

func (w *inbound) chatKey() string { return chatKey(w.job.Project, w.job.Channel, w.job.Event.ChatID) }

func (w *inbound) saveProgress() error {
	w.prog.At = w.b.now().Unix()
	return w.st.put(w.key, &w.prog, DedupeTTL)
}

// step runs fn once per event: a retried delivery skips completed steps.
func (w *inbound) step(name string, fn func() error) error {
	if w.prog.has(name) {
		return nil
	}
	if err := fn(); err != nil {
		return err
	}
	w.prog.Steps = append(w.prog.Steps, name)
	return w.saveProgress()
}

// lastStep is step for the last step of a delivery, which the delivery's
// final record (Done, saved by consumeInbound, or fail's) records: one
// write instead of two. Nothing happens between the two saves it folds, so
// a crash between the step's effect and the record redoes the step exactly
// as it would with a save of its own.
func (w *inbound) lastStep(name string, fn func() error) error {
	if w.prog.has(name) {
		return nil
	}
	if err := fn(); err != nil {
		return err
	}
	w.prog.Steps = append(w.prog.Steps, name)
	return nil
}

// jiraStep is a step whose effect is a comment on issue, made by fn and
// marked with the op it is given. On a redelivery, a comment carrying the
// op (or, when match is set, an unmarked one match recognizes) records the
// step without calling fn again.
func (w *inbound) jiraStep(name, issue string, match func(jira.MarkedComment) bool, fn func(op string) error) error {
	if w.prog.has(name) {
		return nil
	}
	op := opID(w.job.Nonce, name)
	done, err := w.marks.done(issue, op, match)
	if err != nil {
		return err
	}
	if done {
		w.log.Info("inbound: an earlier attempt's call went through; not repeated", "step", name)
		fn = func(string) error { return nil }
	}
	return w.step(name, func() error { return fn(op) })
}

// addPublic adds the customer's text as a public comment through the
// service desk API, then marks it with op: that API takes no properties, so
// the mark is a second call, and a failed one only leaves the comment to be
// recognized by its text (sameBody) should this delivery be retried.
func (w *inbound) addPublic(issue, body, op string) error {
	id, err := w.jc.AddComment(issue, body, true)
	if err != nil {
		return err
	}
	w.mark(issue, id, op)
	return nil
}

// mark sets op on a comment created without it; a failure is logged, not
// returned: the comment exists and must not be made again.
func (w *inbound) mark(issue, commentID, op string) {
	if commentID == "" {
		w.log.Warn("inbound: comment id missing; not marked")
		return
	}
	if err := w.jc.MarkComment(issue, commentID, op); err != nil {
		w.log.Warn("inbound: comment not marked", "err", err)
	}
}

// sameBody recognizes an unmarked comment by its whole text.
func sameBody(body string) func(jira.MarkedComment) bool {
	return func(c jira.MarkedComment) bool { return jira.SameText(c.Body, body) }
}

// withFile recognizes an unmarked attachment comment: it names the file
// and starts with the caption, if any.
func withFile(name, caption string) func(jira.MarkedComment) bool {
	caption = strings.TrimSpace(strings.ReplaceAll(caption, "\r\n", "\n"))
	return func(c jira.MarkedComment) bool {
		body := strings.TrimSpace(strings.ReplaceAll(c.Body, "\r\n", "\n"))
		return strings.Contains(body, name) && strings.HasPrefix(body, caption)
	}
}

// Looking for a request an earlier attempt created: Jira's search misses
// issues created less than about indexLag ago, so a redelivery that soon
// waits before it concludes there is none.
const indexLag = 10 * time.Second

// errSettle asks the consumer to retry after wait: the search for the
// request an earlier attempt may have created is not conclusive yet.
type errSettle struct{ wait time.Duration }

func (e errSettle) Error() string { return "bridge: waiting for Jira's search to show recent requests" }

// errWait asks the consumer to re-queue the job: another delivery is opening
// the chat's request.
var errWait = errors.New("bridge: waiting for the chat's request to be opened")

func (b *Bridge) consumeInbound(env *sdk.Env, m *abi.QueueMessage) (abi.QueueResult, error) {
	var job inboundJob
	if err := json.Unmarshal(m.Payload, &job); err != nil || !ValidProjectKey(job.Project) || job.Event.ChatID == "" {
		env.Log.Error("inbound: malformed job dropped", "message", m.ID)
		return abi.QueueResult{}, nil
	}
	w := &inbound{b: b, env: env, st: store{env.Storage}, jc: jira.Client{API: env.Jira}, job: job, attempt: m.Attempt, last: lastAttempt(m),
		log: logger(env, "project", job.Project, "channel", job.Channel, "event", job.Event.ID, "message", m.ID, "attempt", m.Attempt)}
	found, err := w.st.get(configKey(job.Project), &w.cfg)
	if err != nil {
		return w.fail(err)
	}
	kind, secrets, ok := b.endpoint(&w.cfg, job.Channel) // bots.go
	if !found || !w.cfg.Enabled || !ok {
		w.log.Info("inbound: project not configured for this channel; dropped")
		return abi.QueueResult{}, nil
	}
	if gone, err := queuedBeforeForget(w.st, &job); err != nil {
		return w.fail(err)
	} else if gone {
		w.log.Info("inbound: queued before its chat was forgotten; dropped")
		return abi.QueueResult{}, nil
	}
	w.kind, w.ch = kind, kind.New(env, secrets)
	if t, ok := w.topics(); ok && job.Event.Thread != "" {
		w.ch = t.InTopic(job.Event.Thread) // replies go back to the topic (topics.go)
	}
	w.key = inboundDedupeKey(kind.Short, job.Project, job.Event.ID)
	found, err = w.st.get(w.key, &w.prog)
	if err != nil {
		return w.fail(err)
	}
	switch {
	case !found:
		// The record expired or was never written: this delivery owns the work.
		w.prog = progress{Owner: job.Nonce}
	case w.prog.Owner != job.Nonce:
		w.log.Info("inbound: another delivery owns this event; skipped")
		return abi.QueueResult{}, nil
	case w.prog.Done:
		return abi.QueueResult{}, nil
	}
	w.marks = newLedger(w.jc, m.Attempt, m.Context.AppAccountID, w.prog.At)
	if w.chatFound, err = w.st.get(w.chatKey(), &w.chat); err != nil {
		return w.fail(err)
	}
	err = w.run()
	if errors.Is(err, errWait) {
		return w.wait()
	}
	if errors.Is(err, errHold) {
		return w.hold() // routing.go
	}
	var settle errSettle
	if errors.As(err, &settle) {
		w.log.Info("inbound: looking for a request an earlier attempt may have created; retrying soon")
		return abi.QueueResult{RetryAfterSeconds: seconds(settle.wait)}, nil
	}
	if err != nil {
		return w.fail(err)
	}
	w.prog.Done = true
	if err := w.saveProgress(); err != nil {
		return w.fail(err)
	}
	return abi.QueueResult{}, nil
}

// wait re-queues the job with a delay, as a new message with fresh retries.
func (w *inbound) wait() (abi.QueueResult, error) {
	w.job.Waits++
	payload, err := json.Marshal(w.job)
	if err == nil {
		err = w.env.Queue.Push(QueueInbound, w.chatKey(), payload, openWait)
	}
	if err != nil {
		return w.fail(err)
	}
	w.log.Info("inbound: waiting for the chat's request to be opened")
	return abi.QueueResult{}, nil
}

// fail turns an error into a retry, or gives up on a permanent one and tells
// the customer their message did not arrive.
func (w *inbound) fail(err error) (abi.QueueResult, error) {
	res, temporary := retryAfter(err, w.attempt)
	switch {
	case temporary && !w.last:
		w.log.Warn("inbound: will retry", "err", err, "retryAfter", res.RetryAfterSeconds)
		return res, nil
	case temporary:
		w.log.Error("inbound: still failing on the host's last attempt; left as a dead letter to replay", "err", err)
	default:
		w.log.Error("inbound: failed; giving up", "err", err)
	}
	if w.chat.Opening == w.job.Nonce && w.key != "" {
		// Let the chat's next message open a request without waiting.
		var chat chatRecord
		if _, e := w.st.get(w.chatKey(), &chat); e == nil && chat.Opening == w.job.Nonce {
			chat.Opening, chat.OpeningAt = "", 0
			_ = w.st.put(w.chatKey(), &chat, 0)
		}
	}
	if w.ch != nil && w.job.Event.Kind == channel.Message && !w.prog.has("failed") {
		if e := w.reply(w.texts().Failed); e == nil {
			w.prog.Steps = append(w.prog.Steps, "failed")
		}
	}
	if temporary {
		// Not done: the host keeps the message, and a replay carries on
		// from the steps recorded here, without telling the customer twice.
		if w.key != "" {
			_ = w.saveProgress()
		}
		return res, nil
	}
	w.prog.Done = true
	if w.key != "" {
		_ = w.saveProgress()
	}
	return abi.QueueResult{}, nil
}

// reply sends a bot text to the customer.
func (w *inbound) reply(text string) error {
	for _, part := range w.ch.Render(channel.Content{Plain: text}) {
		if err := w.ch.SendText(w.job.Event.ChatID, part); err != nil {
			if errors.Is(err, channel.ErrBlocked) {
				return nil // nobody to tell
			}
			return err
		}
	}
	return nil
}

func (w *inbound) replyStep(name, text string) error {
	return w.step(name, func() error { return w.reply(text) })
}

func (w *inbound) saveChat() error { return w.st.put(w.chatKey(), &w.chat, 0) }

func (w *inbound) run() error {
	ev := &w.job.Event
	t := w.texts()
	switch ev.Kind {
	case channel.Blocked:
		return w.blocked()
	case channel.Unblocked:
		if w.chat.Blocked {
			w.chat.Blocked = false
			return w.saveChat()
		}
		return nil
	case channel.Undelivered:
		return w.undelivered() // receipts.go
	case channel.Chosen:
		if pressesLimited(w.job.Channel) { // abuse.go
			if stop, err := w.limited(); stop || err != nil {
				return err
			}
		}
		if taken, err := w.requestChosen(); taken || err != nil {
			return err // a /requests button (requests.go)
		}
		return w.chosen() // satisfaction.go
	case channel.Reaction, channel.Deleted:
		return w.noted() // media.go
	case kindSurveyDue:
		return w.surveyDue()
	case channel.Message:
	default:
		return nil
	}
	if !exemptFromLimits(ev) { // abuse.go
		if stop, err := w.limited(); stop || err != nil {
			return err
		}
	}
	if lang := supportedLanguage(ev.Lang); lang != "" && lang != w.chat.Lang {
		w.chat.Lang = lang
		if w.chatFound {
			if err := w.saveChat(); err != nil {
				return err
			}
		}
	}
	if w.chat.Blocked {
		// Writing to the bot means the customer allows it again.
		w.chat.Blocked = false
		if err := w.saveChat(); err != nil {
			return err
		}
	}
	if ev.Unreadable {
		return w.replyStep("reply", t.Unreadable)
	}
	if forgetCommand(ev) {
		return w.forget() // privacy.go
	}
	if taken, err := w.identity(); taken || err != nil {
		return err // /link, /unlink (identity.go)
	}
	if taken, err := w.surveyComment(); taken || err != nil {
		return err // a rating's comment (satisfaction.go)
	}
	switch textCommand(ev) { // requests.go
	case commandRequests:
		return w.listRequests()
	case channel.CommandStart:
		return w.replyStep("reply", w.texts().Greeting)
	case channel.CommandHelp:
		return w.replyStep("reply", w.help()) // textoverrides.go
	case channel.CommandNew:
		return w.newRequest() // requests.go
	case channel.CommandStatus:
		return w.step("reply", func() error {
			if w.chat.Issue == "" {
				return w.reply(t.NoRequest)
			}
			s, err := w.jc.Status(w.chat.Issue)
			if errors.Is(err, jira.ErrNotFound) {
				return w.reply(t.NoRequest)
			}
			if err != nil {
				return err
			}
			return w.reply(fill(t.Status, "{key}", w.chat.Issue, "{status}", s.Name))
		})
	}
	return w.routed() // routing.go, then message
}

func (w *inbound) blocked() error {
	w.chat.Blocked = true
	if err := w.saveChat(); err != nil {
		return err
	}
	w.log.Info("inbound: customer blocked the bot")
	if w.chat.Issue == "" {
		return nil
	}
	issue := w.chat.Issue
	err := w.jiraStep("note", issue, nil, func(op string) error {
		_, err := w.jc.AddMarkedComment(issue, fill(noteBlocked, "{channel}", channelTitle(w.job.Channel)), false, op)
		return err
	})
	if errors.Is(err, jira.ErrNotFound) {
		return nil
	}
	return err
}

// message delivers a customer message: to the chat's open request, or to a
// new one.
func (w *inbound) message() error {
	ev := &w.job.Event
	if ev.Edited && w.chat.Issue == "" && w.prog.Issue == "" {
		// A correction of a message from a closed conversation opens nothing.
		w.log.Info("inbound: edit outside an open request ignored")
		return nil
	}
	// Which files go to Jira; the rest are refused with a notice.
	var accepted []int
	for i, a := range ev.Attachments {
		if w.cfg.accepts(a.Kind) {
			accepted = append(accepted, i)
			continue
		}
		if err := w.replyStep("refused"+strconv.Itoa(i), w.texts().NotAccepted); err != nil {
			return err
		}
	}
	if ev.Wiki == "" && len(accepted) == 0 {
		return nil
	}
	if refused, err := w.linkFirst(); refused || err != nil {
		return err // identity.go
	}
	if err := w.topicRequest(); err != nil { // topics.go
		return err
	}
	// Up to two rounds: when the mapped request has vanished from Jira, the
	// mapping is dropped and the message opens a new one.
	for round := 0; ; round++ {
		if err := w.ensureIssue(accepted); err != nil {
			return err
		}
		if err := w.intoTopic(); err != nil { // topics.go
			return err
		}
		err := w.deliver(accepted)
		if err == nil {
			w.touch(w.prog.Issue) // privacy.go
			return w.answered()
		}
		if !errors.Is(err, jira.ErrNotFound) || w.prog.Created || round > 0 {
			return err
		}
		w.log.Warn("inbound: mapped request no longer exists; opening a new one")
		if w.chat.Issue == w.prog.Issue {
			w.chat.Issue, w.chat.IssueID = "", ""
			if err := w.saveChat(); err != nil {
				return err
			}
		}
		_ = w.st.del(issueKey(w.prog.Issue))
		// Only the notices sent to the customer stay done; everything that
		// went to the vanished request goes again.
		w.prog.Issue, w.prog.IssueID, w.prog.Steps = "", "", keepPrefixed(w.prog.Steps, "refused")
		if err := w.saveProgress(); err != nil {
			return err
		}
	}
}

// answered tells the customer, after their message reached Jira, the key
// of the request it opened (when the project acknowledges) and, outside
// business hours, when the team is back (hours.go).
func (w *inbound) answered() error {
	if w.prog.Created && w.cfg.Acknowledge {
		if err := w.replyStep("ack", fill(w.texts().Acknowledged, "{key}", w.prog.Issue)); err != nil {
			return err
		}
	}
	return w.outOfHours()
}

func keepPrefixed(list []string, prefix string) []string {
	var out []string
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// ensureIssue decides the request this event goes to, creating one when the
// chat has none. The created request is recorded in the event's progress
// before anything else, so a retry after a later failure reuses it.
func (w *inbound) ensureIssue(accepted []int) error {
	if w.prog.Issue == "" {
		if w.chat.Issue != "" {
			w.prog.Issue, w.prog.IssueID = w.chat.Issue, w.chat.IssueID
			return w.saveProgress()
		}
		if err := w.open(accepted); err != nil {
			return err
		}
	}
	if !w.prog.Created {
		return nil
	}
	// The mapping of a request this event created.
	return w.step("map", func() error {
		if err := w.mapIssue(w.prog.Issue, w.prog.IssueID); err != nil {
			return err
		}
		// Re-read: a /new or a resolution may have changed the chat meanwhile.
		if _, err := w.st.get(w.chatKey(), &w.chat); err != nil {
			return err
		}
		if lang := supportedLanguage(w.job.Event.Lang); lang != "" {
			w.chat.Lang = lang
		}
		if w.chat.Issue == "" || w.chat.Opening == w.job.Nonce {
			w.chat.Issue, w.chat.IssueID = w.prog.Issue, w.prog.IssueID
		}
		if w.chat.Opening == w.job.Nonce {
			w.chat.Opening, w.chat.OpeningAt = "", 0
		}
		return w.saveChat()
	})
}

// open creates the chat's request, unless another delivery of the same chat
// is doing so (an album's photos arrive together): then this one waits.
func (w *inbound) open(accepted []int) error {
	ev := &w.job.Event
	now := w.b.now().Unix()
	if o := w.chat.Opening; o != "" && o != w.job.Nonce && now-w.chat.OpeningAt < int64(staleOpening/time.Second) && w.job.Waits < maxOpenWaits {
		return errWait
	}
	w.chat.Opening, w.chat.OpeningAt = w.job.Nonce, now
	if err := w.saveChat(); err != nil {
		return err
	}
	var check chatRecord
	if _, err := w.st.get(w.chatKey(), &check); err != nil {
		return err
	}
	if check.Opening != w.job.Nonce && w.job.Waits < maxOpenWaits {
		return errWait
	}
	kindName := ""
	if len(accepted) > 0 {
		kindName = string(ev.Attachments[accepted[0]].Kind)
	}
	req := jira.NewRequest{
		ServiceDeskID: w.cfg.ServiceDeskID,
		RequestTypeID: w.requestTypeID(), // routing.go
		Summary:       summary(w.cfg.SummaryTemplate, ev.Sender, ev.Plain, kindName),
		Description:   description(ev, w.job.Channel, kindName),
		Labels:        []string{ChannelLabel(w.job.Channel)},
	}
	if err := w.onBehalf(&req); err != nil { // identity.go
		return err
	}
	op := opID(w.job.Nonce, "open")
	if w.prog.OpenAt != 0 {
		// An earlier attempt was creating the request: did it?
		found, err := w.findCreated(req, op)
		if err != nil {
			return err
		}
		if found != nil {
			w.log.Info("inbound: an earlier attempt created the request; not repeated")
			return w.opened(jira.Created{IssueKey: found.Key, IssueID: found.ID})
		}
		if age := w.b.now().Sub(time.Unix(w.prog.OpenAt, 0)); age < indexLag && !w.last {
			return errSettle{indexLag - age}
		}
	}
	// The intent, saved before the call, tells a redelivery to look first.
	w.prog.OpenAt = now
	if err := w.saveProgress(); err != nil {
		return err
	}
	created, err := w.createRequest(req) // identity.go
	if err != nil {
		var se *jira.StatusError
		if errors.As(err, &se) && (se.Status < 500 || se.Status == 503) {
			// Refused (a 4xx, or 429 and 503 with which Jira sheds load):
			// nothing was created. Other 5xx and host timeouts leave it in
			// doubt.
			w.prog.OpenAt = 0
			_ = w.saveProgress()
		}
		return err
	}
	w.log.Info("inbound: request created")
	if created.Unlabeled {
		w.log.Warn("inbound: the request type has no Labels field on its form; the request was raised without its channel label")
	}
	// Mapped at once, before any other call: an agent's reply, or a JSM
	// automation's comment on a new request, may come back as an event
	// while this delivery is still marking and recording; unmapped, it
	// would be taken for another request's and dropped.
	if err := w.mapIssue(created.IssueKey, created.IssueID); err != nil {
		return err
	}
	// The mark must precede the progress record to be of use; without it
	// a redelivery recognizes the request by its summary and description.
	if err := w.jc.MarkIssue(created.IssueKey, op); err != nil {
		w.log.Warn("inbound: request not marked", "err", err)
	}
	return w.opened(created)
}

// opened records the request this event created.
func (w *inbound) opened(created jira.Created) error {
	w.prog.Issue, w.prog.IssueID, w.prog.Created, w.prog.OpenAt = created.IssueKey, created.IssueID, true, 0
	// The description carries the text and the caption.
	w.prog.Steps = append(w.prog.Steps, "text")
	return w.saveProgress()
}

// mapIssue maps a request this delivery created to its chat.
func (w *inbound) mapIssue(key, id string) error {
	rev := issueRecord{Project: w.job.Project, Channel: w.job.Channel, Chat: w.job.Event.ChatID, IssueID: id, Thread: w.eventThread(), At: w.b.now().Unix()}
	return w.st.put(issueKey(key), &rev, 0)
}

// findCreated looks for the request an earlier attempt of this event
// created: among the app's requests of the project created since the
// intent (less clockSkew), the one marked with op; else an unmarked one
// (the attempt ended between creating and marking) with exactly this
// event's summary and description that no other chat is mapped to, which
// it marks. nil when there is none.
func (w *inbound) findCreated(req jira.NewRequest, op string) (*jira.Found, error) {
	since := time.Unix(w.prog.OpenAt, 0).Add(-clockSkew)
	list, err := w.jc.RecentIssues(w.job.Project, w.b.now().Sub(since))
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Op == op {
			return &list[i], nil
		}
	}
	for i := range list {
		f := &list[i]
		if f.Op != "" || f.Created.Before(since) || !jira.SameText(f.Summary, req.Summary) || !jira.SameText(f.Description, req.Description) {
			continue
		}
		var rev issueRecord
		mapped, err := w.st.get(issueKey(f.Key), &rev)
		if err != nil {
			return nil, err
		}
		if mapped && (rev.Project != w.job.Project || rev.Channel != w.job.Channel || rev.Chat != w.job.Event.ChatID) {
			continue // another chat's request with the same words
		}
		if err := w.jc.MarkIssue(f.Key, op); err != nil {
			return nil, err
		}
		return f, nil
	}
	return nil, nil
}

// deliver adds the text and files of the message to w.prog.Issue.
func (w *inbound) deliver(accepted []int) error {
	ev := &w.job.Event
	issue := w.prog.Issue
	// A caption travels with its file; text without an accepted file, or
	// whose file cannot travel, is a comment of its own.
	captionWithFile := len(accepted) > 0 && ev.Attachments[accepted[0]].Size <= w.ch.Limits().Download
	if ev.Wiki != "" && !captionWithFile {
		body := commentBody(ev)
		if err := w.jiraStep("text", issue, sameBody(body), func(op string) error {
			return w.addPublic(issue, body, op)
		}); err != nil {
			return err
		}
	}
	for n, i := range accepted {
		a := ev.Attachments[i]
		comment := ""
		if n == 0 && ev.Wiki != "" && !w.prog.has("text") {
			comment = commentBody(ev)
		}
		if err := w.attach(strconv.Itoa(i), a, comment); err != nil {
			return err
		}
	}
	if w.prog.Created && len(accepted) == 0 {
		return nil // a new request, no comment: it waits for support already
	}
	return w.lastStep("support", func() error { return w.backToSupport(issue) })
}

// backToSupport leaves the request where the customer's own comment would
// have: waiting for support. The bridge's comments are the app's, which JSM
// counts as the team's, so its "Transition on comment" rule leaves a request
// waiting for the customer (or moves it there) after the customer wrote;
// the bridge moves it back (RATIONALE.md, "Why does a customer's message
// move the request, and how?"). A failure here does not undo the delivered
// message: only a temporary one before the host's last attempt is retried.
func (w *inbound) backToSupport(issue string) error {
	moved := false
	st, err := w.jc.Status(issue)
	if err == nil && strings.EqualFold(strings.TrimSpace(st.Name), jira.WaitingForCustomer) {
		moved, err = w.jc.TransitionTo(issue, jira.WaitingForSupport)
		if err == nil && !moved {
			w.log.Warn("inbound: no transition to waiting for support; the request keeps waiting for the customer")
		}
	}
	switch {
	case err == nil:
		if moved {
			w.log.Info("inbound: request moved back to waiting for support")
		}
		return nil
	case errors.Is(err, jira.ErrTemporary) && !w.last:
		return err
	}
	w.log.Warn("inbound: request status not checked after the customer's message", "err", err)
	return nil
}

// attach carries one file: download from the messenger, upload to the
// service desk, attach to the request with its caption.
func (w *inbound) attach(id string, a channel.Attachment, comment string) error {
	name := "att" + id
	if w.prog.has(name) || w.prog.has("big"+id) {
		return nil
	}
	tooLarge := a.Size > w.ch.Limits().Download
	if !tooLarge {
		issue := w.prog.Issue
		err := w.jiraStep(name, issue, withFile(a.Name, comment), func(op string) error {
			data, err := w.ch.Download(a)
			if err != nil {
				return err
			}
			ids, err := w.jc.AttachTemporaryFile(w.cfg.ServiceDeskID, a.Name, a.MIME, data)
			if err != nil {
				return err
			}
			// The service desk API takes no properties: the comment JSM adds
			// with the file is marked in a second call.
			id, err := w.jc.Attach(issue, ids, true, comment)
			if err != nil {
				return err
			}
			w.mark(issue, id, op)
			return nil
		})
		if !errors.Is(err, channel.ErrTooLarge) && !errors.Is(err, sdk.ErrLimitExceeded) {
			if err == nil && comment != "" {
				w.prog.Steps = append(w.prog.Steps, "text")
				return w.saveProgress()
			}
			return err
		}
		tooLarge = true
	}
	// Over the download limit: tell the customer and the agents, and keep
	// the caption as a comment of its own.
	w.log.Info("inbound: file over the download limit", "bytes", a.Size)
	if comment != "" {
		if err := w.jiraStep("text", w.prog.Issue, sameBody(comment), func(op string) error {
			return w.addPublic(w.prog.Issue, comment, op)
		}); err != nil {
			return err
		}
	}
	if err := w.replyStep("big"+id+".notice", fill(w.texts().TooLarge, "{name}", a.Name)); err != nil {
		return err
	}
	return w.jiraStep("big"+id, w.prog.Issue, nil, func(op string) error {
		note := fill(noteTooLarge, "{name}", escapeWiki(a.Name), "{size}", sizeText(a.Size), "{channel}", channelTitle(w.job.Channel))
		_, err := w.jc.AddMarkedComment(w.prog.Issue, note, false, op)
		return err
	})
}

func sizeText(n int64) string {
	if n <= 0 {
		return "size unknown"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// ChannelLabel is the label of every request raised from a channel
// ("chatbridge-telegram"), for JSM queues and automation.
func ChannelLabel(name string) string { return "chatbridge-" + channelOf(name) }

func channelTitle(name string) string {
	switch name = channelOf(name); name {
	case "telegram":
		return "Telegram"
	case "viber":
		return "Viber"
	case "whatsapp":
		return "WhatsApp"
	}
	return name
}
