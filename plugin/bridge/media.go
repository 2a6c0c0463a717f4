package bridge

import (
	"errors"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/jira"
)

// Notes for agents about a customer's reactions and deletions; always
// English, like the bridge's other notes.
const (
	noteReaction        = "{name} reacted with {emoji} to a message in {channel}."
	noteReactionRemoved = "{name} took back their reaction to a message in {channel}."
	noteDeleted         = "{name} deleted one of their messages in {channel}. What it said stays on this request as it arrived."
)

// noted puts a customer's reaction (when the project relays them) or
// deletion on the chat's open request as an internal note: internal, as
// it is no reply the customer waits for and no request of theirs, and
// JSM's automation does not count an internal note as the customer
// answering. Neither opens a request; neither is stored. See RATIONALE.md,
// "Why are reactions ignored unless a project relays them?".
func (w *inbound) noted() error {
	ev := &w.job.Event
	if ev.Kind == channel.Reaction && !w.cfg.RelayReactions {
		w.log.Info("inbound: reaction ignored (the project does not relay reactions)")
		return nil
	}
	issue := w.chat.Issue
	if issue == "" {
		w.log.Info("inbound: reaction or deletion outside an open request ignored")
		return nil
	}
	if blocked, err := w.isBlocked(); err != nil || blocked {
		return err // abuse.go
	}
	text := noteText(ev, channelTitle(w.job.Channel))
	err := w.jiraStep("note", issue, nil, func(op string) error {
		_, err := w.jc.AddMarkedComment(issue, text, false, op)
		return err
	})
	if errors.Is(err, jira.ErrNotFound) {
		return nil // the request is gone: nothing to note on
	}
	if err == nil {
		w.touch(issue) // privacy.go
	}
	return err
}

// noteText is the internal note of a Reaction or Deleted event, in wiki
// markup.
func noteText(ev *channel.Inbound, channelName string) string {
	name := ev.Sender
	if name == "" {
		name = "The customer"
	}
	switch {
	case ev.Kind == channel.Deleted:
		return fill(noteDeleted, "{name}", escapeWiki(name), "{channel}", channelName)
	case ev.Reaction == "":
		return fill(noteReactionRemoved, "{name}", escapeWiki(name), "{channel}", channelName)
	}
	return fill(noteReaction, "{name}", escapeWiki(name), "{emoji}", escapeWiki(ev.Reaction), "{channel}", channelName)
}

// unrelayed leaves out the reactions of a project that does not relay
// them, before they take a dedupe record or a queue slot: the webhook
// always asks for reactions, so that the setting takes effect at once
// without registering the webhook again.
func (c *Config) unrelayed(events []channel.Inbound) []channel.Inbound {
	if c.RelayReactions {
		return events
	}
	out := events[:0:0]
	for _, ev := range events {
		if ev.Kind != channel.Reaction {
			out = append(out, ev)
		}
	}
	return out
}
