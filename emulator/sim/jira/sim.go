package jira

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/emulator/sim/simctl"
)

// DefaultAuthorization is the Authorization header a zero Config accepts:
// Basic dev:dev, what dev mode installs with.
const DefaultAuthorization = "Basic ZGV2OmRldg=="

// RequestType is a JSM request type of the simulated service desk.
type RequestType struct {
	ID   string
	Name string
	// WithoutLabels leaves the Labels field off the request type's form:
	// labels in a new request's requestFieldValues are then refused, as
	// JSM refuses any field not on the form. Default: the form has it.
	WithoutLabels bool
}

// Config configures a Sim. The zero value is a usable site with one service
// desk, DefaultAuthorization and Jira's delivery behaviour (short delays).
type Config struct {
	// Site is the site's base URL, used in the links Jira puts in its
	// answers. Default "https://dev.atlassian.net".
	Site string
	// Authorization is the Authorization header value every API request
	// must carry. Default DefaultAuthorization.
	Authorization string
	// AppAccountID is the account the Authorization maps to: the author of
	// everything the bridge creates. Default "chatbridge-dev-app".
	AppAccountID string
	// AppDisplayName is that account's name. Default "ChatBridge".
	AppDisplayName string
	// AgentAccountID and AgentDisplayName are the agent the control API
	// acts as. Default "agent-1", "Alex Agent".
	AgentAccountID   string
	AgentDisplayName string

	// ProjectKey is the service project's key (issue keys are KEY-n).
	// Default "SUP".
	ProjectKey string
	// ProjectName is the service project's name. Default "Support".
	ProjectName string
	// ServiceDeskID is the service desk's id. Default "1".
	ServiceDeskID string
	// RequestTypes are the desk's request types. Default four: {"10",
	// "Get IT help"}, {"11", "Report a problem"}, {"12", "Request new
	// hardware"}, {"13", "Ask about billing"} (a desk offers several, which
	// the bridge's first-message menu chooses from).
	RequestTypes []RequestType
	// MaxAttachmentBytes is the largest attachment. Default 10 MB.
	MaxAttachmentBytes int64

	// WebhookURL and WebhookSecret are the admin webhook registered at
	// start (also settable with PUT /_sim/jira/webhook). Default none: no
	// deliveries.
	WebhookURL    string
	WebhookSecret string
	// Client makes the webhook deliveries; set it to trust the certificate
	// the webhook is served with. Default: an http.Client with
	// DeliveryTimeout and the system roots.
	Client *http.Client
	// DeliveryTimeout is how long a delivery waits for an answer before it
	// counts as a timeout (retried). Default 20 s.
	DeliveryTimeout time.Duration
	// RetryDelay is the wait before the first retry of a failed delivery;
	// it doubles with each retry up to MaxRetryDelay (Jira waits up to about
	// 30 minutes). Default 5 s.
	RetryDelay time.Duration
	// MaxRetryDelay caps the wait between retries. Default 5 min.
	MaxRetryDelay time.Duration
	// MaxAttempts is how many times one delivery is tried in all, the first
	// included. Default 6 (Jira retries up to 5 times).
	MaxAttempts int

	// NotSiteAdmin makes the app account an account without the Administer
	// Jira global permission: the admin webhook API (/rest/webhooks/1.0)
	// answers it 403, as Jira does (also settable with PUT
	// /_sim/jira/site-admin). Default: the app account is a site admin.
	NotSiteAdmin bool

	// NoCommentRule switches off JSM's "Transition on comment" rule (see
	// automation.go), as a site admin may. Default: the rule runs, as in a
	// new service project.
	NoCommentRule bool

	// Now is the clock of timestamps and of Retry-After windows. Default
	// time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Site, "https://dev.atlassian.net")
	c.Site = strings.TrimRight(c.Site, "/")
	def(&c.Authorization, DefaultAuthorization)
	def(&c.AppAccountID, "chatbridge-dev-app")
	def(&c.AppDisplayName, "ChatBridge")
	def(&c.AgentAccountID, "agent-1")
	def(&c.AgentDisplayName, "Alex Agent")
	def(&c.ProjectKey, "SUP")
	def(&c.ProjectName, "Support")
	def(&c.ServiceDeskID, "1")
	if len(c.RequestTypes) == 0 {
		c.RequestTypes = []RequestType{{ID: "10", Name: "Get IT help"}, {ID: "11", Name: "Report a problem"},
			{ID: "12", Name: "Request new hardware"}, {ID: "13", Name: "Ask about billing"}}
	}
	if c.MaxAttachmentBytes <= 0 {
		c.MaxAttachmentBytes = 10 << 20
	}
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = 20 * time.Second
	}
	if c.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64 // deliveries run in parallel
		c.Client = &http.Client{Timeout: c.DeliveryTimeout, Transport: tr}
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 5 * time.Second
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = 5 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 6
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Sim is a simulated Jira Cloud site with Jira Service Management: the REST
// APIs the bridge calls (API), the control API tests drive agents with
// (Control), and signed admin-webhook deliveries.
type Sim struct {
	cfg     Config
	app     account
	agent   account
	faults  simctl.Faults
	api     http.Handler
	control http.Handler
	routes  []string // the API's mux patterns, "METHOD /path/{param}"

	ctx    context.Context // cancelled by Close: stops deliveries
	cancel context.CancelFunc
	wg     sync.WaitGroup
	busy   simctl.Tracker // the deliveries spawn started

	// mu guards everything below.
	mu             sync.Mutex
	closed         bool
	hook           hookConfig   // the webhook an administrator entered in Jira's settings page
	adminHooks     []*adminHook // the webhooks registered through the REST API
	notAdmin       bool         // the app account lacks Administer Jira
	requests       []*request   // in creation order
	byKey          map[string]*request
	byID           map[string]*request
	byComment      map[string]*request // comment id -> its request
	temps          map[string]*temporary
	attachments    map[string]*attachment
	customers      map[string]account // by accountId
	deskCustomers  map[string]bool    // accountIds of the service desk's customers (customers.go)
	outbox         []Email            // customer notifications (customers.go)
	nextIssue      int
	nextID         int64 // issue, comment, attachment and changelog ids
	deliveries     []Delivery
	events         map[string]*event    // delivered events by identifier, for redelivery
	eventOrder     []string             // their identifiers, oldest first (at most maxDeliveries)
	retryUntil     map[string]time.Time // call key -> end of its 429's Retry-After
	retryAfter     map[string]int
	earlyRetries   int64
	requestsByCall map[string]int64
}

