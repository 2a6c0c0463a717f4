package sdk

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONErrorQuotesNothingOfTheInput(t *testing.T) {
	type chat struct {
		ID int64 `json:"id"`
	}
	type update struct {
		UpdateID int64            `json:"update_id"`
		Chat     chat             `json:"chat"`
		Counts   map[string]int   `json:"counts"`
		Nested   map[string]*chat `json:"nested"`
	}
	for _, tc := range []struct {
		input, secret, want string
	}{
		{`{"update_id": 99999999999999999999999}`, "99999999999999999999999", "json: update_id is not int64"},
		{`{"chat": {"id": "5123456789"}}`, "5123456789", "json: chat.id is not int64"},
		{`{"counts": {"SUP-81": "many"}}`, "SUP-81", "json: counts is not int"},
		{`{"nested": {"5123456789": {"id": true}}}`, "5123456789", "json: nested.id is not int64"},
		{`{"chat": {"id": 1}} trailing-secret-text`, "trailing-secret-text", "json: invalid JSON at byte 21"},
		{`{"chat": {"id": 1`, "", "json: invalid JSON at byte 17"},
	} {
		var u update
		raw := json.Unmarshal([]byte(tc.input), &u)
		if raw == nil {
			t.Fatalf("%s decoded", tc.input)
		}
		got := JSONError(raw)
		if got.Error() != tc.want {
			t.Errorf("JSONError(%v) = %q, want %q", raw, got, tc.want)
		}
		if tc.secret != "" && strings.Contains(got.Error(), tc.secret) {
			t.Errorf("JSONError(%v) quotes %s", raw, tc.secret)
		}
	}
	if JSONError(nil) != nil {
		t.Error("JSONError(nil) is not nil")
	}
}
