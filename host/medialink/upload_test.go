package medialink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// desk is a service desk's attachTemporaryFile as the JSM REST API
// documents it: multipart/form-data with the file in parts named "file",
// X-Atlassian-Token: no-check, 201 with the temporary attachments. It reads
// the file as it arrives and counts what it received.
type desk struct {
	srv      *httptest.Server
	requests atomic.Int64
	created  atomic.Int64 // temporary attachments made
	received atomic.Int64 // file bytes read so far
	// progress, when set, is told once the desk has read that many bytes.
	progressAt int64
	progress   chan struct{}
	once       sync.Once

	mu    sync.Mutex
	files map[string][]byte // temporary id -> content
	names map[string]string
	types map[string]string // temporary id -> the file part's Content-Type
}

func newDesk(t *testing.T) *desk {
	d := &desk{files: map[string][]byte{}, names: map[string]string{}, types: map[string]string{}, progress: make(chan struct{})}
	d.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.requests.Add(1)
		switch {
		case r.Header.Get("Authorization") != siteAuth:
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		case r.URL.Path != "/rest/servicedeskapi/servicedesk/7/attachTemporaryFile" || r.Method != "POST":
			http.NotFound(w, r)
			return
		case r.Header.Get("X-Atlassian-Token") != "no-check":
			http.Error(w, "XSRF check failed", http.StatusForbidden)
			return
		}
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, "not multipart", http.StatusUnsupportedMediaType)
			return
		}
		var ids []string
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				http.Error(w, "broken multipart", http.StatusBadRequest)
				return
			}
			if p.FormName() != "file" {
				continue
			}
			var buf bytes.Buffer
			chunk := make([]byte, 32<<10)
			for {
				n, err := p.Read(chunk)
				buf.Write(chunk[:n])
				if got := d.received.Add(int64(n)); d.progressAt > 0 && got >= d.progressAt {
					d.once.Do(func() { close(d.progress) })
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					http.Error(w, "broken multipart", http.StatusBadRequest)
					return
				}
			}
			id := fmt.Sprintf("temp-%d", d.created.Add(1))
			d.mu.Lock()
			d.files[id], d.names[id], d.types[id] = buf.Bytes(), p.FileName(), p.Header.Get("Content-Type")
			d.mu.Unlock()
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			http.Error(w, "no file", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"temporaryAttachments":[{"temporaryAttachmentId":%q,"fileName":"x"}]}`, ids[0])
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func newUploadService(t *testing.T, d *desk, cfg Config) *Service {
	t.Helper()
	cfg.Store, cfg.Sites, cfg.PublicURL, cfg.HTTP = memstore.New(), sites{d.srv.URL}, "https://bridge.example/", d.srv.Client()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func uploadToken(t *testing.T, link string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(link, "https://bridge.example/ul/")
	if !ok || !ValidToken(tok) {
		t.Fatalf("upload link %q", link)
	}
	return tok
}

// form is a browser's multipart upload of content named name, with a
// field before the file as a browser's FormData may send.
func form(name string, content []byte) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("note", "from the widget")
	w, _ := mw.CreateFormFile("file", name)
	_, _ = w.Write(content)
	_ = mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

const shop = "https://shop.example"

func TestAnUploadLinkTakesOneFileOnceAndKeepsItsResultForTheModule(t *testing.T) {
	d := newDesk(t)
	svc := newUploadService(t, d, Config{})
	ctx := context.Background()
	link, err := svc.MintUpload(ctx, "inst-1", "7", shop, "chat-1:f1", "text/plain", 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok := uploadToken(t, link)
	if _, err := svc.Result(ctx, "inst-1", link); !errors.Is(err, ErrNotFound) {
		t.Errorf("result before the upload: %v, want ErrNotFound", err)
	}
	content := bytes.Repeat([]byte("photo "), 50_000)
	ct, body := form(`my\"holiday" été.jpg`, content)
	res, err := svc.Receive(ctx, tok, Upload{Origin: shop, ContentType: ct, Length: int64(len(body)), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Subject != "chat-1:f1" || len(res.Temporary) != 1 || res.Bytes != int64(len(content)) {
		t.Errorf("result %+v", res)
	}
	d.mu.Lock()
	got, name := d.files[res.Temporary[0]], d.names[res.Temporary[0]]
	d.mu.Unlock()
	if !bytes.Equal(got, content) || name != `my_"holiday" été.jpg` {
		t.Errorf("the site got %d bytes named %q, want %d named %q", len(got), name, len(content), `my_"holiday" été.jpg`)
	}

	again, err := svc.Result(ctx, "inst-1", link)
	if err != nil || again.Subject != "chat-1:f1" || again.Temporary[0] != res.Temporary[0] {
		t.Errorf("Result = %+v, %v", again, err)
	}
	if _, err := svc.Result(ctx, "inst-2", link); !errors.Is(err, ErrNotFound) {
		t.Errorf("another installation's result: %v, want ErrNotFound", err)
	}
	before := d.requests.Load()
	if _, err := svc.Receive(ctx, tok, Upload{Origin: shop, ContentType: ct, Length: int64(len(body)), Body: bytes.NewReader(body)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("second upload: %v, want ErrNotFound", err)
	}
	if d.requests.Load() != before || d.created.Load() != 1 {
		t.Errorf("a used link reached the site: %d requests, %d files", d.requests.Load()-before, d.created.Load())
	}
}

func TestAnUploadLinkRefusesAnExpiredLinkAnotherOriginAndABadForm(t *testing.T) {
	d := newDesk(t)
	now := time.Unix(1_800_000_000, 0)
	svc := newUploadService(t, d, Config{Now: func() time.Time { return now }})
	ctx := context.Background()
	ct, body := form("a.txt", []byte("hello"))
	up := func(origin, ct string, body []byte) Upload {
		return Upload{Origin: origin, ContentType: ct, Length: int64(len(body)), Body: bytes.NewReader(body)}
	}
	mint := func() string {
		link, err := svc.MintUpload(ctx, "inst-1", "7", shop, "s", "text/plain", 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return uploadToken(t, link)
	}

	expired := mint()
	now = now.Add(time.Minute)
	if _, err := svc.Receive(ctx, expired, up(shop, ct, body)); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired link: %v, want ErrNotFound", err)
	}
	for _, origin := range []string{"https://evil.example", ""} {
		tok := mint()
		if _, err := svc.Receive(ctx, tok, up(origin, ct, body)); !errors.Is(err, ErrOrigin) {
			t.Errorf("origin %q: %v, want ErrOrigin", origin, err)
		}
		if _, err := svc.Receive(ctx, tok, up(shop, ct, body)); !errors.Is(err, ErrNotFound) {
			t.Errorf("a link tried from another origin stays usable: %v", err)
		}
	}
	if _, err := svc.Receive(ctx, mint(), up(shop, "text/plain", []byte("hello"))); !errors.Is(err, ErrBadUpload) {
		t.Errorf("a body that is no form: %v, want ErrBadUpload", err)
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("session", "x")
	_ = mw.Close()
	if _, err := svc.Receive(ctx, mint(), up(shop, mw.FormDataContentType(), b.Bytes())); !errors.Is(err, ErrBadUpload) {
		t.Errorf("a form without a file: %v, want ErrBadUpload", err)
	}
	if _, err := svc.Receive(ctx, "short", up(shop, ct, body)); !errors.Is(err, ErrNotFound) {
		t.Errorf("a token of the wrong shape: %v", err)
	}
	if n := d.requests.Load(); n != 0 {
		t.Errorf("refused uploads reached the site %d times", n)
	}
}

func TestAnUploadOverItsLinksSizeIsRefusedAndNothingIsCreated(t *testing.T) {
	d := newDesk(t)
	svc := newUploadService(t, d, Config{})
	ctx := context.Background()
	content := bytes.Repeat([]byte{7}, 300_000)
	ct, body := form("big.bin", content)
	for _, c := range []struct {
		name   string
		length int64
	}{
		{"announced", int64(len(body))},
		{"chunked", -1}, // no Content-Length: found while streaming
	} {
		t.Run(c.name, func(t *testing.T) {
			link, err := svc.MintUpload(ctx, "inst-1", "7", shop, "s", "text/plain", 100_000, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.Receive(ctx, uploadToken(t, link), Upload{Origin: shop, ContentType: ct, Length: c.length, Body: bytes.NewReader(body)})
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("err = %v, want ErrTooLarge", err)
			}
			if _, err := svc.Result(ctx, "inst-1", link); !errors.Is(err, ErrNotFound) {
				t.Errorf("an over-size upload left a result: %v", err)
			}
		})
	}
	if n := d.created.Load(); n != 0 {
		t.Errorf("the site made %d temporary attachments of over-size uploads", n)
	}
	if _, err := svc.MintUpload(ctx, "inst-1", "7", shop, "s", "text/plain", DefaultMaxUploadBytes+1, time.Minute); !errors.Is(err, ErrInvalid) {
		t.Errorf("a link over the host's limit: %v, want ErrInvalid", err)
	}
}

// The site receives the file while the browser is still sending it: the
// browser's writer stops half way until the site has read a megabyte, which
// never happens if the upload is read whole before it is forwarded.
func TestAnUploadIsStreamedToTheSiteNotBufferedWhole(t *testing.T) {
	d := newDesk(t)
	d.progressAt = 1 << 20
	svc := newUploadService(t, d, Config{})
	ctx := context.Background()
	link, err := svc.MintUpload(ctx, "inst-1", "7", shop, "s", "text/plain", 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	const size = 5 << 20
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	writerDone := make(chan error, 1)
	go func() {
		w, _ := mw.CreateFormFile("file", "big.bin")
		chunk := bytes.Repeat([]byte{42}, 64<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			if sent == size/2 {
				select {
				case <-d.progress:
				case <-time.After(time.Minute):
					pw.CloseWithError(errors.New("the site had not received the first half while the browser waited"))
					writerDone <- errors.New("not streamed")
					return
				}
			}
			if _, err := w.Write(chunk); err != nil {
				writerDone <- err
				return
			}
		}
		writerDone <- mw.Close()
		pw.Close()
	}()
	res, err := svc.Receive(ctx, uploadToken(t, link), Upload{Origin: shop, ContentType: mw.FormDataContentType(), Length: -1, Body: pr})
	if err != nil {
		t.Fatal(err)
	}
	if werr := <-writerDone; werr != nil {
		t.Fatal(werr)
	}
	if res.Bytes != size || d.received.Load() != size {
		t.Errorf("streamed %d bytes, the site got %d, want %d", res.Bytes, d.received.Load(), size)
	}
}

func TestMintUploadRefusesBadArguments(t *testing.T) {
	d := newDesk(t)
	svc := newUploadService(t, d, Config{})
	ctx := context.Background()
	for _, c := range []struct {
		name                     string
		inst, desk, origin, subj string
		max                      int64
		ttl                      time.Duration
	}{
		{"no installation", "", "7", shop, "s", 0, time.Minute},
		{"desk not a number", "inst-1", "7a", shop, "s", 0, time.Minute},
		{"no origin", "inst-1", "7", "", "s", 0, time.Minute},
		{"origin with a path", "inst-1", "7", shop + "/x", "s", 0, time.Minute},
		{"no subject", "inst-1", "7", shop, "", 0, time.Minute},
		{"long subject", "inst-1", "7", shop, strings.Repeat("s", 129), 0, time.Minute},
		{"negative size", "inst-1", "7", shop, "s", -1, time.Minute},
		{"no ttl", "inst-1", "7", shop, "s", 0, 0},
		{"ttl over 15 minutes", "inst-1", "7", shop, "s", 0, 16 * time.Minute},
	} {
		if _, err := svc.MintUpload(ctx, c.inst, c.desk, c.origin, c.subj, "text/plain", c.max, c.ttl); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
		}
	}
}

// The data file of a sealed store holds neither the upload link's token,
// nor its hash in the clear, nor the origin, nor a byte of the file, after
// the link was minted and used.
// recordingStore records every value written through it, before the store
// below seals it: what the service asked to keep, in the clear.
type recordingStore struct {
	storage.Store
	mu     sync.Mutex
	values map[string][]byte // key -> the last value set
}

func (r *recordingStore) Set(ctx context.Context, installation string, space storage.Keyspace, key string, value []byte, ttl time.Duration) error {
	r.mu.Lock()
	if r.values == nil {
		r.values = map[string][]byte{}
	}
	r.values[key] = append([]byte(nil), value...)
	r.mu.Unlock()
	return r.Store.Set(ctx, installation, space, key, value, ttl)
}

// The upload's records hold no byte of the file: every value the service
// writes is recorded before the store seals it, and none holds the file's
// marker or is more than a few hundred bytes. The data file, sealed, holds
// neither the token, its hash, the origin nor the subject in the clear (a
// scan of the sealed file for the file's bytes could not fail, so it is the
// recording that proves they are not stored).
func TestUploadLinkRecordsAreSealedAndHoldNoFile(t *testing.T) {
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
	rec := &recordingStore{Store: st}
	d := newDesk(t)
	svc, err := New(Config{Store: rec, Sites: sites{d.srv.URL}, PublicURL: "https://bridge.example/", HTTP: d.srv.Client(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	link, err := svc.MintUpload(ctx, "inst-1", "7", shop, "subject-quokka", "text/plain", 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok := uploadToken(t, link)
	const marker = "wombat1618"
	content := bytes.Repeat([]byte("file bytes "+marker+" "), 5000)
	ct, body := form("w.bin", content)
	if _, err := svc.Receive(ctx, tok, Upload{Origin: shop, ContentType: ct, Length: int64(len(body)), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Result(ctx, "inst-1", link); err != nil {
		t.Fatalf("the result under the hash: %v", err)
	}

	rec.mu.Lock()
	if len(rec.values) < 2 {
		t.Errorf("%d values written, want the link's and the result's", len(rec.values))
	}
	for k, v := range rec.values {
		if bytes.Contains(v, []byte(marker)) || bytes.Contains([]byte(k), []byte(marker)) {
			t.Errorf("the value under %q holds the file's bytes", k)
		}
		if len(v) > 512 {
			t.Errorf("the value under %q is %d bytes, more than a record of the link", k, len(v))
		}
		if bytes.Contains(v, []byte(tok)) || strings.Contains(k, tok) {
			t.Errorf("the value under %q holds the token", k)
		}
	}
	rec.mu.Unlock()

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "data.db"))
	if err != nil || len(raw) == 0 {
		t.Fatalf("data file: %d bytes, %v", len(raw), err)
	}
	sum := sha256.Sum256([]byte(tok))
	for what, needle := range map[string]string{"token": tok, "token prefix": tok[:16], "hash": hex.EncodeToString(sum[:]),
		"origin": shop, "subject": "subject-quokka"} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("the database file holds the %s in the clear", what)
		}
	}
}

// The link is bound to the media type the module checked against the
// project's accepted kinds: the file goes to the site as that type, whatever
// Content-Type the page's form gives the file part, and a link is minted
// only for a bare, well-formed type.
func TestAnUploadGoesToTheSiteAsTheTypeTheLinkWasMintedFor(t *testing.T) {
	d := newDesk(t)
	svc := newUploadService(t, d, Config{})
	ctx := context.Background()
	for _, bad := range []string{"", "image", "image/png; x=y", "Image/PNG", "image/" + strings.Repeat("p", abi.MaxUploadMediaTypeLen)} {
		if _, err := svc.MintUpload(ctx, "inst-1", "7", shop, "s", bad, 0, time.Minute); !errors.Is(err, ErrInvalid) {
			t.Errorf("media type %q: %v, want ErrInvalid", bad, err)
		}
	}
	link, err := svc.MintUpload(ctx, "inst-1", "7", shop, "s", "image/png", 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// The page declared a picture, then sends a page of HTML as the file.
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="cat.png"`)
	h.Set("Content-Type", "text/html")
	w, _ := mw.CreatePart(h)
	_, _ = w.Write([]byte("<script>alert(1)</script>"))
	_ = mw.Close()
	res, err := svc.Receive(ctx, uploadToken(t, link), Upload{Origin: shop, ContentType: mw.FormDataContentType(), Length: int64(b.Len()), Body: &b})
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	got := d.types[res.Temporary[0]]
	d.mu.Unlock()
	if got != "image/png" {
		t.Errorf("the site got the file as %q, want the link's image/png", got)
	}
}
