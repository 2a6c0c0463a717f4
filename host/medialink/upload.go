package medialink

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Errors of the upload links, beside ErrNotFound, ErrTooLarge, ErrUpstream
// and ErrInvalid.
var (
	// ErrOrigin: the upload came from a page of another origin than the
	// link's (or from none).
	ErrOrigin = errors.New("medialink: upload from another origin")
	// ErrBadUpload: the body is not multipart/form-data with one file in a
	// part named "file".
	ErrBadUpload = errors.New("medialink: upload not understood")
)

// Storage key prefixes of the upload records: a link not yet used, and the
// result of one that was.
const (
	uploadPrefix = "ul:"
	resultPrefix = "ur:"
)

// ResultTTL is how long the result of an upload (the temporary attachment
// ids) is kept for the module to attach them: Jira keeps a temporary
// attachment a short while only, and the widget asks at once.
const ResultTTL = 10 * time.Minute

// maxFormField bounds a multipart part of the upload other than the file,
// which is read and dropped.
const maxFormField = 4 << 10

// uploadRecord is what the store keeps of an upload link.
type uploadRecord struct {
	Installation string `json:"i"`
	ServiceDesk  string `json:"d"`
	Origin       string `json:"o"`
	Subject      string `json:"s"`
	MediaType    string `json:"t"` // what the module accepted; the file goes to the site as it
	MaxBytes     int64  `json:"m"`
	Expires      int64  `json:"e"` // Unix seconds
}

// UploadResult is what an upload link received: kept ResultTTL after the
// upload, for the module that minted it.
type UploadResult struct {
	Installation string   `json:"-"`
	Subject      string   `json:"subject"`
	Temporary    []string `json:"temporaryAttachmentIds"`
	Bytes        int64    `json:"bytes"`
}

// resultRecord is what the store keeps of an upload's result.
type resultRecord struct {
	Installation string   `json:"i"`
	Subject      string   `json:"s"`
	Temporary    []string `json:"t"`
	Bytes        int64    `json:"b"`
}

// uploadKey is the storage key of an upload token, prefix being uploadPrefix
// or resultPrefix: its SHA-256, never the token.
func uploadKey(prefix, token string) string {
	sum := sha256.Sum256([]byte(token))
	return prefix + hex.EncodeToString(sum[:])
}

// MintUpload stores an upload link to the service desk serviceDesk of
// installation, for a page of origin, of at most maxBytes (0:
// Config.MaxUploadBytes), valid for ttl, and returns its URL. subject is
// the module's own, handed back by Result. mediaType (abi.BareMediaType) is
// the type the module checked: the file goes to the site as mediaType,
// whatever Content-Type the page's form gives it.
func (s *Service) MintUpload(ctx context.Context, installation, serviceDesk, origin, subject, mediaType string, maxBytes int64, ttl time.Duration) (string, error) {
	if maxBytes == 0 {
		maxBytes = s.cfg.MaxUploadBytes
	}
	switch {
	case installation == "", !decimal(serviceDesk), origin == "", abi.OriginProblem(origin) != "",
		subject == "", len(subject) > abi.MaxUploadSubjectLen, !utf8.ValidString(subject),
		!abi.BareMediaType(mediaType),
		maxBytes < 0, maxBytes > s.cfg.MaxUploadBytes,
		ttl <= 0, ttl > abi.MaxUploadLinkTTL*time.Second:
		return "", ErrInvalid
	}
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	token := base64.RawURLEncoding.EncodeToString(b[:])
	rec, err := json.Marshal(uploadRecord{Installation: installation, ServiceDesk: serviceDesk, Origin: origin,
		Subject: subject, MediaType: mediaType, MaxBytes: maxBytes, Expires: s.cfg.Now().Add(ttl).Unix()})
	if err != nil {
		return "", err
	}
	if err := s.cfg.Store.Set(ctx, storage.HostInstallation, storage.Dedupe, uploadKey(uploadPrefix, token), rec, ttl); err != nil {
		return "", fmt.Errorf("medialink: store upload link: %w", err)
	}
	s.cfg.Logger.Debug("upload link minted", "installation", installation, "ttl", ttl, "max_bytes", maxBytes)
	return publicurl.Upload(s.cfg.PublicURL, token), nil
}

// Upload is a browser's POST to an upload link.
type Upload struct {
	// Origin is the request's Origin header ("" when none was sent).
	Origin string
	// ContentType is the request's Content-Type header.
	ContentType string
	// Length is the request's Content-Length, or -1 when unknown.
	Length int64
	// Body is read once, as it arrives.
	Body io.Reader
}

