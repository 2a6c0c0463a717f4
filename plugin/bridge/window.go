package bridge

import (
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk"
)

// Reply windows (channel.Windowed, WhatsApp's 24 hours): the bridge keeps,
// per chat, when the customer last wrote, and does not try an agent's reply
// it knows the messenger would refuse; the agents get the internal note a
// refusal (WhatsApp's 131047) gives. The record holds a time only, and
// expires seenSlack after the window: a chat without one (older than that,
// or from before the bridge kept them) is tried, with the messenger's
// refusal as the fallback.

// seenSlack is how long a last-message record outlives its window.
const seenSlack = 7 * 24 * time.Hour

func seenKey(project, ch, chatID string) string { return "seen:" + project + ":" + ch + ":" + chatID }

// seenRecord is when the customer of a chat last wrote (Unix seconds).
type seenRecord struct {
	At int64 `json:"at"`
}

// sawCustomer remembers the time of a customer's message on a channel with
// a reply window; a button pressed is one too (Meta counts a reply button
// as a customer message, which opens the window). A failure only loses the
// early check, so it is logged.
func (b *Bridge) sawCustomer(env *sdk.Env, ch channel.Channel, project, name string, ev channel.Inbound) {
	w, ok := ch.(channel.Windowed)
	if !ok || (ev.Kind != channel.Message && ev.Kind != channel.Chosen) || ev.ChatID == "" {
		return
	}
	if err := (store{env.Storage}).put(seenKey(project, name, ev.ChatID), seenRecord{At: b.now().Unix()}, w.ReplyWindow()+seenSlack); err != nil {
		env.Log.Warn("webhook: could not note the customer's last message", "err", err)
	}
	b.releaseHeld(env, project, name, ev.ChatID) // the window is open: replies held for it go (template.go)
}

// outsideWindow reports whether the chat's channel has a reply window and
// the customer's last message is known to be older than it.
func (o *outbound) outsideWindow() (bool, error) {
	w, ok := o.ch.(channel.Windowed)
	if !ok {
		return false, nil
	}
	var rec seenRecord
	found, err := o.st.get(seenKey(o.job.Project, o.rev.Channel, o.rev.Chat), &rec)
	if err != nil || !found {
		return false, err
	}
	return !o.b.now().Before(time.Unix(rec.At, 0).Add(w.ReplyWindow())), nil
}

// windowClosed handles a job outside the reply window without a free-form
// message: a reply is held and the conversation re-opened with an approved
// template where the project has one (template.go), else it becomes the
// internal note a refusal would give; a resolution notice is dropped. A
// failed check (err) is returned instead.
func (o *outbound) windowClosed(err error) error {
	if err != nil {
		return err
	}
	o.log.Info("outbound: outside the messenger's reply window; not sent")
	if !reply(o.job.Kind) {
		return nil
	}
	if ok, err := o.reopen(); ok { // template.go
		return err
	}
	return o.windowNote()
}

// windowNote tells the agents a reply was not sent: the window is closed.
func (o *outbound) windowNote() error {
	w := o.ch.(channel.Windowed)
	title := channelTitle(o.rev.Channel)
	why := "the customer last wrote more than " + windowText(w.ReplyWindow()) + " ago, and " + title + " delivers replies only within that time"
	return o.step("windownote", func() error {
		_, err := o.jc.AddComment(o.job.Issue, fill(noteSendFailed, "{channel}", title, "{reason}", why), false)
		return err
	})
}

// windowText names a window in whole hours ("24 hours").
func windowText(d time.Duration) string {
	h := int(d / time.Hour)
	if h == 1 {
		return "1 hour"
	}
	return strconv.Itoa(h) + " hours"
}
