package jira

// JSM's comment-author rules (RATIONALE.md, "Why does a customer's message
// move the request, and how?"): a service project comes with the automation
// rule "Transition on comment", which moves a request to whoever it now
// waits on: a public comment by a customer (the reporter or a request
// participant, who are not on the project's team) on a request "Waiting for
// customer" moves it to "Waiting for support"; a public comment by the team
// (an agent, or any account on the team, the app's included) on a request
// "Waiting for support" moves it to "Waiting for customer". Internal
// comments move nothing. Jira runs the rule after the comment as the
// account "Automation for Jira"; the simulator runs it at once, so the
// status an answer or a later read shows already has it.

// automation is the account rule actions run as in Jira Cloud.
var automation = account{ID: "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", Name: "Automation for Jira", Type: "app"}

// The statuses the rule moves between.
const (
	waitingForSupport  = "Waiting for support"
	waitingForCustomer = "Waiting for customer"
)

// onTeam reports whether an account counts as the service project's team
// for the rule: every account but a customer. The app's account is on the
// team: an install needs it to see the desks and write internal notes.
func onTeam(a account) bool { return a.Type != "customer" }

// commentRuleLocked applies "Transition on comment" to a new comment and
// returns the transition's event, or nil when the rule does nothing (or the
// site's rule is switched off); s.mu is held.
func (s *Sim) commentRuleLocked(req *request, c *comment) *event {
	if s.cfg.NoCommentRule || !c.public {
		return nil
	}
	var to *status
	switch {
	case !onTeam(c.author) && req.status.Name == waitingForCustomer:
		to = findStatus(waitingForSupport)
	case onTeam(c.author) && req.status.Name == waitingForSupport:
		to = findStatus(waitingForCustomer)
	default:
		return nil
	}
	return s.transitionLocked(req, to, automation)
}

// withRule appends the rule's event, if any, to a comment's events.
func withRule(evs []*event, ev *event) []*event {
	if ev != nil {
		evs = append(evs, ev)
	}
	return evs
}

// customer finds a customer of the request, the reporter or a participant,
// by account id.
func (r *request) customer(id string) (account, bool) {
	for _, a := range append([]account{r.reporter}, r.participants...) {
		if a.ID == id && !onTeam(a) {
			return a, true
		}
	}
	return account{}, false
}
