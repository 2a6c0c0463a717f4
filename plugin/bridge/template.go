package bridge

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/whatsapp"
	"github.com/chatbridge/chatbridge/plugin/jira"
	"github.com/chatbridge/chatbridge/plugin/sdk"
)

// # Replies outside the reply window: approved templates
//
// WhatsApp delivers free-form messages only within 24 hours of the
// customer's last message; outside them only a message template Meta has
// approved reaches the customer. A project may name its approved templates
// (Config.Templates: name, language, body parameters, where {key} is the
// request's key). An agent's reply outside the window is then held: the
// bridge keeps a sealed held record per chat naming the reply (request key
// and comment id, no text), sends the template in the chat's language (else
// the first) once per window's length, and tells the agents in an internal
// note. When the customer answers (any message or button, which opens the
// window), the webhook queues each held reply again; the outbound consumer
// reads the comment's current text from Jira, checks it is still public,
// and sends it. A reply not released within heldTTL is not delivered, as
// the note says. Without templates, a reply outside the window gets the
// note only, as before (window.go).

// heldTTL is how long held replies wait for the customer's answer.
const heldTTL = 7 * 24 * time.Hour

// maxHeld bounds the replies held for one chat; later ones get the
// ordinary "not delivered" note.
const maxHeld = 20

// maxTemplates bounds a project's templates (one per language, in practice).
const maxTemplates = 10

// heldKey names a chat's held replies; like seen:, by chat id.
//
//	held:<PROJECT>:<channel>:<chatId>   heldRecord (TTL 7 d; deleted when the customer answers)
func heldKey(project, ch, chatID string) string { return "held:" + project + ":" + ch + ":" + chatID }

// heldRecord lists a chat's replies waiting for the customer. It holds no
// text: each reply is read from Jira when it is sent.
type heldRecord struct {
	Replies []heldReply `json:"replies"`
	// Template is when the template was last sent (Unix seconds); 0 before.
	Template int64 `json:"template,omitempty"`
	At       int64 `json:"at"` // when the first reply was held
}

type heldReply struct {
	Issue   string `json:"issue"`
	Comment string `json:"comment"`
}

// WindowTemplate is an approved message template the bridge sends to
// re-open a conversation outside the reply window.
type WindowTemplate struct {
	// Name is the template's name as Meta approved it ("support_reply_waiting").
	Name string `json:"name"`
	// Language is its language code as approved ("en", "en_US").
	Language string `json:"language"`
	// Params fill the body's {{1}}, {{2}}... in order; "{key}" in one is
	// the request's key. No other placeholder: a template carries no
	// customer or agent content.
	Params []string `json:"params,omitempty"`
}

var templatePlaceholder = regexp.MustCompile(`\{[a-z]+\}`)

// templateProblems checks a project's templates: WhatsApp only, names and
// languages as Meta writes them, parameters with {key} only.
func templateProblems(cfg *Config, errs map[string]string) {
	if len(cfg.Templates) == 0 {
		return
	}
	if cfg.Channel != whatsapp.Name {
		errs["templates"] = "Message templates are WhatsApp's; this project's channel has no reply window."
		return
	}
	if len(cfg.Templates) > maxTemplates {
		errs["templates"] = fmt.Sprintf("At most %d templates.", maxTemplates)
		return
	}
	var langs []string
	for _, t := range cfg.Templates {
		switch {
		case !whatsapp.ValidTemplateName(t.Name):
			errs["templates"] = "Template name " + quoteShort(t.Name) + ": lower-case letters, digits and _, as approved in WhatsApp Manager."
		case !whatsapp.ValidTemplateLanguage(t.Language):
			errs["templates"] = "Template language " + quoteShort(t.Language) + ": a code such as en or en_US."
		case slices.Contains(langs, t.Language):
			errs["templates"] = "Two templates for the language " + quoteShort(t.Language) + "."
		case len(t.Params) > 10:
			errs["templates"] = "At most 10 parameters per template."
		}
		langs = append(langs, t.Language)
		for _, p := range t.Params {
			if strings.TrimSpace(p) == "" || utf8.RuneCountInString(p) > 200 || templatePlaceholder.MatchString(strings.ReplaceAll(p, "{key}", "")) {
				errs["templates"] = "A template parameter is 1 to 200 characters; the only placeholder is {key}."
			}
		}
	}
}