// hookConfig is the registered admin webhook.
type hookConfig struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// account is a Jira user: the app, an agent or a customer.
type account struct {
	ID, Name, Email, Type string
}

// New returns a simulator; Close stops its deliveries.
func New(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sim{
		cfg:            cfg,
		app:            account{ID: cfg.AppAccountID, Name: cfg.AppDisplayName, Type: "app"},
		agent:          account{ID: cfg.AgentAccountID, Name: cfg.AgentDisplayName, Email: "agent@example.com", Type: "atlassian"},
		ctx:            ctx,
		cancel:         cancel,
		hook:           hookConfig{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret},
		notAdmin:       cfg.NotSiteAdmin,
		byKey:          map[string]*request{},
		byID:           map[string]*request{},
		byComment:      map[string]*request{},
		temps:          map[string]*temporary{},
		attachments:    map[string]*attachment{},
		customers:      map[string]account{},
		deskCustomers:  map[string]bool{},
		nextID:         10000,
		retryUntil:     map[string]time.Time{},
		retryAfter:     map[string]int{},
		requestsByCall: map[string]int64{},
		events:         map[string]*event{},
	}
	s.api = s.newAPI()
	s.control = s.newControl()
	return s
}

// Name is "jira", the simulator's name in control paths and faults.
func (s *Sim) Name() string { return "jira" }

// Close stops webhook retries and waits for deliveries under way to end.
func (s *Sim) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// EarlyRetries is how many calls came before the Retry-After of an
// earlier 429 to the same call had passed.
func (s *Sim) EarlyRetries() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.earlyRetries
}

func (s *Sim) now() time.Time { return s.cfg.Now() }

// newIDLocked hands out the next numeric id; s.mu is held.
func (s *Sim) newIDLocked() string {
	s.nextID++
	return strconv.FormatInt(s.nextID, 10)
}

// API is the site's REST API as the bridge calls it, to be served over TLS.
func (s *Sim) API() http.Handler { return s.api }

