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
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
)

// Sites is how the service reaches an installation's Jira site (the tenant
// registry).
type Sites interface {
	// JiraBase returns the site's base URL and the Authorization header value.
	JiraBase(ctx context.Context, installation string) (baseURL, authorization string, err error)
}

// Config configures a Service. Store, Sites and PublicURL are required.
type Config struct {
	Store storage.Store
	Sites Sites
	// PublicURL is the edge's public base URL, e.g. https://bridge.example.com.
	PublicURL string
	// HTTP makes the requests to the sites; the service uses a copy with its
	// own redirect policy. Default: a client with a 5 minute timeout.
	HTTP *http.Client
	// MaxBytes caps one attachment. Default 50 MiB (Viber's file limit).
	MaxBytes int64
	// MaxUploadBytes caps one upload link's file, whatever a manifest's
	// app.uploads.maxBytes says. Default 100 MiB (the most a manifest may
	// say); at most 1 GiB.
	MaxUploadBytes int64
	// MaxTTL caps a link's lifetime. Default one hour.
	MaxTTL time.Duration
	// Logger receives structured logs, never a token. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of expiries. Default time.Now.
	Now func() time.Time
	// Claims, when set, makes a link single-use across the hosts that share
	// Store (a cluster's queue claims, host/cluster): a host redeems a link
	// only while it claims it, and only if the record is still there once
	// it does. Store must then be a storage.Fingerprinter, which names the
	// claim. Nil: single-use within this process, enough for one host.
	Claims Claimer
}

// Claimer is the part of a cluster's claims the links use.
type Claimer interface {
	Claim(ctx context.Context, name string) (bool, error)
	Release(ctx context.Context, name string) error
}

// Errors of Mint and Open.
var (
	// ErrNotFound: the link is unknown, used or expired, or its attachment
	// or installation is gone.
	ErrNotFound = errors.New("medialink: no such link")
	// ErrTooLarge: the attachment is over Config.MaxBytes.
	ErrTooLarge = errors.New("medialink: attachment over the size limit")
	// ErrUpstream: the site did not serve the attachment.
	ErrUpstream = errors.New("medialink: the site did not serve the attachment")
	// ErrInvalid: an argument of Mint is out of bounds.
	ErrInvalid = errors.New("medialink: invalid link request")
)

// DefaultMaxUploadBytes is Config.MaxUploadBytes's default: 100 MiB.
const DefaultMaxUploadBytes = 100 << 20

// TokenLen is the length of a token: 32 bytes in unpadded URL-safe base64.
const TokenLen = 43

// keyPrefix begins the storage key of every link record.
const keyPrefix = "dl:"

// record is what the store keeps of a link.
type record struct {
	Installation string `json:"i"`
	Attachment   string `json:"a"`
	Expires      int64  `json:"e"` // Unix seconds
}

// Service mints and redeems links. It is safe for concurrent use.
type Service struct {
	cfg    Config
	client *http.Client

	// redeem serialises the look-up and delete of a consumed link, so that
	// two requests with one token cannot both find the record.
	redeem sync.Mutex
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sites == nil || cfg.PublicURL == "" {
		return nil, errors.New("medialink: Config.Store, Sites and PublicURL are required")
	}
	if _, ok := cfg.Store.(storage.Fingerprinter); cfg.Claims != nil && !ok {
		return nil, errors.New("medialink: Config.Claims needs a Store that is a storage.Fingerprinter")
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 50 << 20
	}
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if cfg.MaxUploadBytes < 0 || cfg.MaxUploadBytes > 1<<30 {
		return nil, errors.New("medialink: Config.MaxUploadBytes must be 1 byte to 1 GiB")
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &http.Client{Timeout: 5 * time.Minute}
	if cfg.HTTP != nil {
		cp := *cfg.HTTP
		c = &cp
	}
	c.CheckRedirect = checkRedirect
	return &Service{cfg: cfg, client: c}, nil
}

// checkRedirect follows at most five redirects, to https only, and drops
// the credentials when the redirect leaves the site's host.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("medialink: too many redirects")
	}
	if req.URL.Scheme != "https" {
		return errors.New("medialink: redirect to a non-https URL")
	}
	if !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
		req.Header.Del("Authorization")
	}
	return nil
}

// hashKey is the storage key of a token: its SHA-256, never the token.
func hashKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return keyPrefix + hex.EncodeToString(sum[:])
}

// ValidToken reports whether s has the shape of a token; the edge answers
// 404 to anything else without a look-up.
func ValidToken(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// Mint stores a link to attachment id of installation valid for ttl and
// returns its URL. The id must be Jira's decimal id.
func (s *Service) Mint(ctx context.Context, installation, attachmentID string, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > s.cfg.MaxTTL || !decimal(attachmentID) || installation == "" {
		return "", ErrInvalid
	}
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	token := base64.RawURLEncoding.EncodeToString(b[:])
	rec, err := json.Marshal(record{Installation: installation, Attachment: attachmentID, Expires: s.cfg.Now().Add(ttl).Unix()})
	if err != nil {
		return "", err
	}
	if err := s.cfg.Store.Set(ctx, storage.HostInstallation, storage.Dedupe, hashKey(token), rec, ttl); err != nil {
		return "", fmt.Errorf("medialink: store link: %w", err)
	}
	s.cfg.Logger.Debug("download link minted", "installation", installation, "attachment", attachmentID, "ttl", ttl)
	return publicurl.Download(s.cfg.PublicURL, token), nil
}

// Download is an attachment on its way to a client. Close Body when done.
type Download struct {
	ContentType string
	// Name is the file name Jira gave, or "".
	Name string
	// Size is the length in bytes, or -1 when the site did not say.
	Size int64
	Body io.ReadCloser
}

// ContentDisposition is the header value to send: always an attachment,
// never shown inline.
func (d *Download) ContentDisposition() string {
	if d.Name == "" {
		return "attachment"
	}
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": d.Name}); v != "" {
		return v
	}
	return "attachment"
}

