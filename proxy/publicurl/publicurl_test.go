package publicurl

import "testing"

func TestURLsJoinTheBaseAndTheRouteWithOneSlash(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{WebTrigger("https://bridge.example.com", "abc"), "https://bridge.example.com/x/abc"},
		{WebTrigger("https://bridge.example.com/", "abc"), "https://bridge.example.com/x/abc"},
		{JiraEvents("https://b.example:8443", "r1"), "https://b.example:8443/jira/r1"},
		{Download("https://b.example/", "tok"), "https://b.example/dl/tok"},
		{Upload("https://b.example/", "tok"), "https://b.example/ul/tok"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
