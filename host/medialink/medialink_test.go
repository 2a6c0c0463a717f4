package medialink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

const siteAuth = "Basic c2l0ZTpzZWNyZXQ="

// site is a Jira site serving one attachment, 10042, and counting requests.
type site struct {
	srv      *httptest.Server
	content  []byte
	requests atomic.Int64
	// redirect, when set, answers with a 303 to it.
	redirect string
}

func newSite(t *testing.T, content []byte) *site {
	s := &site{content: content}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Header.Get("Authorization") != siteAuth {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/rest/api/3/attachment/content/10042" {
			http.NotFound(w, r)
			return
		}
		if s.redirect != "" {
			http.Redirect(w, r, s.redirect, http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="guide.pdf"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(s.content)))
		w.Write(s.content)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

type sites struct{ base string }

func (s sites) JiraBase(_ context.Context, inst string) (string, string, error) {
	if inst != "inst-1" {
		return "", "", errors.New("tenant: not found")
	}
	return s.base, siteAuth, nil
}

func newService(t *testing.T, st storage.Store, s *site, cfg Config) *Service {
	t.Helper()
	cfg.Store, cfg.Sites, cfg.PublicURL = st, sites{s.srv.URL}, "https://bridge.example/"
	cfg.HTTP = s.srv.Client()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(link, "https://bridge.example/dl/")
	if !ok || !ValidToken(tok) {
		t.Fatalf("link %q", link)
	}
	return tok
}

func read(t *testing.T, d *Download) []byte {
	t.Helper()
	defer d.Body.Close()
	b, err := io.ReadAll(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestALinkServesTheAttachmentOnce(t *testing.T) {
	content := bytes.Repeat([]byte("%PDF-1.7 guide "), 1000)
	s := newSite(t, content)
	svc := newService(t, memstore.New(), s, Config{})
	ctx := context.Background()
	link, err := svc.Mint(ctx, "inst-1", "10042", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, link)

	// HEAD does not use the link up.
	d, err := svc.Open(ctx, tok, false)
	if err != nil {
		t.Fatal(err)
	}
	d.Body.Close()
	d, err = svc.Open(ctx, tok, true)
	if err != nil {
		t.Fatalf("first redeem: %v", err)
	}
	if got := read(t, d); !bytes.Equal(got, content) {
		t.Errorf("served %d bytes, want %d", len(got), len(content))
	}
	if d.ContentType != "application/pdf" || d.Name != "guide.pdf" || d.Size != int64(len(content)) {
		t.Errorf("download %+v", d)
	}
	if cd := d.ContentDisposition(); cd != `attachment; filename=guide.pdf` {
		t.Errorf("Content-Disposition %q", cd)
	}
	before := s.requests.Load()
	if _, err := svc.Open(ctx, tok, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("second redeem: %v, want ErrNotFound", err)
	}
	if _, err := svc.Open(ctx, tok, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("HEAD after use: %v, want ErrNotFound", err)
	}
	if s.requests.Load() != before {
		t.Error("a used link reached the site")
	}
}

func TestConcurrentRedeemsOfOneLinkServeOnce(t *testing.T) {
	s := newSite(t, []byte("x"))
	svc := newService(t, memstore.New(), s, Config{})
	link, err := svc.Mint(context.Background(), "inst-1", "10042", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, link)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d, err := svc.Open(context.Background(), tok, true); err == nil {
				d.Body.Close()
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d redeems succeeded, want 1", ok.Load())
	}
}

func TestAnExpiredLinkIsNotFound(t *testing.T) {
	s := newSite(t, []byte("x"))
	now := time.Now()
	svc := newService(t, memstore.New(), s, Config{Now: func() time.Time { return now }})
	link, err := svc.Mint(context.Background(), "inst-1", "10042", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if _, err := svc.Open(context.Background(), tokenOf(t, link), true); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired link: %v, want ErrNotFound", err)
	}
	if s.requests.Load() != 0 {
		t.Error("an expired link reached the site")
	}
}

func TestUnknownTokensAndGoneInstallationsAreNotFound(t *testing.T) {
	s := newSite(t, []byte("x"))
	svc := newService(t, memstore.New(), s, Config{})
	ctx := context.Background()
	for _, tok := range []string{"", "short", strings.Repeat("A", TokenLen), strings.Repeat("*", TokenLen)} {
		if _, err := svc.Open(ctx, tok, true); !errors.Is(err, ErrNotFound) {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	link, err := svc.Mint(ctx, "inst-gone", "10042", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Open(ctx, tokenOf(t, link), true); !errors.Is(err, ErrNotFound) {
		t.Errorf("uninstalled: %v", err)
	}
	link, _ = svc.Mint(ctx, "inst-1", "777", time.Minute)
	if _, err := svc.Open(ctx, tokenOf(t, link), true); !errors.Is(err, ErrNotFound) {
		t.Errorf("attachment the site does not have: %v", err)
	}
}

func TestMintRefusesBadArguments(t *testing.T) {
	s := newSite(t, []byte("x"))
	svc := newService(t, memstore.New(), s, Config{})
	for _, tc := range []struct {
		id  string
		ttl time.Duration
	}{{"abc", time.Minute}, {"0", time.Minute}, {"10042", 0}, {"10042", 2 * time.Hour}} {
		if _, err := svc.Mint(context.Background(), "inst-1", tc.id, tc.ttl); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}

// The store holds the token's hash, never the token: the sealed BuntDB file
// is scanned for it after a link is minted.
func TestTokensAreNeverStoredInTheClear(t *testing.T) {
	dir := t.TempDir()
	key, err := seal.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := bunt.Open(filepath.Join(dir, "data.db"), bunt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := seal.Open(context.Background(), db, []*seal.MasterKey{key}, seal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := newSite(t, []byte("x"))
	svc := newService(t, st, s, Config{})
	link, err := svc.Mint(context.Background(), "inst-1", "10042", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, link)
	// The record is there, under the hash.
	if _, err := st.Get(context.Background(), storage.HostInstallation, storage.Dedupe, hashKey(tok)); err != nil {
		t.Fatalf("record under the hash: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(tok))
	for what, needle := range map[string]string{"token": tok, "token prefix": tok[:16], "hash": hex.EncodeToString(sum[:])} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("the database file holds the %s", what)
		}
	}
	if len(raw) == 0 {
		t.Fatal("empty database file")
	}
}

// Jira Cloud answers with a 303 to its media host: followed over https,
// without the site's credentials.
func TestRedirectsToAnotherHostGoWithoutCredentials(t *testing.T) {
	var gotAuth atomic.Value
	media := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG media"))
	}))
	defer media.Close()
	s := newSite(t, nil)
	s.redirect = media.URL + "/file/abc?token=signed"
	svc := newService(t, memstore.New(), s, Config{})
	link, _ := svc.Mint(context.Background(), "inst-1", "10042", time.Minute)
	d, err := svc.Open(context.Background(), tokenOf(t, link), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, d); string(got) != "\x89PNG media" || d.ContentType != "image/png" {
		t.Errorf("served %q as %s", got, d.ContentType)
	}
	if a, _ := gotAuth.Load().(string); a != "" {
		t.Errorf("the media host got Authorization %q", a)
	}

	s.redirect = strings.Replace(media.URL, "https://", "http://", 1) + "/file/abc"
	link, _ = svc.Mint(context.Background(), "inst-1", "10042", time.Minute)
	if _, err := svc.Open(context.Background(), tokenOf(t, link), true); !errors.Is(err, ErrUpstream) {
		t.Errorf("redirect to http: %v, want ErrUpstream", err)
	}
}

func TestAttachmentsOverTheLimitAreRefused(t *testing.T) {
	s := newSite(t, bytes.Repeat([]byte("a"), 4096))
	svc := newService(t, memstore.New(), s, Config{MaxBytes: 1000})
	link, _ := svc.Mint(context.Background(), "inst-1", "10042", time.Minute)
	if _, err := svc.Open(context.Background(), tokenOf(t, link), true); !errors.Is(err, ErrTooLarge) {
		t.Errorf("announced oversize: %v", err)
	}
	// Without a Content-Length the copy stops at the limit.
	c := &capped{rc: io.NopCloser(bytes.NewReader(make([]byte, 1001))), left: 1000}
	if _, err := io.ReadAll(c); !errors.Is(err, ErrTooLarge) {
		t.Errorf("unannounced oversize: %v", err)
	}
	c = &capped{rc: io.NopCloser(bytes.NewReader(make([]byte, 1000))), left: 1000}
	if b, err := io.ReadAll(c); err != nil || len(b) != 1000 {
		t.Errorf("exactly the limit: %d bytes, %v", len(b), err)
	}
}

func TestLogsNameTheAttachmentButNeverTheToken(t *testing.T) {
	var logs bytes.Buffer
	s := newSite(t, []byte("%PDF"))
	svc := newService(t, memstore.New(), s, Config{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := context.Background()
	link, err := svc.Mint(ctx, "inst-1", "10042", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, link)
	for range 2 {
		if d, err := svc.Open(ctx, tok, true); err == nil {
			d.Body.Close()
		}
	}
	out := logs.String()
	if !strings.Contains(out, `"attachment":"10042"`) {
		t.Fatalf("logs %s", out)
	}
	sum := sha256.Sum256([]byte(tok))
	for _, leak := range []string{tok, tok[:12], hex.EncodeToString(sum[:]), siteAuth} {
		if strings.Contains(out, leak) {
			t.Errorf("the log holds %q", leak)
		}
	}
}
