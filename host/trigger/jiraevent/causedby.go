package jiraevent

import "encoding/json"

// causedBy reports whether the account caused a product event: Forge's
// selfGenerated flag, or the actor of a Jira webhook (the event's user, or
// for a comment event without one, whoever last wrote the comment). An
// empty account causes nothing.
func causedBy(payload []byte, account string) bool {
	var ev struct {
		SelfGenerated bool `json:"selfGenerated"`
		User          *struct {
			AccountID string `json:"accountId"`
		} `json:"user"`
		Comment *struct {
			Author struct {
				AccountID string `json:"accountId"`
			} `json:"author"`
			UpdateAuthor *struct {
				AccountID string `json:"accountId"`
			} `json:"updateAuthor"`
		} `json:"comment"`
	}
	if account == "" || json.Unmarshal(payload, &ev) != nil {
		return false
	}
	switch {
	case ev.SelfGenerated:
		return true
	case ev.User != nil:
		return ev.User.AccountID == account
	case ev.Comment != nil && ev.Comment.UpdateAuthor != nil:
		return ev.Comment.UpdateAuthor.AccountID == account
	case ev.Comment != nil:
		return ev.Comment.Author.AccountID == account
	}
	return false
}
