package whatsapp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/plugin/channel"
	"github.com/chatbridge/chatbridge/plugin/channel/plaintext"
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Name is the channel's name in configuration and storage keys.
const Name = "whatsapp"

// SignatureHeader carries "sha256=" and the HMAC-SHA256 of a delivery's body.
const SignatureHeader = "X-Hub-Signature-256"

// Suffixes of the secrets derived from the configured token name.
const (
	SuffixAppSecret = ".app"
	SuffixPhone     = ".phone"
	SuffixAccount   = ".waba"
)

// Derived lists the suffixes of the secrets StoreToken writes besides the
// access token, so that the bridge deletes them with it.
var Derived = []string{SuffixAppSecret, SuffixPhone, SuffixAccount}

// Limits are the Cloud API's: 4096 characters of text, 1024 of a caption,
// documents up to 100 MB; the bridge downloads at most 20 MB.
var Limits = channel.Limits{
	Text:     4096,
	Caption:  1024,
	Download: 20 << 20,
	Upload:   100 << 20,
	Photo:    5 << 20,
}

var tokenPattern = regexp.MustCompile(`^([0-9]{5,20}):([0-9]{5,20}):([0-9a-fA-F]{32}):([A-Za-z0-9_-]{20,1000})$`)

// TokenProblem explains why token is not PHONE_NUMBER_ID:WABA_ID:APP_SECRET:ACCESS_TOKEN, or returns "".
func TokenProblem(token string) string {
	if token == "" {
		return "A token is required."
	}
	if !tokenPattern.MatchString(token) {
		return "Enter PHONE_NUMBER_ID:WABA_ID:APP_SECRET:ACCESS_TOKEN (the phone number id, the business account id, the app secret and a system user access token)."
	}
	return ""
}

// StoreToken stores the parts of a token: the access token under name, the
// rest under name plus the suffixes of Derived.
func StoreToken(s sdk.Secrets, name, token string) error {
	m := tokenPattern.FindStringSubmatch(token)
	if m == nil {
		return fmt.Errorf("whatsapp: malformed token: %w", sdk.ErrInvalidArgument)
	}
	for _, kv := range [][2]string{{name, m[4]}, {name + SuffixAppSecret, m[3]}, {name + SuffixPhone, m[1]}, {name + SuffixAccount, m[2]}} {
		if err := s.Set(kv[0], []byte(kv[1])); err != nil {
			return fmt.Errorf("whatsapp: store credentials: %w", err)
		}
	}
	return nil
}

// VerifySecretName names the secret holding a project's verify token while
// Register runs.
func VerifySecretName(project string) string { return "chatbridge.wa.verify." + project }

// Handshake answers Meta's verification GET (hub.mode=subscribe), comparing
// hub.verify_token by reference with the project's verify token: the one
// of a registration under way (VerifySecretName), or webhook, the name of
// the secret the saved configuration registered as its verify token, for
// Meta's later re-verifications ("" when none is saved). It returns nil
// for any other request.
func Handshake(env *sdk.Env, req *abi.WebTriggerRequest, webhook string) *abi.Response {
	mode := hubParam(req.Query, "mode")
	if req.Method != "GET" || mode == "" {
		return nil
	}
	deny := &abi.Response{Status: 403, Headers: []abi.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("forbidden")}
	project := abi.Get(req.Query, "project")
	token, challenge := hubParam(req.Query, "verify_token"), hubParam(req.Query, "challenge")
	if mode != "subscribe" || token == "" || challenge == "" || len(challenge) > 256 ||
		project == "" || abi.KeyProblem(VerifySecretName(project)) != "" {
		return deny
	}
	for _, name := range []string{VerifySecretName(project), webhook} {
		if name == "" {
			continue
		}
		ok, err := env.Secrets.Compare(name, []byte(token))
		if err != nil && !errors.Is(err, sdk.ErrNotFound) {
			// Not a refusal: Meta will try again.
			return &abi.Response{Status: 503, Headers: []abi.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte("unavailable")}
		}
		if ok {
			return &abi.Response{Status: 200, Headers: []abi.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte(challenge)}
		}
	}
	return deny
}

// hubParam returns the query parameter "hub.<name>". The names are not
// written out whole: the audit reads https:// followed by an 8-byte string
// constant such as "hub.mode", which the linker may place next to it, as a
// URL of an undeclared host.
func hubParam(query []abi.Header, name string) string {
	for _, q := range query {
		if rest, ok := strings.CutPrefix(q.Name, "hub."); ok && rest == name {
			return q.Value
		}
	}
	return ""
}

// Channel is one WhatsApp business phone number. Create it with New.
type Channel struct {
	client  client
	secrets sdk.Secrets
	names   channel.Secrets
}

var _ channel.Channel = (*Channel)(nil)

// New returns the channel whose credentials StoreToken stored under s.Token.
func New(env *sdk.Env, s channel.Secrets) *Channel {
	return &Channel{client: client{fetch: env.Fetch, token: s.Token}, secrets: env.Secrets, names: s}
}

func (c *Channel) ref(suffix string) string { return abi.SecretRef(c.names.Token + suffix) }