// Routes lists the API's routes as "METHOD /path/{param}" patterns, for
// tests that hold them against Jira's specification.
func (s *Sim) Routes() []string { return slices.Clone(s.routes) }

func (s *Sim) newAPI() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) {
		s.routes = append(s.routes, pattern)
		mux.Handle(pattern, s.guard(h))
	}
	// Jira Service Management.
	route("POST /rest/servicedeskapi/request", s.createRequest)
	route("GET /rest/servicedeskapi/request/{key}", s.getRequest)
	route("POST /rest/servicedeskapi/request/{key}/comment", s.addRequestComment)
	route("GET /rest/servicedeskapi/request/{key}/comment", s.listRequestComments)
	route("GET /rest/servicedeskapi/request/{key}/participant", s.listParticipants)
	route("POST /rest/servicedeskapi/request/{key}/participant", s.addParticipants)
	route("POST /rest/servicedeskapi/request/{key}/attachment", s.attachToRequest)
	route("GET /rest/servicedeskapi/request/{key}/feedback", s.getFeedback)
	route("POST /rest/servicedeskapi/request/{key}/feedback", s.postFeedback)
	route("DELETE /rest/servicedeskapi/request/{key}/feedback", s.deleteFeedback)
	route("POST /rest/servicedeskapi/servicedesk/{id}/attachTemporaryFile", s.attachTemporaryFile)
	route("GET /rest/servicedeskapi/servicedesk", s.listServiceDesks)
	route("GET /rest/servicedeskapi/servicedesk/{id}/requesttype", s.listRequestTypes)
	route("POST /rest/servicedeskapi/servicedesk/{id}/customer", s.addCustomers)
	route("GET /rest/servicedeskapi/servicedesk/{id}/customer", s.getCustomers)
	route("POST /rest/servicedeskapi/customer", s.createCustomer)
	// Jira platform, v3 (and v2 for reads).
	for _, v := range []string{"2", "3"} {
		base := "/rest/api/" + v
		route("GET "+base+"/myself", s.myself)
		route("GET "+base+"/issue/{key}", s.getIssue)
		route("GET "+base+"/issue/{key}/comment", s.listIssueComments)
		route("GET "+base+"/issue/{key}/comment/{id}", s.getComment)
		route("GET "+base+"/issue/{key}/properties", s.listIssueProperties)
		route("GET "+base+"/issue/{key}/properties/{prop}", s.getIssueProperty)
		route("PUT "+base+"/issue/{key}/properties/{prop}", s.setIssueProperty)
		route("POST "+base+"/search/jql", s.search)
		route("POST "+base+"/comment/list", s.listCommentsByID)
		route("GET "+base+"/comment/{id}/properties/{prop}", s.getCommentProperty)
		route("PUT "+base+"/comment/{id}/properties/{prop}", s.setCommentProperty)
		route("GET "+base+"/issue/{key}/transitions", s.listTransitions)
		route("POST "+base+"/issue/{key}/transitions", s.doTransition)
		route("GET "+base+"/attachment/{id}", s.getAttachmentMeta)
		route("GET "+base+"/attachment/content/{id}", s.getAttachmentContent)
	}
	route("POST /rest/api/3/issue/{key}/comment", s.addIssueComment)
	route("POST /rest/api/2/issue/{key}/comment", s.addIssueComment)
	// Admin webhooks, for Jira administrators (spec: jira-admin-webhooks.json).
	route("POST /rest/webhooks/1.0/webhook", s.registerHook)
	route("GET /rest/webhooks/1.0/webhook", s.listHooks)
	route("GET /rest/webhooks/1.0/webhook/{id}", s.getHook)
	route("DELETE /rest/webhooks/1.0/webhook/{id}", s.deleteHook)
	// Where the 303 of attachment/content points: a download location, not
	// a REST route (Cloud points at its media host).
	route("GET /secure/attachment/{id}/{name}", s.serveAttachment)
	mux.Handle("/", s.guard(func(w http.ResponseWriter, r *http.Request) { noRoute(mux, w, r) }))
	return mux
}

