package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// GraphVersion is the Graph API version the channel calls: the version of
// Meta's published specification (testdata/specs/whatsapp/cloud-api.json),
// which TestGraphVersionIsTheSpecifications holds it to.
const GraphVersion = "v23.0"

// GraphURL is the Graph API's address and version; the manifest declares its
// host (and lookaside.fbsbx.com, where media lives) for egress.
const GraphURL = "https://graph.facebook.com/" + GraphVersion + "/"

// Graph API error codes the bridge tells apart.
const (
	CodeAccessToken    = 190    // the access token expired or was revoked
	CodePermission     = 10     // the token lacks a permission
	CodeRateLimit      = 4      // application request limit
	CodeSpamRate       = 131048 // spam rate limit
	CodeTooMany        = 131056 // too many messages to one user
	CodeThroughput     = 130429 // throughput limit
	CodeUndeliverable  = 131026 // not on WhatsApp, outdated client, or the business is blocked
	CodeWindowClosed   = 131047 // more than 24 hours since the customer's last message
	CodeMediaTooLarge  = 131052 // media download error
	CodeServiceUnavail = 131000 // something went wrong
	CodeNotAllowed     = 131030 // recipient not in the allowed list (test numbers)
	CodeExperiment     = 130472 // the customer's number is part of an experiment
	CodeUserIDRefused  = 131062 // a business-scoped user id cannot receive this message
)

// failureReasons says in words what the error codes of a failed status mean,
// after Meta's error code reference.
var failureReasons = map[int]string{
	CodeUndeliverable:  "the message could not be delivered: the customer may not use WhatsApp any more, may run an outdated app, or may have blocked the business",
	CodeExperiment:     "the customer's number is part of a WhatsApp experiment that withholds messages from businesses",
	CodeWindowClosed:   "more than 24 hours have passed since the customer last wrote, and WhatsApp delivers free-form replies only within that time",
	CodeServiceUnavail: "WhatsApp reported an unknown error",
	CodeNotAllowed:     "the customer's number is not on the test number's allowed list",
	CodeUserIDRefused:  "WhatsApp does not deliver this kind of message to a customer known only by a username",
	131049:             "WhatsApp withheld the message to keep the customer's experience healthy",
	131053:             "WhatsApp could not process the file",
	131016:             "WhatsApp was overloaded",
	132000:             "the template's parameters do not match the approved template",
	132001:             "WhatsApp knows no approved template of that name and language",
}

// FailureReason says what the error code of a failed status means; title,
// Meta's own words, is the fallback for a code the table lacks.
func FailureReason(code int, title string) string {
	if r, ok := failureReasons[code]; ok {
		return r
	}
	if title = strings.TrimSpace(title); title != "" {
		return "WhatsApp reported: " + truncate(title, 200)
	}
	return "WhatsApp gave no reason"
}

// RateWait is the wait after a rate-limit error, which carries no time.
const RateWait = time.Minute

// ErrWindowClosed reports a reply outside the 24-hour customer service
// window: only a template message would reach the customer.
var ErrWindowClosed = errors.New("whatsapp: outside the 24-hour window")

// Error is a Graph API failure.
type Error struct {
	Call    string
	HTTP    int
	Code    int
	Subcode int
	Message string
}

func (e *Error) Error() string {
	return "whatsapp: " + e.Call + ": HTTP " + strconv.Itoa(e.HTTP) + " code " + strconv.Itoa(e.Code) + " " + e.Message
}

// Is maps the error onto the sentinels of package channel and ErrWindowClosed.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrWindowClosed:
		return e.Code == CodeWindowClosed
	case channel.ErrUnauthorized:
		return e.Code == CodeAccessToken || e.Code == CodePermission || e.HTTP == 401
	case channel.ErrBlocked:
		return e.Code == CodeUndeliverable
	case channel.ErrNotFound:
		// 100 with subcode 33: the object does not exist (a media id).
		return e.Code == CodeNotAllowed || e.HTTP == 404 || e.Code == 100 && e.Subcode == 33
	case channel.ErrTemporary:
		return e.rateLimited() || e.Code == CodeServiceUnavail || e.HTTP >= 500
	case channel.ErrTooLarge:
		return e.HTTP == 413
	}
	return false
}

func (e *Error) rateLimited() bool {
	return e.Code == CodeRateLimit || e.Code == CodeSpamRate || e.Code == CodeTooMany || e.Code == CodeThroughput || e.HTTP == 429
}

// RetryAfter implements channel.Waiter for rate limits.
func (e *Error) RetryAfter() time.Duration {
	if e.rateLimited() {
		return RateWait
	}
	return 0
}

// client calls the Graph API with the access token by reference.
type client struct {
	fetch sdk.Fetcher
	token string // name of the access token secret
}

func (c *client) auth() abi.Header {
	return abi.Header{Name: "Authorization", Value: "Bearer " + abi.SecretRef(c.token)}
}

// do sends a request to the Graph API and decodes a 2xx answer into out.
func (c *client) do(call, method, url, contentType string, body []byte, out any) error {
	headers := []abi.Header{c.auth()}
	if contentType != "" {
		headers = append(headers, abi.Header{Name: "Content-Type", Value: contentType})
	}
	resp, err := c.fetch.Fetch(&abi.Request{Method: method, URL: url, Headers: headers, Body: body})
	if err != nil {
		return transportError(call, err)
	}
	if resp.Status/100 != 2 {
		return decodeError(call, resp)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("whatsapp: %s: reply: %w", call, sdk.JSONError(err))
	}
	return nil
}

func decodeError(call string, resp *abi.Response) error {
	var r struct {
		Error struct {
			Message string `json:"message"`
			Code    int    `json:"code"`
			Subcode int    `json:"error_subcode"`
		} `json:"error"`
	}
	_ = json.Unmarshal(resp.Body, &r)
	return &Error{Call: call, HTTP: int(resp.Status), Code: r.Error.Code, Subcode: r.Error.Subcode, Message: r.Error.Message}
}

func transportError(call string, err error) error {
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return fmt.Errorf("whatsapp: %s: credentials missing: %w (%w)", call, channel.ErrUnauthorized, err)
	case errors.Is(err, sdk.ErrLimitExceeded):
		return fmt.Errorf("whatsapp: %s: %w (%w)", call, channel.ErrTooLarge, err)
	case errors.Is(err, sdk.ErrUnavailable), errors.Is(err, sdk.ErrTimeout):
		return fmt.Errorf("whatsapp: %s: %w (%w)", call, channel.ErrTemporary, err)
	}
	return fmt.Errorf("whatsapp: %s: %w", call, err)
}
