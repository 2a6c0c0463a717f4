package simctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Rule is one fault: the next Count calls of Service that match Match fail
// with Status. It is also the JSON body of POST /_sim/fail.
type Rule struct {
	// Service is the simulator the rule is for: "telegram" or "jira".
	Service string `json:"service"`
	// Match is the call key to match (see the package documentation); "*"
	// matches all, and a key ending in "*" every key with that prefix
	// ("PUT /rest/api/3/comment/*").
	Match string `json:"match"`
	// Status is the HTTP status to answer, 400-599.
	Status int `json:"status"`
	// RetryAfter is the wait in seconds a 429 carries (Telegram's
	// parameters.retry_after, Jira's Retry-After). Default 0: the simulator
	// chooses 1.
	RetryAfter int `json:"retry_after,omitempty"`
	// Count is how many calls fail. Default 0 means 1; -1 means every call
	// until the rules are cleared.
	Count int `json:"count,omitempty"`
	// Description replaces the simulator's error text, when set.
	Description string `json:"description,omitempty"`
	// HoldSeconds holds the call this long before the fault is answered,
	// or until the caller goes away: a test can kill a client while its
	// call is pending, and the call has no effect. Default 0: at once.
	HoldSeconds int `json:"hold_seconds,omitempty"`
}

// matches reports whether the rule applies to a call key.
func (r Rule) matches(key string) bool {
	if prefix, ok := strings.CutSuffix(r.Match, "*"); ok {
		return strings.HasPrefix(key, prefix)
	}
	return r.Match == key
}

// Hold waits HoldSeconds, or until ctx (the call's) is done.
func (r Rule) Hold(ctx context.Context) {
	if r.HoldSeconds <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(r.HoldSeconds) * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Errors of Decode.
var (
	ErrBadRule = errors.New("simctl: bad rule")
)

// maxBody bounds a control request body.
const maxBody = 1 << 20

// Decode reads a Rule from JSON, strictly (unknown fields are refused), and
// fills in the defaults.
func Decode(r io.Reader) (Rule, error) {
	var rule Rule
	dec := json.NewDecoder(io.LimitReader(r, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rule); err != nil {
		return Rule{}, fmt.Errorf("%w: %w", ErrBadRule, err)
	}
	switch {
	case rule.Service == "":
		return Rule{}, fmt.Errorf("%w: service is required", ErrBadRule)
	case rule.Match == "":
		return Rule{}, fmt.Errorf("%w: match is required (\"*\" for every call)", ErrBadRule)
	case rule.Status < 400 || rule.Status > 599:
		return Rule{}, fmt.Errorf("%w: status %d is not 400-599", ErrBadRule, rule.Status)
	case rule.RetryAfter < 0:
		return Rule{}, fmt.Errorf("%w: negative retry_after", ErrBadRule)
	case rule.HoldSeconds < 0 || rule.HoldSeconds > 3600:
		return Rule{}, fmt.Errorf("%w: hold_seconds %d is not 0-3600", ErrBadRule, rule.HoldSeconds)
	case rule.Count < -1:
		return Rule{}, fmt.Errorf("%w: count %d (want -1, or 0 and up)", ErrBadRule, rule.Count)
	}
	if rule.Count == 0 {
		rule.Count = 1
	}
	return rule, nil
}

// Faults is the rules of one simulator. The zero value is empty and ready.
type Faults struct {
	mu    sync.Mutex // guards rules
	rules []Rule
}

// Add appends a rule.
func (s *Faults) Add(r Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, r)
}

// Take returns the first rule matching key and uses it up by one call.
func (s *Faults) Take(key string) (Rule, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rules {
		r := &s.rules[i]
		if !r.matches(key) {
			continue
		}
		got := *r
		if r.Count > 0 {
			r.Count--
			if r.Count == 0 {
				s.rules = append(s.rules[:i], s.rules[i+1:]...)
			}
		}
		return got, true
	}
	return Rule{}, false
}

// Rules returns the rules still active, with their remaining counts.
func (s *Faults) Rules() []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rule{}, s.rules...)
}

// Clear removes every rule.
func (s *Faults) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// FailHandler serves /_sim/fail for one service: POST adds a rule (a rule for
// another service is refused with 400, so that a caller who mounts one
// simulator alone notices), GET lists the active rules, DELETE clears them.
func FailHandler(service string, s *Faults) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			rule, err := Decode(r.Body)
			if err != nil {
				WriteError(w, http.StatusBadRequest, err.Error())
				return
			}
			if rule.Service != service {
				WriteError(w, http.StatusBadRequest, fmt.Sprintf("simctl: service %q is not served here (this is %q)", rule.Service, service))
				return
			}
			s.Add(rule)
			WriteJSON(w, http.StatusOK, rule)
		case http.MethodGet:
			WriteJSON(w, http.StatusOK, s.Rules())
		case http.MethodDelete:
			s.Clear()
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			WriteError(w, http.StatusMethodNotAllowed, "method not allowed")
		}
	})
}

// WriteJSON writes v as the JSON answer of a control call.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// WriteError writes a control-API error: {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// DecodeJSON reads a control request body into v strictly: unknown fields
// and trailing data are refused.
func DecodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