// windowTemplate is the template for a chat whose customer speaks lang:
// the one in that language, else the first.
func (c *Config) windowTemplate(lang string) (WindowTemplate, bool) {
	if len(c.Templates) == 0 {
		return WindowTemplate{}, false
	}
	lang = supportedLanguage(lang)
	for _, t := range c.Templates {
		if lang != "" && strings.EqualFold(strings.SplitN(t.Language, "_", 2)[0], lang) {
			return t, true
		}
	}
	return c.Templates[0], true
}

// reopening is one reply held for a chat outside its window, and what
// holding it and inviting the customer back needs; both the outbound
// consumer (the bridge knew the window was closed) and a 131047 refusal
// reported later (it did not) use it.
type reopening struct {
	st       store
	now      time.Time
	window   time.Duration
	attempt  uint32
	key      string // the chat's held record
	chat     string
	this     heldReply
	tpl      WindowTemplate
	sender   channel.Templater
	recordID func(id string) // keeps the template's message id for its receipt
}

func (b *Bridge) reopening(st store, cfg *Config, ch channel.Channel, project, channelName, chat, lang, issue, comment string, attempt uint32) (*reopening, bool) {
	tpl, ok := cfg.windowTemplate(lang)
	sender, canSend := ch.(channel.Templater)
	w, windowed := ch.(channel.Windowed)
	if !ok || !canSend || !windowed || !jira.ValidID(comment) || !jira.ValidIssueKey(issue) {
		return nil, false
	}
	return &reopening{st: st, now: b.now(), window: w.ReplyWindow(), attempt: attempt, key: heldKey(project, channelName, chat),
		chat: chat, this: heldReply{Issue: issue, Comment: comment}, tpl: tpl, sender: sender, recordID: func(string) {}}, true
}

// hold adds the reply to the chat's held record; full when it holds
// maxHeld already.
func (r *reopening) hold() (full bool, err error) {
	var rec heldRecord
	found, err := r.st.get(r.key, &rec)
	if err != nil {
		return false, err
	}
	if !found {
		rec = heldRecord{At: r.now.Unix()}
	}
	if !slices.Contains(rec.Replies, r.this) {
		if len(rec.Replies) >= maxHeld {
			return true, nil
		}
		rec.Replies = append(rec.Replies, r.this)
	}
	return false, r.st.put(r.key, &rec, heldTTL)
}

// invite sends the template, unless one went out less than a window's
// length ago. A template the messenger refuses for good takes the reply
// out of the held record: it will not be released, and the caller's error
// becomes the agents' failure note.
func (r *reopening) invite() error {
	var rec heldRecord
	found, err := r.st.get(r.key, &rec)
	if err != nil || !found {
		return err // released meanwhile: the customer answered
	}
	if rec.Template != 0 && r.now.Sub(time.Unix(rec.Template, 0)) < r.window {
		return nil // invited already; one template per window's length
	}
	params := make([]string, 0, len(r.tpl.Params))
	for _, p := range r.tpl.Params {
		params = append(params, strings.ReplaceAll(p, "{key}", r.this.Issue))
	}
	id, err := r.sender.SendTemplate(r.chat, channel.Template{Name: r.tpl.Name, Language: r.tpl.Language, Params: params})
	if err != nil {
		if _, temporary := retryAfter(err, r.attempt); !temporary {
			rec.Replies = slices.DeleteFunc(rec.Replies, func(h heldReply) bool { return h == r.this })
			_ = r.st.put(r.key, &rec, heldTTL)
		}
		return err
	}
	r.recordID(id)
	rec.Template = r.now.Unix()
	return r.st.put(r.key, &rec, heldTTL)
}

// note is the agents' note for a held reply.
func (r *reopening) note(channelName string) string {
	return fill(noteTemplateSent, "{channel}", channelTitle(channelName), "{window}", windowText(r.window),
		"{template}", r.tpl.Name, "{days}", fmt.Sprint(int(heldTTL/(24*time.Hour))))
}

