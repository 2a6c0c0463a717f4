package jira

import (
	"errors"
	"testing"
)

func TestCommentBodyReadsTheWikiText(t *testing.T) {
	env, c := fakeJira(200, `{"id":"10071","body":"Please *restart* the router.","jsdPublic":true}`)
	body, err := c.CommentBody("SUP-7", "10071")
	if err != nil || body != "Please *restart* the router." {
		t.Fatalf("%q %v", body, err)
	}
	if r := env.JiraAPI.Requests()[0]; r.Method != "GET" || r.URL != "/rest/api/2/issue/SUP-7/comment/10071" {
		t.Errorf("%s %s", r.Method, r.URL)
	}
	_, c = fakeJira(404, `{"errorMessages":["Can not find a comment for the id: 10071."]}`)
	if _, err := c.CommentBody("SUP-7", "10071"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted comment: %v", err)
	}
	if _, err := c.CommentBody("SUP-7", "../x"); err == nil {
		t.Error("a malformed id was asked for")
	}
}