// Open redeems token: with consume the link is used up first (GET), without
// it stays (HEAD). ctx must stay live until the Body is closed.
func (s *Service) Open(ctx context.Context, token string, consume bool) (*Download, error) {
	if !ValidToken(token) {
		return nil, ErrNotFound
	}
	rec, err := s.lookup(ctx, token, consume)
	if err != nil {
		return nil, err
	}
	log := s.cfg.Logger.With("installation", rec.Installation, "attachment", rec.Attachment)
	base, auth, err := s.cfg.Sites.JiraBase(ctx, rec.Installation)
	if err != nil {
		log.Info("download link of a gone installation")
		return nil, ErrNotFound
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/rest/api/3/attachment/content/" + rec.Attachment)
	if err != nil || u.Scheme != "https" {
		return nil, ErrUpstream
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, ErrUpstream
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "*/*")
	resp, err := s.client.Do(req)
	if err != nil {
		log.Warn("download link: site unreachable", "timeout", errors.Is(err, context.DeadlineExceeded))
		return nil, ErrUpstream
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, ErrNotFound
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		log.Warn("download link: site answered", "status", resp.StatusCode)
		return nil, ErrUpstream
	case resp.ContentLength > s.cfg.MaxBytes:
		resp.Body.Close()
		log.Info("download link: attachment over the size limit", "bytes", resp.ContentLength)
		return nil, ErrTooLarge
	}
	d := &Download{ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength,
		Body: &capped{rc: resp.Body, left: s.cfg.MaxBytes}}
	if d.ContentType == "" {
		d.ContentType = "application/octet-stream"
	}
	if _, p, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		d.Name = p["filename"]
	}
	log.Info("download link served", "consumed", consume, "bytes", strconv.FormatInt(d.Size, 10))
	return d, nil
}

// lookup finds a live record; with consume it uses the link up first.
func (s *Service) lookup(ctx context.Context, token string, consume bool) (record, error) {
	raw, err := s.read(ctx, hashKey(token), consume)
	if err != nil {
		return record{}, err
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil || !decimal(rec.Attachment) {
		return record{}, ErrNotFound
	}
	if !s.cfg.Now().Before(time.Unix(rec.Expires, 0)) {
		return record{}, ErrNotFound
	}
	return rec, nil
}

// read reads a link's record at key. With consume it deletes it under the
// lock (and, on a cluster, under the link's claim) before anything is done
// with it, so that a link works once, even when two redemptions race, and a
// failure afterwards leaves no second chance.
func (s *Service) read(ctx context.Context, key string, consume bool) ([]byte, error) {
	if consume {
		s.redeem.Lock()
		defer s.redeem.Unlock()
		if s.cfg.Claims != nil {
			release, err := s.claim(ctx, key)
			if err != nil {
				return nil, err
			}
			defer release()
		}
	}
	raw, err := s.cfg.Store.Get(ctx, storage.HostInstallation, storage.Dedupe, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("medialink: look up link: %w", err)
	}
	if consume {
		if err := s.cfg.Store.Delete(ctx, storage.HostInstallation, storage.Dedupe, key); err != nil {
			return nil, fmt.Errorf("medialink: use up link: %w", err)
		}
	}
	return raw, nil
}

// claim holds the link's claim for a redemption. Another host redeeming the
// same link at once holds it, or read the record before this host deleted
// it and claims only after this host released: it reads the record again
// under its claim and finds it gone. Releasing afterwards keeps no claim
// per link in the cluster.
func (s *Service) claim(ctx context.Context, key string) (release func(), err error) {
	name, err := s.cfg.Store.(storage.Fingerprinter).Fingerprint(ctx, storage.HostInstallation, storage.Dedupe, key)
	if err != nil {
		return nil, fmt.Errorf("medialink: name link claim: %w", err)
	}
	ok, err := s.cfg.Claims.Claim(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("medialink: claim link: %w", err)
	}
	if !ok {
		return nil, ErrNotFound // another host is redeeming it
	}
	return func() {
		if err := s.cfg.Claims.Release(context.WithoutCancel(ctx), name); err != nil {
			s.cfg.Logger.Warn("medialink: link claim not released; it lapses with this host's session", "err", err)
		}
	}, nil
}

// capped fails a read that goes past the size limit, in case the site sent
// no Content-Length or a wrong one.
type capped struct {
	rc   io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.rc.Read(one[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.rc.Close() }

// decimal reports whether s is a Jira id: digits without a leading zero,
// at most 19 of them.
func decimal(s string) bool {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
