package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/whatsapp"
	"github.com/chatbridge/chatbridge/plugin/jira"
)

// Delivery receipts (channel.Receipted, WhatsApp's statuses): the messenger
// accepts a reply at once and reports later, in a webhook, that it did not
// reach the customer. The bridge keeps, for each message of an agent's
// reply it sent, a record from the message's id (hashed) to the request and
// the reply; a failed status finds the request by it and adds one internal
// note per reply, however many of its messages failed and however often
// the status is delivered. Statuses that report progress (sent, delivered,
// read) are not events at all and change nothing.

// SentTTL is how long a sent message can still be reported undelivered:
// Meta reports nearly all failures within seconds and retries a webhook
// for up to seven days; a failure reported later is logged and dropped.
const SentTTL = 7 * 24 * time.Hour

func sentKey(project, short, messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return "sent:" + project + ":" + short + ":" + hex.EncodeToString(sum[:16])
}

func sentNoteKey(project, short, reply string) string {
	return "sent:" + project + ":" + short + ":note:" + reply
}

// sentRecord maps a message the bridge sent to the request and the reply it
// carried. It holds no content and no chat id.
type sentRecord struct {
	Issue string `json:"issue"`
	// Reply is the nonce of the outbound job that sent it: every message
	// of one reply shares it.
	Reply string `json:"reply"`
	// At is when it was sent (Unix seconds), for the inventory's ages.
	At int64 `json:"at,omitempty"`
	// Comment is the reply's comment id, so that a refusal outside the
	// reply window can hold it for a template (template.go).
	Comment string `json:"comment,omitempty"`
}

// sendText sends one part, recording its message id when the channel
// reports deliveries later.
func (o *outbound) sendText(chat, text string) error {
	r, ok := o.ch.(channel.Receipted)
	if !ok || o.job.Kind != jobComment {
		return o.ch.SendText(chat, text)
	}
	id, err := r.SendTextID(chat, text)
	o.sentID(id)
	return err
}

// sendFile is sendText for a file.
func (o *outbound) sendFile(chat string, f channel.File) error {
	r, ok := o.ch.(channel.Receipted)
	if !ok || o.job.Kind != jobComment {
		return o.ch.SendFile(chat, f)
	}
	id, err := r.SendFileID(chat, f)
	o.sentID(id)
	return err
}

// sentID records a sent message's id. A failed write only loses the note a
// later failure would give, and the message is out: it is logged, not
// returned, so that the part is not sent twice.
func (o *outbound) sentID(id string) {
	if id == "" {
		return
	}
	rec := sentRecord{Issue: o.job.Issue, Reply: o.job.Nonce, At: o.b.now().Unix(), Comment: o.job.Comment}
	if err := o.st.put(sentKey(o.job.Project, o.short, id), &rec, SentTTL); err != nil {
		o.log.Warn("outbound: sent message not recorded; a later failure will not be noted", "err", err)
	}
}

// undelivered handles a messenger's report that a message did not reach the
// customer: an internal note on the reply's request, once per reply.
func (w *inbound) undelivered() error {
	ev := &w.job.Event
	if ev.MessageID == "" || ev.Failure == nil {
		return nil
	}
	var rec sentRecord
	found, err := w.st.get(sentKey(w.job.Project, w.kind.Short, ev.MessageID), &rec)
	if err != nil {
		return err
	}
	if !found || !jira.ValidIssueKey(rec.Issue) || rec.Reply == "" {
		// Not an agent's reply (a bot text), or reported after SentTTL.
		w.log.Info("inbound: failed delivery of a message without a record; nothing to note", "code", ev.Failure.Code)
		return nil
	}
	log := w.log.With("code", ev.Failure.Code)
	// One note per reply: the first failed message of the reply claims it.
	won, held, err := w.st.claimFor(sentNoteKey(w.job.Project, w.kind.Short, rec.Reply), w.job.Nonce, SentTTL)
	if err != nil {
		return err
	}
	if !won && held.Owner != w.job.Nonce {
		log.Info("inbound: the reply's failed delivery is already noted")
		return nil
	}
	if ev.Failure.Code == whatsapp.CodeWindowClosed {
		if ok, err := w.reopenRefused(rec); ok { // template.go
			return err
		}
	}
	note := fill(noteUndelivered, "{channel}", channelTitle(w.job.Channel), "{reason}", ev.Failure.Reason,
		"{code}", strconv.Itoa(ev.Failure.Code))
	err = w.jiraStep("undelivered", rec.Issue, nil, func(op string) error {
		_, err := w.jc.AddMarkedComment(rec.Issue, note, false, op)
		return err
	})
	if errors.Is(err, jira.ErrNotFound) {
		log.Info("inbound: the request of an undelivered reply no longer exists")
		return nil
	}
	if err == nil {
		log.Info("inbound: undelivered reply noted for the agents")
	}
	return err
}
