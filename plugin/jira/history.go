package jira

import (
	"net/url"
	"strconv"
)

// PublicComment is a comment a customer can see in the portal.
type PublicComment struct {
	ID       string
	Body     string // wiki markup, as the service desk API returns it
	AuthorID string // the author's accountId
	Created  int64  // Unix milliseconds
}

// maxHistory bounds PublicHistory: the newest comments a widget shows.
const maxHistory = 500

// PublicHistory reads what the customer sees of a request: its description
// (GET /rest/servicedeskapi/request/{key}, requestFieldValues) and its
// public comments, oldest first (GET .../request/{key}/comment?public=true
// &internal=false, page by page until isLastPage), at most maxHistory.
// Internal comments are never asked for.
func (c *Client) PublicHistory(issueKey string) (description string, comments []PublicComment, err error) {
	if err := checkKey(issueKey); err != nil {
		return "", nil, err
	}
	var req struct {
		RequestFieldValues []struct {
			FieldID string `json:"fieldId"`
			Value   any    `json:"value"`
		} `json:"requestFieldValues"`
	}
	if err := c.do("GET", "/rest/servicedeskapi/request/"+issueKey, nil, nil, &req); err != nil {
		return "", nil, err
	}
	for _, f := range req.RequestFieldValues {
		if s, ok := f.Value.(string); ok && f.FieldID == "description" {
			description = s
		}
	}
	for start := 0; start < maxHistory; {
		q := url.Values{"public": {"true"}, "internal": {"false"}, "start": {strconv.Itoa(start)}, "limit": {"100"}}
		var page struct {
			IsLastPage bool `json:"isLastPage"`
			Values     []struct {
				ID     string `json:"id"`
				Body   string `json:"body"`
				Public bool   `json:"public"`
				Author struct {
					AccountID string `json:"accountId"`
				} `json:"author"`
				Created struct {
					EpochMillis int64 `json:"epochMillis"`
				} `json:"created"`
			} `json:"values"`
		}
		if err := c.do("GET", "/rest/servicedeskapi/request/"+issueKey+"/comment?"+q.Encode(), nil, nil, &page); err != nil {
			return "", nil, err
		}
		for _, v := range page.Values {
			if v.Public && len(comments) < maxHistory { // never an internal note, whatever the filter did
				comments = append(comments, PublicComment{ID: v.ID, Body: v.Body, AuthorID: v.Author.AccountID, Created: v.Created.EpochMillis})
			}
		}
		start += len(page.Values)
		if page.IsLastPage || len(page.Values) == 0 {
			break
		}
	}
	return description, comments, nil
}