// Receive redeems the upload link token with u: the link is used up first
// (single use), then the page's origin must be the link's (ErrOrigin, said
// before anything else is), and the file part of the multipart body is
// streamed to the service desk's attachTemporaryFile with the
// installation's credentials as it arrives: it is never held whole, never
// written to disk or to the store. More than the link's size is
// ErrTooLarge, and the site's request is then cut short, so nothing is
// created there. The temporary attachment ids are kept ResultTTL for
// Result. ctx bounds the whole upload.
func (s *Service) Receive(ctx context.Context, token string, u Upload) (UploadResult, error) {
	if !ValidToken(token) {
		return UploadResult{}, ErrNotFound
	}
	rec, err := s.consumeUpload(ctx, token)
	if err != nil {
		return UploadResult{}, err
	}
	log := s.cfg.Logger.With("installation", rec.Installation)
	if u.Origin != rec.Origin {
		log.Warn("upload link: a page of another origin; refused, and the link is used up")
		return UploadResult{}, ErrOrigin
	}
	// The multipart framing around the file is a few hundred bytes; a
	// length past the file's limit and a generous frame is refused unread.
	if u.Length > rec.MaxBytes+maxFormField*4 {
		log.Info("upload link: announced body over the size limit", "bytes", u.Length)
		return UploadResult{}, ErrTooLarge
	}
	mt, params, err := mime.ParseMediaType(u.ContentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return UploadResult{}, ErrBadUpload
	}
	part, err := filePart(multipart.NewReader(u.Body, params["boundary"]))
	if err != nil {
		return UploadResult{}, err
	}
	name := cleanFileName(part.FileName())
	if name == "" {
		return UploadResult{}, ErrBadUpload
	}
	// The file goes to the site as the type the module checked against
	// the project's accepted kinds when it minted the link, never as the
	// form's own Content-Type, which the page may set to anything.
	ctype := rec.MediaType
	if !abi.BareMediaType(ctype) {
		ctype = "application/octet-stream"
	}
	base, auth, err := s.cfg.Sites.JiraBase(ctx, rec.Installation)
	if err != nil {
		log.Info("upload link of a gone installation")
		return UploadResult{}, ErrNotFound
	}
	target, err := url.Parse(strings.TrimSuffix(base, "/") + "/rest/servicedeskapi/servicedesk/" + rec.ServiceDesk + "/attachTemporaryFile")
	if err != nil || target.Scheme != "https" {
		return UploadResult{}, ErrUpstream
	}

	// The file goes through a pipe: the multipart writer frames what the
	// browser sends while the site's request reads it, a buffer at a time.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	file := &capped{rc: io.NopCloser(part), left: rec.MaxBytes}
	copied := make(chan struct {
		n   int64
		err error
	}, 1)
	go func() {
		h := textproto.MIMEHeader{}
		// The name as a browser sends it: UTF-8 in a quoted string, which
		// Jira reads from its own web forms (not RFC 2231's filename*).
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name)+`"`)
		h.Set("Content-Type", ctype)
		var n int64
		w, err := mw.CreatePart(h)
		if err == nil {
			n, err = io.Copy(w, file)
		}
		if err == nil {
			err = mw.Close()
		}
		_ = pw.CloseWithError(err) // nil closes with io.EOF
		copied <- struct {
			n   int64
			err error
		}{n, err}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), pr)
	if err != nil {
		_ = pr.CloseWithError(err)
		<-copied
		return UploadResult{}, ErrUpstream
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	// Jira's XSRF check for multipart, and the opt-in the service desk's
	// temporary attachments still need (JSM REST API).
	req.Header.Set("X-Atlassian-Token", "no-check")
	req.Header.Set("X-ExperimentalApi", "opt-in")
	resp, err := s.client.Do(req)
	if resp != nil {
		defer resp.Body.Close()
	}
	_ = pr.CloseWithError(errSiteDone) // unblocks the copy if the site stopped reading
	c := <-copied
	siteSide := errors.Is(c.err, errSiteDone) || errors.Is(c.err, io.ErrClosedPipe)
	switch {
	case errors.Is(c.err, ErrTooLarge):
		log.Info("upload link: file over the size limit; the site's request was cut short")
		return UploadResult{}, ErrTooLarge
	case c.err != nil && !siteSide:
		log.Info("upload link: the browser's body ended early; nothing is attached")
		return UploadResult{}, ErrBadUpload
	case err != nil:
		log.Warn("upload link: site unreachable", "timeout", errors.Is(err, context.DeadlineExceeded))
		return UploadResult{}, ErrUpstream
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		log.Info("upload link: the site refused the file's size")
		return UploadResult{}, ErrTooLarge
	case resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK:
		log.Warn("upload link: site answered", "status", resp.StatusCode)
		return UploadResult{}, ErrUpstream
	case c.err != nil:
		// The site answered before it had taken the whole file.
		log.Warn("upload link: the site answered before the file ended")
		return UploadResult{}, ErrUpstream
	}
	var out struct {
		TemporaryAttachments []struct {
			ID string `json:"temporaryAttachmentId"`
		} `json:"temporaryAttachments"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil || len(out.TemporaryAttachments) == 0 {
		log.Warn("upload link: the site's answer was not understood")
		return UploadResult{}, ErrUpstream
	}
	res := resultRecord{Installation: rec.Installation, Subject: rec.Subject, Bytes: c.n}
	for _, t := range out.TemporaryAttachments {
		if t.ID == "" || len(t.ID) > 256 {
			return UploadResult{}, ErrUpstream
		}
		res.Temporary = append(res.Temporary, t.ID)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return UploadResult{}, err
	}
	if err := s.cfg.Store.Set(ctx, storage.HostInstallation, storage.Dedupe, uploadKey(resultPrefix, token), raw, ResultTTL); err != nil {
		return UploadResult{}, fmt.Errorf("medialink: store upload result: %w", err)
	}
	log.Info("upload link: file on the site", "bytes", c.n)
	return UploadResult(res), nil
}

// errSiteDone is what the copy into the pipe meets once the site's
// request has ended.
var errSiteDone = errors.New("medialink: the site's request ended")

// Result returns what the upload link (its URL, as MintUpload returned it)
// of installation received: ErrNotFound before the upload, after
// ResultTTL, and for another installation's link. It does not use the
// result up: the module's own dedupe keeps a retried attach single.
func (s *Service) Result(ctx context.Context, installation, link string) (UploadResult, error) {
	prefix := publicurl.Upload(s.cfg.PublicURL, "")
	token, ok := strings.CutPrefix(link, prefix)
	if !ok || !ValidToken(token) {
		return UploadResult{}, ErrNotFound
	}
	raw, err := s.cfg.Store.Get(ctx, storage.HostInstallation, storage.Dedupe, uploadKey(resultPrefix, token))
	if errors.Is(err, storage.ErrNotFound) {
		return UploadResult{}, ErrNotFound
	}
	if err != nil {
		return UploadResult{}, fmt.Errorf("medialink: look up upload result: %w", err)
	}
	var rec resultRecord
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Installation != installation {
		return UploadResult{}, ErrNotFound
	}
	return UploadResult(rec), nil
}

// consumeUpload finds a live upload link and uses it up (read).
func (s *Service) consumeUpload(ctx context.Context, token string) (uploadRecord, error) {
	raw, err := s.read(ctx, uploadKey(uploadPrefix, token), true)
	if err != nil {
		return uploadRecord{}, err
	}
	var rec uploadRecord
	if err := json.Unmarshal(raw, &rec); err != nil || !decimal(rec.ServiceDesk) {
		return uploadRecord{}, ErrNotFound
	}
	if !s.cfg.Now().Before(time.Unix(rec.Expires, 0)) {
		return uploadRecord{}, ErrNotFound
	}
	return rec, nil
}

// filePart skips the parts before the one named "file" (reading at most
// maxFormField of each) and returns it.
func filePart(r *multipart.Reader) (*multipart.Part, error) {
	for i := 0; i < 8; i++ {
		p, err := r.NextPart()
		if err != nil {
			return nil, ErrBadUpload
		}
		if p.FormName() == "file" && p.FileName() != "" {
			return p, nil
		}
		if n, _ := io.Copy(io.Discard, io.LimitReader(p, maxFormField+1)); n > maxFormField {
			return nil, ErrBadUpload
		}
	}
	return nil, ErrBadUpload
}

// cleanFileName keeps a file name Jira can show: no path, no control
// characters, at most 255 characters; "" when nothing is left.
func cleanFileName(name string) string {
	if !utf8.ValidString(name) {
		return ""
	}
	name = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, name))
	if utf8.RuneCountInString(name) > 255 {
		return ""
	}
	return name
}

// UploadResult is Result as JSON, {"subject", "temporaryAttachmentIds",
// "bytes"}: what jira.upload-result hands the module.
func (s *Service) UploadResult(ctx context.Context, installation, link string) ([]byte, error) {
	r, err := s.Result(ctx, installation, link)
	if err != nil {
		return nil, err
	}
	return json.Marshal(r)
}
