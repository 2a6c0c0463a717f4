package viber

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// BaseURL is the Bot API's address; the manifest declares its host for egress.
const BaseURL = "https://chatapi.viber.com/pa/"

// AuthHeader carries the bot token on every call.
const AuthHeader = "X-Viber-Auth-Token"

// Viber's status codes the bridge tells apart.
const (
	StatusOK                    = 0
	StatusInvalidURL            = 1
	StatusInvalidAuthToken      = 2
	StatusBadData               = 3
	StatusMissingData           = 4
	StatusReceiverNotRegistered = 5
	StatusReceiverNotSubscribed = 6
	StatusAccountBlocked        = 7
	StatusAccountNotFound       = 8
	StatusAccountSuspended      = 9
	StatusNoSuitableDevice      = 11
	StatusTooManyRequests       = 12
)

// TooManyWait is how long a status 12 (too many messages: 100 an hour to a
// user who has not replied) asks the bridge to wait.
const TooManyWait = 10 * time.Minute

// Error is a Bot API failure: a reply whose status is not 0, or an HTTP
// status without a JSON reply (Status is then -HTTP status).
type Error struct {
	Method  string
	Status  int
	Message string // status_message
	HTTP    int    // the HTTP status of the reply
}

func (e *Error) Error() string {
	return "viber: " + e.Method + ": status " + strconv.Itoa(e.Status) + " " + e.Message
}

// Is maps the error onto the sentinels of package channel.
func (e *Error) Is(target error) bool {
	switch target {
	case channel.ErrUnauthorized:
		return e.Status == StatusInvalidAuthToken || e.Status == StatusAccountNotFound ||
			e.Status == StatusAccountBlocked || e.Status == StatusAccountSuspended || e.HTTP == 401
	case channel.ErrBlocked:
		return e.Status == StatusReceiverNotSubscribed
	case channel.ErrNotFound:
		return e.Status == StatusReceiverNotRegistered
	case channel.ErrTemporary:
		return e.Status == StatusTooManyRequests || e.HTTP == 429 || e.HTTP >= 500
	case channel.ErrTooLarge:
		return e.HTTP == 413
	}
	return false
}

// RetryAfter implements channel.Waiter: status 12 backs off for TooManyWait.
func (e *Error) RetryAfter() time.Duration {
	if e.Status == StatusTooManyRequests {
		return TooManyWait
	}
	return 0
}

// Client calls the Bot API through the host's fetch with the token named by
// reference. Fill both fields.
type Client struct {
	Fetch sdk.Fetcher
	// TokenSecret names the host secret holding the bot token.
	TokenSecret string
}

// reply is the part of every answer the client reads.
type reply struct {
	Status        *int   `json:"status"`
	StatusMessage string `json:"status_message"`
}

// Call posts params as JSON to method and decodes the whole answer into
// out (which may be nil).
func (c *Client) Call(method string, params, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("viber: %s: %w", method, err)
	}
	return c.post(method, body, out)
}

func (c *Client) post(method string, body []byte, out any) error {
	resp, err := c.Fetch.Fetch(&abi.Request{
		Method: "POST",
		URL:    BaseURL + method,
		Headers: []abi.Header{
			{Name: "Content-Type", Value: "application/json"},
			{Name: AuthHeader, Value: abi.SecretRef(c.TokenSecret)},
		},
		Body: body,
	})
	if err != nil {
		return transportError(method, err)
	}
	var r reply
	if err := json.Unmarshal(resp.Body, &r); err != nil || r.Status == nil {
		return &Error{Method: method, Status: -int(resp.Status), Message: "reply is not a Viber answer", HTTP: int(resp.Status)}
	}
	if *r.Status != StatusOK {
		return &Error{Method: method, Status: *r.Status, Message: r.StatusMessage, HTTP: int(resp.Status)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("viber: %s: result: %w", method, sdk.JSONError(err))
	}
	return nil
}

// transportError classifies a failed fetch.
func transportError(method string, err error) error {
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return fmt.Errorf("viber: %s: token secret missing: %w (%w)", method, channel.ErrUnauthorized, err)
	case errors.Is(err, sdk.ErrLimitExceeded):
		return fmt.Errorf("viber: %s: %w (%w)", method, channel.ErrTooLarge, err)
	case errors.Is(err, sdk.ErrUnavailable), errors.Is(err, sdk.ErrTimeout):
		return fmt.Errorf("viber: %s: %w (%w)", method, channel.ErrTemporary, err)
	}
	return fmt.Errorf("viber: %s: %w", method, err)
}
