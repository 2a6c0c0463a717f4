package jira

// CommentBody reads a comment's current text in wiki markup through the
// platform API (GET /rest/api/2/issue/{key}/comment/{id}): a reply the
// bridge held while the customer could not be reached is sent as it reads
// when they can (window.go in package bridge), edits included.
func (c *Client) CommentBody(issueKey, commentID string) (string, error) {
	if err := checkKey(issueKey); err != nil {
		return "", err
	}
	if err := checkID(commentID); err != nil {
		return "", err
	}
	var out struct {
		Body string `json:"body"`
	}
	if err := c.do("GET", "/rest/api/2/issue/"+issueKey+"/comment/"+commentID, nil, nil, &out); err != nil {
		return "", err
	}
	return out.Body, nil
}
