package jira

import (
	"errors"
	"fmt"
)

// Feedback is a request's customer satisfaction feedback (JSM's
// CSATFeedbackFullDTO): a rating of 1 to 5 and an optional comment.
type Feedback struct {
	Rating  int
	Comment string // plain text; "" when none
}

// ErrBadRating reports a rating outside JSM's 1 to 5.
var ErrBadRating = errors.New("jira: rating must be 1 to 5")

type feedbackDTO struct {
	Type    string `json:"type"`
	Rating  int    `json:"rating"`
	Comment *struct {
		Body string `json:"body"`
	} `json:"comment,omitempty"`
}

// PostFeedback adds the satisfaction feedback of a request: POST
// /rest/servicedeskapi/request/{key}/feedback, which JSM allows the
// reporter or the app. JSM refuses it (a 4xx) where the request type does
// not collect feedback.
func (c *Client) PostFeedback(issueKey string, f Feedback) error {
	if err := checkKey(issueKey); err != nil {
		return err
	}
	if f.Rating < 1 || f.Rating > 5 {
		return ErrBadRating
	}
	in := feedbackDTO{Type: "csat", Rating: f.Rating}
	if f.Comment != "" {
		in.Comment = &struct {
			Body string `json:"body"`
		}{f.Comment}
	}
	return c.doJSON("POST", "/rest/servicedeskapi/request/"+issueKey+"/feedback", in, nil)
}

// GetFeedback reads a request's feedback; found is false when it has none
// (JSM answers 404 then, as for a request it does not know).
func (c *Client) GetFeedback(issueKey string) (f Feedback, found bool, err error) {
	if err := checkKey(issueKey); err != nil {
		return Feedback{}, false, err
	}
	var out feedbackDTO
	err = c.do("GET", "/rest/servicedeskapi/request/"+issueKey+"/feedback", nil, nil, &out)
	if errors.Is(err, ErrNotFound) {
		return Feedback{}, false, nil
	}
	if err != nil {
		return Feedback{}, false, err
	}
	f.Rating = out.Rating
	if out.Comment != nil {
		f.Comment = out.Comment.Body
	}
	return f, out.Rating != 0, nil
}

// SatisfactionProperty is the issue property that holds a rating where JSM
// takes no feedback: {"rating": n, "scale": 5, "channel": "telegram"}.
const SatisfactionProperty = "chatbridge.satisfaction"

// SetSatisfaction sets SatisfactionProperty on an issue.
func (c *Client) SetSatisfaction(issueKey string, rating int, channel string) error {
	if err := checkKey(issueKey); err != nil {
		return err
	}
	if rating < 1 || rating > 5 {
		return ErrBadRating
	}
	v := map[string]any{"rating": rating, "scale": 5, "channel": channel}
	if err := c.doJSON("PUT", "/rest/api/2/issue/"+issueKey+"/properties/"+SatisfactionProperty, v, nil); err != nil {
		return fmt.Errorf("jira: satisfaction property: %w", err)
	}
	return nil
}
