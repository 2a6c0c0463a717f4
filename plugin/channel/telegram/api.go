package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// BaseURL is the Bot API's address; the manifest declares its host for egress.
const BaseURL = "https://api.telegram.org"

// ErrMarkup reports a message Telegram could not parse as HTML
// (400 "can't parse entities").
var ErrMarkup = errors.New("telegram: can't parse entities")

// ErrThread reports a send into a topic the chat no longer has (400
// "message thread not found": the user deleted it, or the bot's topic
// mode is off).
var ErrThread = errors.New("telegram: message thread not found")

// Error is a Bot API failure: a reply with ok:false, or an HTTP status
// without a JSON reply.
type Error struct {
	Method      string
	Code        int    // error_code, else the HTTP status
	Description string // Telegram's description, e.g. "Forbidden: bot was blocked by the user"
	// RetryAfterSeconds is parameters.retry_after of a 429.
	RetryAfterSeconds int
	// MigrateToChatID is parameters.migrate_to_chat_id: the group became a supergroup.
	MigrateToChatID int64
}

func (e *Error) Error() string {
	return "telegram: " + e.Method + ": " + strconv.Itoa(e.Code) + " " + e.Description
}

// Is maps the error onto the sentinels of package channel.
func (e *Error) Is(target error) bool {
	desc := strings.ToLower(e.Description)
	switch target {
	case channel.ErrUnauthorized:
		return e.Code == 401 || e.Code == 404 && e.Method == "getMe"
	case channel.ErrBlocked:
		// 403 covers "bot was blocked by the user", "user is deactivated"
		// and "bot was kicked from the group chat": none is worth a retry.
		return e.Code == 403
	case channel.ErrTemporary:
		return e.Code == 429 || e.Code >= 500
	case channel.ErrTooLarge:
		return e.Code == 413 || strings.Contains(desc, "too big") || strings.Contains(desc, "too large")
	case channel.ErrNotFound:
		return e.Code == 400 && (strings.Contains(desc, "chat not found") || strings.Contains(desc, "wrong file_id") ||
			strings.Contains(desc, "invalid file_id"))
	case ErrMarkup:
		return e.Code == 400 && strings.Contains(desc, "can't parse entities")
	case ErrThread:
		return e.Code == 400 && strings.Contains(desc, "message thread not found")
	}
	return false
}

// RetryAfter implements channel.Waiter.
func (e *Error) RetryAfter() time.Duration { return time.Duration(e.RetryAfterSeconds) * time.Second }

// MigratedTo implements channel.Migrator.
func (e *Error) MigratedTo() string {
	if e.MigrateToChatID == 0 {
		return ""
	}
	return strconv.FormatInt(e.MigrateToChatID, 10)
}

// Client calls the Bot API through the host's fetch with the token named by
// reference. The zero value is not usable; fill both fields.
type Client struct {
	Fetch sdk.Fetcher
	// TokenSecret names the host secret holding the bot token.
	TokenSecret string
}

// reply is the envelope of every Bot API answer.
type reply struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

func (c *Client) methodURL(method string) string {
	return BaseURL + "/bot" + abi.SecretRef(c.TokenSecret) + "/" + method
}

// Call invokes method with params encoded as JSON and decodes the result
// into out (which may be nil).
func (c *Client) Call(method string, params, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram: %s: %w", method, err)
	}
	return c.do(method, "application/json", body, out)
}

// Upload is a file part of a multipart call.
type Upload struct {
	Field string // "document", "photo"
	Name  string
	MIME  string
	Data  []byte
}