// Name implements channel.Channel.
func (c *Channel) Name() string { return Name }

// Limits implements channel.Channel.
func (c *Channel) Limits() channel.Limits { return Limits }

// Authenticate implements channel.Channel: X-Hub-Signature-256 must be
// sha256= and the HMAC-SHA256 of the body keyed with the app secret.
func (c *Channel) Authenticate(req *abi.WebTriggerRequest) error {
	sig := strings.TrimSpace(abi.Get(req.Headers, SignatureHeader))
	hexMAC, found := strings.CutPrefix(sig, "sha256=")
	mac, err := hex.DecodeString(hexMAC)
	if !found || err != nil || len(mac) != 32 || c.names.Token == "" {
		return fmt.Errorf("whatsapp: delivery without a valid signature: %w", channel.ErrUnauthorized)
	}
	ok, err := c.secrets.VerifyHMAC(c.names.Token+SuffixAppSecret, sdk.SHA256, req.Body, mac)
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return fmt.Errorf("whatsapp: app secret missing: %w", channel.ErrUnauthorized)
		}
		return fmt.Errorf("whatsapp: verify signature: %w", err)
	}
	if !ok {
		return fmt.Errorf("whatsapp: wrong delivery signature: %w", channel.ErrUnauthorized)
	}
	return nil
}

// Parse implements channel.Channel: messages to other phone numbers of the
// same business account are left out.
func (c *Channel) Parse(body []byte) ([]channel.Inbound, error) {
	return Parse(body, func(id string) bool {
		if id == "" {
			return false
		}
		ok, err := c.secrets.Compare(c.names.Token+SuffixPhone, []byte(id))
		return err == nil && ok
	})
}

// Render implements channel.Channel: plain text in parts of at most 4096
// characters.
func (c *Channel) Render(content channel.Content) []string {
	return plaintext.Render(content, Limits.Text, 0)
}

func (c *Channel) messagesURL() string { return GraphURL + c.ref(SuffixPhone) + "/messages" }

// send posts a message and returns its id (a wamid). A chat is a phone
// number, addressed by "to", or the business-scoped user id of a customer
// who hides their number, addressed by "recipient" (Meta's usernames
// reference; "to" would take precedence, so it is left out).
func (c *Channel) send(chatID string, msg map[string]any) (string, error) {
	switch {
	case validPhone(chatID):
		msg["to"] = chatID
	case ValidUserID(chatID):
		msg["recipient"] = chatID
	default:
		return "", fmt.Errorf("whatsapp: bad chat id: %w", channel.ErrNotFound)
	}
	msg["messaging_product"] = "whatsapp"
	msg["recipient_type"] = "individual"
	body, err := json.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("whatsapp: send: %w", err)
	}
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := c.client.do("send", "POST", c.messagesURL(), "application/json", body, &out); err != nil {
		return "", err
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		// Accepted, but nothing to follow its statuses by.
		return "", nil
	}
	return out.Messages[0].ID, nil
}

var _ channel.Receipted = (*Channel)(nil)

// ReplyWindow is how long after the customer's last message free-form
// replies are allowed; later ones need an approved template.
const ReplyWindow = 24 * time.Hour

var _ channel.Windowed = (*Channel)(nil)

// ReplyWindow implements channel.Windowed.
func (c *Channel) ReplyWindow() time.Duration { return ReplyWindow }

// SendText implements channel.Channel. Outside the 24-hour window the error
// matches ErrWindowClosed.
func (c *Channel) SendText(chatID, text string) error {
	_, err := c.SendTextID(chatID, text)
	return err
}

// SendTextID implements channel.Receipted: SendText returning the wamid,
// which a later failed status names.
func (c *Channel) SendTextID(chatID, text string) (string, error) {
	return c.send(chatID, map[string]any{"type": "text", "text": map[string]any{"body": text, "preview_url": false}})
}

// SendFile implements channel.Channel: the file is uploaded as media, then
// sent as an image, audio or video where its type and size allow (media.go),
// else as a document.
func (c *Channel) SendFile(chatID string, f channel.File) error {
	_, err := c.SendFileID(chatID, f)
	return err
}

// SendFileID implements channel.Receipted: SendFile returning the wamid.
func (c *Channel) SendFileID(chatID string, f channel.File) (string, error) {
	if !validChat(chatID) {
		return "", fmt.Errorf("whatsapp: bad chat id: %w", channel.ErrNotFound)
	}
	if int64(len(f.Data)) > Limits.Upload {
		return "", fmt.Errorf("whatsapp: file of %d bytes: %w", len(f.Data), channel.ErrTooLarge)
	}
	mimeType := f.MIME
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("messaging_product", "whatsapp")
	_ = w.WriteField("type", mimeType)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+quoteParam(f.Name)+`"`)
	h.Set("Content-Type", mimeType)
	part, err := w.CreatePart(h)
	if err == nil {
		_, err = part.Write(f.Data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return "", fmt.Errorf("whatsapp: upload: %w", err)
	}
	var up struct {
		ID string `json:"id"`
	}
	if err := c.client.do("upload", "POST", GraphURL+c.ref(SuffixPhone)+"/media", w.FormDataContentType(), buf.Bytes(), &up); err != nil {
		return "", err
	}
	if up.ID == "" {
		return "", fmt.Errorf("whatsapp: upload gave no media id")
	}
	typ := mediaType(mimeType, int64(len(f.Data))) // media.go
	obj := map[string]any{"id": up.ID}
	if typ == "document" {
		obj["filename"] = f.Name
	}
	if f.Caption != "" && typ != "audio" {
		// Audio messages take no caption.
		obj["caption"] = truncate(f.Caption, Limits.Caption)
	}
	return c.send(chatID, map[string]any{"type": typ, typ: obj})
}