// reopen handles an agent's reply outside the window on a channel with
// templates: the reply is held, the template sent (once per window), the
// agents told. ok is false where the project or channel has no template.
func (o *outbound) reopen() (ok bool, err error) {
	r, ok := o.b.reopening(o.st, &o.cfg, o.ch, o.job.Project, o.rev.Channel, o.rev.Chat, o.chat.Lang, o.job.Issue, o.job.Comment, o.attempt)
	if !ok {
		return false, nil
	}
	r.recordID = o.sentID // a later failure of the template becomes the agents' note (receipts.go)
	full := false
	if err := o.step("hold", func() (err error) { full, err = r.hold(); return err }); err != nil {
		return true, err
	}
	if full {
		return true, o.windowNote()
	}
	if err := o.step("template", r.invite); err != nil {
		return true, err
	}
	o.log.Info("outbound: outside the reply window; reply held and the customer invited back")
	return true, o.note("windownote", r.note(o.rev.Channel))
}

// reopenRefused handles a reply the messenger refused because the window
// had closed (131047) where the bridge did not know it (its record lost or
// older than the window's slack): held and invited back as above, instead
// of the failure note. ok is false where the project has no template.
func (w *inbound) reopenRefused(rec sentRecord) (ok bool, err error) {
	r, ok := w.b.reopening(w.st, &w.cfg, w.ch, w.job.Project, w.job.Channel, w.job.Event.ChatID, w.chat.Lang, rec.Issue, rec.Comment, w.attempt)
	if !ok {
		return false, nil
	}
	r.recordID = func(id string) {
		sent := sentRecord{Issue: rec.Issue, Reply: rec.Reply + ".template", At: r.now.Unix()}
		if err := w.st.put(sentKey(w.job.Project, w.kind.Short, id), &sent, SentTTL); err != nil {
			w.log.Warn("inbound: template not recorded; a later failure will not be noted", "err", err)
		}
	}
	full := false
	if err := w.step("hold", func() (err error) { full, err = r.hold(); return err }); err != nil || full {
		return !full, err
	}
	if err := w.step("template", r.invite); err != nil {
		return true, err
	}
	w.log.Info("inbound: reply refused outside the window; held and the customer invited back")
	note := r.note(w.job.Channel)
	return true, w.jiraStep("heldnote", rec.Issue, nil, func(op string) error {
		_, err := w.jc.AddMarkedComment(rec.Issue, note, false, op)
		return err
	})
}

// noteTemplateSent tells the agents their reply waits for the customer.
const noteTemplateSent = "The customer last wrote more than {window} ago, and {channel} delivers free-form replies only within that time. " +
	"The customer was invited back with the approved template \"{template}\"; this reply will be delivered when they answer (if they do within {days} days)."

// releaseHeld queues a chat's held replies again once the customer wrote,
// which opened the window. A failure keeps the record: the customer's next
// message tries again, and each reply is queued once (its dedupe record).
func (b *Bridge) releaseHeld(env *sdk.Env, project, ch, chatID string) {
	st := store{env.Storage}
	key := heldKey(project, ch, chatID)
	var rec heldRecord
	found, err := st.get(key, &rec)
	if err != nil || !found {
		return
	}
	log := logger(env, "project", project, "channel", ch)
	for _, r := range rec.Replies {
		job := outboundJob{Kind: jobComment, Project: project, Issue: r.Issue, Comment: r.Comment, Verify: true, Held: true,
			Dedupe: commentDedupeKey(project, r.Comment) + ":held:" + fmt.Sprint(rec.At)}
		if err := queueOnce(env, log, job, chatKey(project, ch, chatID)); err != nil {
			log.Warn("webhook: held reply not queued yet; the next message tries again", "err", err)
			return
		}
	}
	if err := st.del(key); err != nil {
		log.Warn("webhook: held replies queued; their record stays until it expires", "err", err)
	}
	log.Info("webhook: the customer answered; held replies queued", "records", len(rec.Replies))
}

// heldContent reads a held reply's current text from Jira; gone when the
// comment no longer exists.
func (o *outbound) heldContent() (gone bool, err error) {
	if !o.job.Held || o.job.Content.Wiki != "" || len(o.job.Content.ADF) > 0 {
		return false, nil
	}
	body, err := o.jc.CommentBody(o.job.Issue, o.job.Comment)
	if errors.Is(err, jira.ErrNotFound) {
		o.log.Info("outbound: held reply deleted in Jira meanwhile; not sent")
		return true, nil
	}
	if err != nil {
		return false, err
	}
	o.job.Content = channel.Content{Wiki: body}
	return strings.TrimSpace(body) == "", nil
}