// CallMultipart invokes method with fields and one file as multipart/form-data.
func (c *Client) CallMultipart(method string, fields [][2]string, f Upload, out any) error {
	var buf bytes.Buffer
	buf.Grow(len(f.Data) + 1024)
	w := multipart.NewWriter(&buf)
	for _, kv := range fields {
		if err := w.WriteField(kv[0], kv[1]); err != nil {
			return fmt.Errorf("telegram: %s: %w", method, err)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+quoteParam(f.Field)+`"; filename="`+quoteParam(f.Name)+`"`)
	mimeType := f.MIME
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	h.Set("Content-Type", mimeType)
	part, err := w.CreatePart(h)
	if err != nil {
		return fmt.Errorf("telegram: %s: %w", method, err)
	}
	if _, err := part.Write(f.Data); err != nil {
		return fmt.Errorf("telegram: %s: %w", method, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("telegram: %s: %w", method, err)
	}
	return c.do(method, w.FormDataContentType(), buf.Bytes(), out)
}

// quoteParam makes s safe inside a quoted MIME parameter.
func quoteParam(s string) string {
	return strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", " ", "\n", " ").Replace(s)
}

func (c *Client) do(method, contentType string, body []byte, out any) error {
	resp, err := c.Fetch.Fetch(&abi.Request{
		Method:  "POST",
		URL:     c.methodURL(method),
		Headers: []abi.Header{{Name: "Content-Type", Value: contentType}},
		Body:    body,
	})
	if err != nil {
		return transportError(method, err)
	}
	return decodeReply(method, resp, out)
}

// transportError classifies a failed fetch.
func transportError(method string, err error) error {
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		// The token secret is missing: the project's configuration is broken.
		return fmt.Errorf("telegram: %s: token secret missing: %w (%w)", method, channel.ErrUnauthorized, err)
	case errors.Is(err, sdk.ErrLimitExceeded):
		return fmt.Errorf("telegram: %s: %w (%w)", method, channel.ErrTooLarge, err)
	case errors.Is(err, sdk.ErrUnavailable), errors.Is(err, sdk.ErrTimeout):
		return fmt.Errorf("telegram: %s: %w (%w)", method, channel.ErrTemporary, err)
	}
	return fmt.Errorf("telegram: %s: %w", method, err)
}

func decodeReply(method string, resp *abi.Response, out any) error {
	var r reply
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		return &Error{Method: method, Code: int(resp.Status), Description: "reply is not JSON"}
	}
	if !r.OK {
		e := &Error{Method: method, Code: r.ErrorCode, Description: r.Description}
		if e.Code == 0 {
			e.Code = int(resp.Status)
		}
		if r.Parameters != nil {
			e.RetryAfterSeconds = r.Parameters.RetryAfter
			e.MigrateToChatID = r.Parameters.MigrateToChatID
		}
		if e.Code == 429 && e.RetryAfterSeconds <= 0 {
			e.RetryAfterSeconds = 1
		}
		return e
	}
	if resp.Status/100 != 2 {
		return &Error{Method: method, Code: int(resp.Status), Description: "ok reply with HTTP status " + strconv.Itoa(int(resp.Status))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("telegram: %s: result: %w", method, sdk.JSONError(err))
	}
	return nil
}

// File is the result of getFile.
type File struct {
	FileID   string `json:"file_id"`
	FileSize int64  `json:"file_size"`
	FilePath string `json:"file_path"`
}

// GetFile asks for a file's download path.
func (c *Client) GetFile(fileID string) (File, error) {
	var f File
	err := c.Call("getFile", map[string]string{"file_id": fileID}, &f)
	return f, err
}

// DownloadFile fetches a file by the path getFile gave; the URL holds the
// token by reference and is never logged.
func (c *Client) DownloadFile(path string) ([]byte, error) {
	if path == "" || strings.Contains(path, "..") || strings.ContainsAny(path, "?#{}\\ \r\n") || strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("telegram: download: unusable file path")
	}
	resp, err := c.Fetch.Fetch(&abi.Request{Method: "GET", URL: BaseURL + "/file/bot" + abi.SecretRef(c.TokenSecret) + "/" + path})
	if err != nil {
		return nil, transportError("download", err)
	}
	switch {
	case resp.Status == 200:
		return resp.Body, nil
	case resp.Status == 404:
		return nil, fmt.Errorf("telegram: download: %w", channel.ErrNotFound)
	}
	return nil, decodeReply("download", resp, nil)
}