// noRoute answers a path or method the site does not have, as Jira Cloud
// does (RATIONALE.md, "Why does the Jira simulator answer an unknown route
// with a problem document?"): an RFC 7807 problem document, 405 with Allow
// when the path exists under other methods, else 404 "No endpoint".
func noRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	status, detail := http.StatusNotFound, "No endpoint "+r.Method+" "+r.URL.Path+"."
	if len(allow) > 0 {
		status, detail = http.StatusMethodNotAllowed, "Method '"+r.Method+"' is not supported."
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	body, _ := json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status,
		"detail": detail, "instance": r.URL.Path})
	w.Header().Set("Content-Type", "application/problem+json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(body)
}

// guard checks the Authorization header, counts the call, enforces
// Retry-After windows and applies injected faults, before the handler.
func (s *Sim) guard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(s.cfg.Authorization)) != 1 {
			if strings.HasSuffix(r.URL.Path, "/myself") {
				// Measured on Cloud (RATIONALE.md, finding 9): text, not JSON.
				w.Header().Set("WWW-Authenticate", `OAuth realm="`+s.cfg.Site+`"`)
				w.Header().Set("Content-Type", "text/html;charset=UTF-8")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte("Client must be authenticated to access this resource."))
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
			writeErrors(w, http.StatusUnauthorized, []string{"Client must be authenticated to access this resource."}, nil)
			return
		}
		key := r.Method + " " + r.URL.Path
		s.mu.Lock()
		s.requestsByCall[key]++
		now := s.now()
		if until, ok := s.retryUntil[key]; ok {
			if now.Before(until) {
				s.earlyRetries++ // counted; Jira answers as it would anyway
			} else {
				delete(s.retryUntil, key)
				delete(s.retryAfter, key)
			}
		}
		s.mu.Unlock()
		if rule, ok := s.faults.Take(key); ok {
			rule.Hold(r.Context())
			s.fail(w, key, rule)
			return
		}
		h(w, r)
	})
}

// fail answers an injected fault the way Jira's edge does.
func (s *Sim) fail(w http.ResponseWriter, key string, rule simctl.Rule) {
	msg := rule.Description
	if rule.Status == http.StatusTooManyRequests || (rule.Status >= 500 && rule.RetryAfter > 0) {
		n := max(rule.RetryAfter, 1)
		now := s.now()
		w.Header().Set("Retry-After", strconv.Itoa(n))
		w.Header().Set("X-RateLimit-Reset", now.Add(time.Duration(n)*time.Second).UTC().Format("2006-01-02T15:04Z"))
		if rule.Status == http.StatusTooManyRequests {
			w.Header().Set("X-RateLimit-Limit", "100")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("RateLimit-Reason", "jira-burst-based")
			if msg == "" {
				msg = "Rate limit exceeded."
			}
		}
		s.mu.Lock()
		s.retryUntil[key], s.retryAfter[key] = now.Add(time.Duration(n)*time.Second), n
		s.mu.Unlock()
	}
	if msg == "" {
		msg = http.StatusText(rule.Status)
	}
	writeErrors(w, rule.Status, []string{msg}, nil)
}

// writeJSON writes an API answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errorMessages":["Internal server error"],"errors":{}}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(body)
}

// writeErrors writes the platform API's error shape.
func writeErrors(w http.ResponseWriter, status int, messages []string, fields map[string]string) {
	if messages == nil {
		messages = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	writeJSON(w, status, map[string]any{"errorMessages": messages, "errors": fields})
}

// writeSDError writes the service desk API's error shape.
func writeSDError(w http.ResponseWriter, status int, i18nKey, format string, args ...any) {
	writeJSON(w, status, map[string]any{
		"errorMessage":     fmt.Sprintf(format, args...),
		"i18nErrorMessage": map[string]any{"i18nKey": i18nKey, "parameters": []string{}},
	})
}

// maxJSONBody bounds a JSON request body.
const maxJSONBody = 10 << 20

// decodeBody reads a JSON request body into v; false after answering 400.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, sd bool) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err := dec.Decode(v); err != nil {
		if sd {
			writeSDError(w, http.StatusBadRequest, "sd.rest.error.invalid.json", "Unable to parse the JSON request body: %s", err.Error())
		} else {
			writeErrors(w, http.StatusBadRequest, []string{"Unexpected character in the JSON request body."}, nil)
		}
		return false
	}
	return true
}