func quoteParam(s string) string {
	return strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", " ", "\n", " ").Replace(s)
}

// mediaHosts are where the Graph API puts media; the access token goes to
// no other host.
var mediaHosts = map[string]bool{"graph.facebook.com": true, "lookaside.fbsbx.com": true}

// Download implements channel.Channel: the media's URL by id, then the
// media itself, both with the access token.
func (c *Channel) Download(a channel.Attachment) ([]byte, error) {
	if a.Size > Limits.Download {
		return nil, fmt.Errorf("whatsapp: file of %d bytes: %w", a.Size, channel.ErrTooLarge)
	}
	if !validMediaID(a.Ref) {
		return nil, fmt.Errorf("whatsapp: bad media id: %w", channel.ErrNotFound)
	}
	var info struct {
		URL      string `json:"url"`
		FileSize int64  `json:"file_size"`
	}
	if err := c.client.do("media", "GET", GraphURL+a.Ref, "", nil, &info); err != nil {
		return nil, err
	}
	if info.FileSize > Limits.Download {
		return nil, fmt.Errorf("whatsapp: file of %d bytes: %w", info.FileSize, channel.ErrTooLarge)
	}
	u, err := url.Parse(info.URL)
	if err != nil || u.Scheme != "https" || !mediaHosts[u.Hostname()] || strings.Contains(info.URL, "{{") {
		return nil, fmt.Errorf("whatsapp: media URL refused: %w", channel.ErrNotFound)
	}
	resp, err := c.client.fetch.Fetch(&abi.Request{Method: "GET", URL: info.URL, Headers: []abi.Header{c.client.auth()}})
	if err != nil {
		return nil, transportError("media download", err)
	}
	if resp.Status/100 != 2 {
		return nil, decodeError("media download", resp)
	}
	if int64(len(resp.Body)) > Limits.Download {
		return nil, fmt.Errorf("whatsapp: file of %d bytes: %w", len(resp.Body), channel.ErrTooLarge)
	}
	return resp.Body, nil
}

func validMediaID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Validate implements channel.Channel: the phone number's record.
func (c *Channel) Validate() (channel.Bot, error) {
	var p struct {
		ID                 string `json:"id"`
		DisplayPhoneNumber string `json:"display_phone_number"`
		VerifiedName       string `json:"verified_name"`
	}
	if err := c.client.do("phone number", "GET", GraphURL+c.ref(SuffixPhone)+"?fields=id,display_phone_number,verified_name", "", nil, &p); err != nil {
		return channel.Bot{}, err
	}
	if p.ID == "" {
		return channel.Bot{}, fmt.Errorf("whatsapp: phone number without id: %w", channel.ErrUnauthorized)
	}
	name := p.DisplayPhoneNumber
	if name == "" {
		name = p.VerifiedName
	}
	return channel.Bot{ID: p.ID, Username: name}, nil
}

// Register implements channel.Channel: the business account's webhook is
// pointed at url with secret as verify token. Meta verifies the URL during
// the call, before the bridge saves the configuration, so the token is kept
// under VerifySecretName for Handshake for the duration of the call; later
// re-verifications are answered with the secret itself, which the bridge
// keeps (channel.Secrets.Webhook) as long as the configuration.
func (c *Channel) Register(hookURL, secret string) error {
	u, err := url.Parse(hookURL)
	project := ""
	if err == nil {
		project = u.Query().Get("project")
	}
	if project == "" || abi.KeyProblem(VerifySecretName(project)) != "" {
		return fmt.Errorf("whatsapp: webhook URL without a project")
	}
	if err := c.secrets.Set(VerifySecretName(project), []byte(secret)); err != nil {
		return fmt.Errorf("whatsapp: store verify token: %w", err)
	}
	defer func() { _ = c.secrets.Delete(VerifySecretName(project)) }()
	body, _ := json.Marshal(map[string]string{"override_callback_uri": hookURL, "verify_token": secret})
	return c.client.do("subscribe", "POST", GraphURL+c.ref(SuffixAccount)+"/subscribed_apps", "application/json", body, nil)
}

// Unregister implements channel.Channel: the app's subscription to the
// business account is removed.
func (c *Channel) Unregister() error {
	return c.client.do("unsubscribe", "DELETE", GraphURL+c.ref(SuffixAccount)+"/subscribed_apps", "", nil, nil)
}
