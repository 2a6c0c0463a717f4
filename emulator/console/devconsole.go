package console

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/capability"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
	"github.com/chatbridge/chatbridge/wit/abi"
)

//go:embed assets
var assets embed.FS

// keep is how many trace events the console remembers.
const keep = 1000

// maxBody bounds a resolver call's payload.
const maxBody = 256 << 10

// Event is one trace line: a capability.Event with its sequence number.
type Event struct {
	Seq int64 `json:"seq"`
	capability.Event
	DurationMS float64 `json:"durationMs"`
}

// Reload is the state of the live reload, as the watcher reports it.
type Reload struct {
	// State is "watching", "building", "loaded" or "failed".
	State string    `json:"state"`
	At    time.Time `json:"at"`
	// Message is the build output of a failure, or what was loaded.
	Message string `json:"message,omitempty"`
	Count   int    `json:"count"` // bundles loaded by the watcher
}

// Console is the dev console. The zero value is not usable; call New.
type Console struct {
	// mu guards everything below.
	mu     sync.Mutex
	host   *host.Host
	store  *seal.Store
	events []Event
	seq    int64
	reload Reload
	// admin is the admin API on the attached host, called in process with
	// adminToken (the console's own, never shown) for the fire routes.
	admin      http.Handler
	adminToken string
}

// New returns a console with nothing attached: it answers 503 until Attach.
func New() *Console { return &Console{} }

// Attach gives the console the running host and its sealed store (nil: no
// storage inspector).
func (c *Console) Attach(h *host.Host, s *seal.Store) {
	token := rand.Text()
	admin := adminapi.Handler(h, token, adminapi.Node{})
	c.mu.Lock()
	c.host, c.store = h, s
	c.admin, c.adminToken = admin, token
	c.mu.Unlock()
}

// Trace records an event; it is the host's Config.Trace in dev mode.
func (c *Console) Trace(ev capability.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if len(c.events) == keep {
		c.events = append(c.events[:0], c.events[keep/2:]...)
	}
	c.events = append(c.events, Event{Seq: c.seq, Event: ev, DurationMS: float64(ev.Duration.Microseconds()) / 1000})
}

// SetReload records the live reload's state.
func (c *Console) SetReload(r Reload) {
	c.mu.Lock()
	if r.At.IsZero() {
		r.At = time.Now()
	}
	c.reload = r
	c.mu.Unlock()
}

func (c *Console) attached() (*host.Host, *seal.Store) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.host, c.store
}

// Handler serves the console's page and API.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.Handle("GET /console/", http.StripPrefix("/console/", noStore(files)))
	mux.HandleFunc("GET /_console/state", c.state)
	mux.HandleFunc("GET /_console/storage", c.storage)
	mux.HandleFunc("POST /_console/resolve/{installation}/{function}", c.resolve)
	mux.HandleFunc("POST /_console/fire/{installation}/schedule/{key}", c.fire)
	mux.HandleFunc("POST /_console/fire/{installation}/events/{type}", c.fire)
	mux.HandleFunc("GET /demo/widget", c.demo)
	return secure(mux)
}

func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// secure keeps the console to its own origin: no framing, no inline script,
// and no cross-site writes (a page elsewhere must not drive the loopback).
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type installation struct {
	ID      string `json:"id"`
	SiteURL string `json:"siteUrl"`
}

// manifest is what the loaded manifest offers to run on demand and what
// dev mode's hints list: its ways in and its consumers.
type manifest struct {
	WebTriggers []string         `json:"webTriggers"`
	Scheduled   []scheduled      `json:"scheduled"`
	Triggers    []productTrigger `json:"triggers"`
	Consumers   []consumer       `json:"consumers"`
}

type scheduled struct {
	Key      string `json:"key"`
	Interval string `json:"interval"`
}

type productTrigger struct {
	Key    string   `json:"key"`
	Events []string `json:"events"`
}

type consumer struct {
	Key   string `json:"key"`
	Queue string `json:"queue"`
}

type state struct {
	Events        []Event          `json:"events"`
	Last          int64            `json:"last"`
	Pending       int64            `json:"pending"`
	DeadLetters   int64            `json:"deadLetters"`
	Engine        map[string]int64 `json:"engine"`
	Reload        Reload           `json:"reload"`
	App           string           `json:"app"`
	ModuleSHA256  string           `json:"moduleSha256"`
	Installations []installation   `json:"installations"`
	Manifest      manifest         `json:"manifest"`
}

func (c *Console) state(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	c.mu.Lock()
	h := c.host
	st := state{Last: c.seq, Reload: c.reload, Events: []Event{}, Installations: []installation{}}
	for _, ev := range c.events {
		if ev.Seq > after {
			st.Events = append(st.Events, ev)
		}
	}
	c.mu.Unlock()
	if h == nil {
		writeError(w, http.StatusServiceUnavailable, "the host is starting")
		return
	}
	qs := h.Queue().Stats()
	st.Pending, st.DeadLetters = qs.Pending, qs.DeadLetters
	if e := h.Engine(); e != nil {
		s := e.Stats()
		st.Engine = map[string]int64{
			"calls": s.Calls.Load(), "traps": s.Traps.Load(), "timeouts": s.Timeouts.Load(),
			"instantiations": s.Instantiations.Load(), "resets": s.Resets.Load(),
		}
	}
	st.Manifest = manifest{WebTriggers: []string{}, Scheduled: []scheduled{}, Triggers: []productTrigger{}, Consumers: []consumer{}}
	if b := h.Bundle(); b != nil {
		st.App, st.ModuleSHA256 = b.Manifest.App.ID, b.ModuleSHA256
		mods := b.Manifest.Modules
		for _, w := range mods.WebTrigger {
			st.Manifest.WebTriggers = append(st.Manifest.WebTriggers, w.Key)
		}
		for _, s := range mods.ScheduledTrigger {
			st.Manifest.Scheduled = append(st.Manifest.Scheduled, scheduled{s.Key, s.Interval})
		}
		for _, t := range mods.Trigger {
			st.Manifest.Triggers = append(st.Manifest.Triggers, productTrigger{t.Key, t.Events})
		}
		for _, q := range mods.Consumer {
			st.Manifest.Consumers = append(st.Manifest.Consumers, consumer{q.Key, q.Queue})
		}
	}
	for _, in := range h.Registry().List() {
		st.Installations = append(st.Installations, installation{ID: in.ID, SiteURL: in.SiteURL})
	}
	writeJSON(w, http.StatusOK, st)
}

// record is one storage record as the inspector shows it.
type record struct {
	RawKey      string `json:"rawKey"`      // hex
	Sealed      string `json:"sealed"`      // base64, at most sealedShown bytes
	SealedBytes int    `json:"sealedBytes"` // the whole sealed size
	Key         string `json:"key"`
	Value       string `json:"value"`
	Binary      bool   `json:"binary,omitempty"` // Value is base64
	Expires     string `json:"expires,omitempty"`
	Error       string `json:"error,omitempty"`
}

const (
	sealedShown = 96
	valueShown  = 4 << 10
	maxRecords  = 500
)

var spaces = map[string]storage.Keyspace{
	"kvs": storage.KVS, "secret": storage.Secret, "queue": storage.Queue, "dedupe": storage.Dedupe,
}

func (c *Console) storage(w http.ResponseWriter, r *http.Request) {
	h, s := c.attached()
	if h == nil {
		writeError(w, http.StatusServiceUnavailable, "the host is starting")
		return
	}
	if s == nil {
		writeError(w, http.StatusNotFound, "no sealed store attached")
		return
	}
	inst := r.URL.Query().Get("installation")
	if _, ok := h.Registry().Get(inst); !ok {
		writeError(w, http.StatusNotFound, "no such installation")
		return
	}
	space, ok := spaces[r.URL.Query().Get("space")]
	if !ok {
		writeError(w, http.StatusBadRequest, "space is kvs, secret, queue or dedupe")
		return
	}
	out := []record{}
	errStop := errors.New("enough")
	err := s.Inspect(r.Context(), inst, space, func(in seal.Inspected) error {
		rec := record{RawKey: hex.EncodeToString([]byte(in.RawKey)), SealedBytes: len(in.Sealed), Key: in.Key}
		sealed := in.Sealed
		if len(sealed) > sealedShown {
			sealed = sealed[:sealedShown]
		}
		rec.Sealed = base64.StdEncoding.EncodeToString(sealed)
		v := in.Value
		if len(v) > valueShown {
			v = v[:valueShown]
		}
		if utf8.Valid(v) {
			rec.Value = string(v)
		} else {
			rec.Value, rec.Binary = base64.StdEncoding.EncodeToString(v), true
		}
		if !in.Expires.IsZero() {
			rec.Expires = in.Expires.UTC().Format(time.RFC3339)
		}
		if in.Err != nil {
			rec.Error = in.Err.Error()
		}
		out = append(out, rec)
		if len(out) == maxRecords {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Console) resolve(w http.ResponseWriter, r *http.Request) {
	h, _ := c.attached()
	if h == nil {
		writeError(w, http.StatusServiceUnavailable, "the host is starting")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	out, err := resolver.Call(r.Context(), h, r.PathValue("installation"), r.PathValue("function"), body)
	var code abi.Code
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such installation")
	case errors.As(err, &code):
		writeError(w, http.StatusBadRequest, "the resolver answered "+code.String())
	case err != nil:
		writeError(w, http.StatusBadGateway, "the resolver failed (see the log)")
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}

// fire runs a scheduled trigger or delivers a product event on demand
// through the admin API's fire routes (host/adminapi), in process and with
// the console's own token: the page proves itself to the admin listener
// by its Origin (proxy.LocalGuard), never by the admin token.
func (c *Console) fire(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	admin, token := c.admin, c.adminToken
	c.mu.Unlock()
	if admin == nil {
		writeError(w, http.StatusServiceUnavailable, "the host is starting")
		return
	}
	path := "/admin/installations/" + url.PathEscape(r.PathValue("installation"))
	if key := r.PathValue("key"); key != "" {
		path += "/schedule/" + url.PathEscape(key) + "/fire"
	} else {
		path += "/events/" + url.PathEscape(r.PathValue("type"))
	}
	body := http.MaxBytesReader(w, r.Body, maxBody)
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, path, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad installation, trigger or event")
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	admin.ServeHTTP(w, req)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
