package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/chatbridge/chatbridge/host/ratelimit"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Capability names a manifest may list in permissions.capabilities: the host
// capabilities a module may import. An unknown name fails the load.
const (
	CapabilityStorage = "storage"
	CapabilitySecrets = "secrets"
	CapabilityFetch   = "fetch"
	CapabilityJira    = "jira"
	CapabilityQueue   = "queue"
	CapabilityLog     = "log"
	// CapabilityRealtime publishes to browsers subscribed at the edge; its
	// limits are app.realtime's.
	CapabilityRealtime = "realtime"
)

var capabilities = []string{CapabilityStorage, CapabilitySecrets, CapabilityFetch, CapabilityJira, CapabilityQueue, CapabilityLog, CapabilityRealtime}

// Kind is a kind of module, named as under modules: in the manifest.
type Kind string

// Module kinds.
const (
	KindWebTrigger       Kind = "webtrigger"
	KindTrigger          Kind = "trigger"
	KindConsumer         Kind = "consumer"
	KindScheduledTrigger Kind = "scheduledTrigger"
	KindFunction         Kind = "function"
)

// Runtime limits, as Forge sets them.
const (
	DefaultMemoryMiB      = 64
	MaxMemoryMiB          = 512
	DefaultTimeoutSeconds = 25
	MaxTimeoutSeconds     = 900 // the longest any kind may run (consumers)

	webTriggerTimeoutSeconds = 55
	consumerTimeoutSeconds   = 900
	wasmPageSize             = 64 << 10
)

// Intervals a scheduled trigger may use.
var intervals = []string{"fiveMinute", "hour", "day", "week"}

// Manifest is a decoded manifest.yml. Obtain one with ParseManifest (or from
// Open), which decodes strictly and validates; the zero value of every
// optional field means its documented default.
type Manifest struct {
	App         App         `yaml:"app"`
	Modules     Modules     `yaml:"modules,omitempty"`
	Permissions Permissions `yaml:"permissions,omitempty"`
}

// App identifies the app and sets its runtime limits.
type App struct {
	ID      string  `yaml:"id"`                // required: "ari:cloud:ecosystem::app/<id>"
	Name    string  `yaml:"name,omitempty"`    // optional display name
	Runtime Runtime `yaml:"runtime,omitempty"` // optional
	// Realtime bounds the realtime capability, per installation. Optional.
	Realtime Realtime `yaml:"realtime,omitempty"`
	// Uploads bounds the upload links of jira.upload-link. Optional.
	Uploads Uploads `yaml:"uploads,omitempty"`
}

// Uploads bounds what a browser may send to one of the app's upload links.
type Uploads struct {
	// MaxBytes caps one file. Default 10 MiB (DefaultUploadBytes), at most
	// 100 MiB (MaxUploadBytes). A link asked for with max-bytes 0 takes
	// it; one asked for more is invalid-argument.
	MaxBytes int64 `yaml:"maxBytes,omitempty"`
}

// Upload limits: default and maximum of app.uploads.maxBytes.
const (
	DefaultUploadBytes = 10 << 20
	MaxUploadBytes     = 100 << 20
)

// UploadLimit returns app.uploads.maxBytes with its default filled in.
func (m *Manifest) UploadLimit() int64 {
	if m.App.Uploads.MaxBytes == 0 {
		return DefaultUploadBytes
	}
	return m.App.Uploads.MaxBytes
}

// Realtime bounds what the realtime capability and the edge's subscriptions
// take from one installation. Each field's zero means its default; none may
// exceed its maximum (the contract's, wit/abi, for the first two).
type Realtime struct {
	// PayloadBytes caps one published payload. Default and maximum 32768
	// (abi.MaxRealtimePayloadLen).
	PayloadBytes int `yaml:"payloadBytes,omitempty"`
	// OperationsPerSecond caps publishes and token signings together.
	// Default and maximum 50 (Forge's abi.RealtimeOpsPerSecond).
	OperationsPerSecond int `yaml:"operationsPerSecond,omitempty"`
	// SubscribersPerInstallation caps the browsers subscribed at once on
	// one node. Default 2000, at most 20000.
	SubscribersPerInstallation int `yaml:"subscribersPerInstallation,omitempty"`
	// SubscribersPerAddress caps the subscriptions of one client address
	// (IP) per installation. Default 8, at most 2000.
	SubscribersPerAddress int `yaml:"subscribersPerAddress,omitempty"`
}

// Realtime limits: defaults and maxima of app.realtime.
const (
	DefaultRealtimeSubscribers        = 2000
	MaxRealtimeSubscribers            = 20000
	DefaultRealtimeSubscribersPerAddr = 8
	MaxRealtimeSubscribersPerAddr     = 2000
)

// RealtimeLimits returns app.realtime with every default filled in.
func (m *Manifest) RealtimeLimits() Realtime {
	r := m.App.Realtime
	if r.PayloadBytes == 0 {
		r.PayloadBytes = abi.MaxRealtimePayloadLen
	}
	if r.OperationsPerSecond == 0 {
		r.OperationsPerSecond = abi.RealtimeOpsPerSecond
	}
	if r.SubscribersPerInstallation == 0 {
		r.SubscribersPerInstallation = DefaultRealtimeSubscribers
	}
	if r.SubscribersPerAddress == 0 {
		r.SubscribersPerAddress = DefaultRealtimeSubscribersPerAddr
	}
	return r
}

// Runtime sets resource limits for every invocation of the app's module.
type Runtime struct {
	// MemoryMiB caps wasm linear memory. Default 64, at most 512.
	MemoryMiB int `yaml:"memoryMiB,omitempty"`
	// TimeoutSeconds is the per-invocation deadline. Default 25, at most 900;
	// each kind is further capped (see Manifest.Timeout).
	TimeoutSeconds int `yaml:"timeoutSeconds,omitempty"`
}

// Modules lists the app's entry points. Keys are unique across all kinds.
type Modules struct {
	WebTrigger       []WebTrigger       `yaml:"webtrigger,omitempty"`
	Trigger          []Trigger          `yaml:"trigger,omitempty"`
	Consumer         []Consumer         `yaml:"consumer,omitempty"`
	ScheduledTrigger []ScheduledTrigger `yaml:"scheduledTrigger,omitempty"`
	Function         []Function         `yaml:"function,omitempty"`
}

// WebTrigger is an HTTP entry point.
type WebTrigger struct {
	Key      string             `yaml:"key"`
	Function string             `yaml:"function"`
	Response WebTriggerResponse `yaml:"response,omitempty"`
	// PerAddress, when set, gives each client address (an IPv6 /64) its
	// own token bucket for this trigger at the edge, answered 429 when it
	// runs dry: for a trigger browsers call (a website widget), not one a
	// messenger's few servers call. Absent: only the edge's per-route and
	// per-installation limits.
	PerAddress *PerAddress `yaml:"perAddress,omitempty"`
}

// PerAddress is a web trigger's rate per client address: Requests per
// Per, sustained, with bursts of up to Burst (1..Requests; absent means 1).
type PerAddress Rate

// Pace is the bucket PerAddress describes: one request every Every, Burst
// at once. ok is false when p is nil.
func (p *PerAddress) Pace() (every time.Duration, burst int, ok bool) {
	if p == nil {
		return 0, 0, false
	}
	per, err := time.ParseDuration(p.Per)
	if err != nil || p.Requests < 1 {
		return 0, 0, false // ParseManifest refuses both
	}
	return per / time.Duration(p.Requests), max(p.Burst, 1), true
}

// WebTriggerResponse says how a web trigger answers.
type WebTriggerResponse struct {
	Type string `yaml:"type,omitempty"` // "dynamic" (the default and the only kind supported)
}

// Trigger is a product event trigger.
type Trigger struct {
	Key      string        `yaml:"key"`
	Function string        `yaml:"function"`
	Events   []string      `yaml:"events"` // each "avi:..."
	Filter   TriggerFilter `yaml:"filter,omitempty"`
}

// TriggerFilter filters a trigger's events.
type TriggerFilter struct {
	IgnoreSelf bool `yaml:"ignoreSelf,omitempty"` // drop events the app itself caused
}

// Consumer consumes a queue of async events.
type Consumer struct {
	Key      string `yaml:"key"`
	Queue    string `yaml:"queue"` // unique across consumers
	Function string `yaml:"function"`
}

// ScheduledTrigger runs a function periodically.
type ScheduledTrigger struct {
	Key      string `yaml:"key"`
	Function string `yaml:"function"`
	Interval string `yaml:"interval"` // fiveMinute, hour, day or week
}

// Function is a handler the other modules refer to by key. A module is one
// wasm module whose exports the host calls by module kind, so Handler names
// nothing the host can dispatch on: it is optional, a label for people
// (Forge's "index.run"), checked as free text and printed by the audit.
type Function struct {
	Key     string `yaml:"key"`
	Handler string `yaml:"handler,omitempty"`
}

// Permissions are what the app may do beyond computing.
type Permissions struct {
	Scopes       []string `yaml:"scopes,omitempty"`
	External     External `yaml:"external,omitempty"`
	Capabilities []string `yaml:"capabilities,omitempty"` // see the Capability constants
}

// External lists outbound access, and the hosts the module only names.
type External struct {
	Fetch Fetch `yaml:"fetch,omitempty"`
	// Links are hosts the module writes into text as links for people to
	// open (a map link in a Jira comment), never fetches: host names only,
	// no wildcard, port, scheme or path, none also a fetch backend. They
	// grant nothing: EgressAllowed ignores them, and the audit reports a URL
	// with such a host as a link rather than failing it as undeclared
	// egress. Forge has no key for this (host/bundle/RATIONALE.md, "Why
	// permissions.external.links?").
	Links []string `yaml:"links,omitempty"`
}

// Fetch lists the hosts the fetch capability may reach, and how fast.
type Fetch struct {
	Backend []Backend    `yaml:"backend,omitempty"`
	Pacing  []PacingRule `yaml:"pacing,omitempty"` // see Manifest.Pacing
}

// checkRate checks a rate at field and returns the interval between two
// requests; every problem goes to v.
func checkRate(v *validator, field string, rate Rate) (every time.Duration, ok bool) {
	per, err := time.ParseDuration(rate.Per)
	switch {
	case rate.Per == "":
		v.add("%s.per is required (such as 1s or 1m)", field)
	case err != nil:
		v.add("%s.per %q is not a duration (such as 1s, 1100ms or 1m)", field, rate.Per)
	case per < minPer || per > maxPer:
		v.add("%s.per %q is out of range %v..%v", field, rate.Per, minPer, maxPer)
	}
	switch {
	case rate.Requests < 1 || rate.Requests > maxRequests:
		v.add("%s.requests %d is out of range 1..%d", field, rate.Requests, maxRequests)
	case rate.Burst < 0 || rate.Burst > rate.Requests:
		v.add("%s.burst %d is out of range 1..%d (the requests of one interval; absent means 1)", field, rate.Burst, rate.Requests)
	case err == nil && per >= minPer && per <= maxPer:
		return per / time.Duration(rate.Requests), true
	}
	return 0, false
}

// PacingRule paces the fetch requests to one egress host that match it,
// counted per installation and per the values named in Key. The package
// doc describes each field; package ratelimit applies them.
type PacingRule struct {
	Host            string                 `yaml:"host"`                      // an address of backend (a wildcard only as written there)
	Method          string                 `yaml:"method,omitempty"`          // GET, POST...; absent: any
	Path            string                 `yaml:"path,omitempty"`            // "/bot{bot}/{method}"; absent: any
	When            map[string]PacingMatch `yaml:"when,omitempty"`            // value name -> condition
	Key             []string               `yaml:"key,omitempty"`             // path.<capture>, param.<name>, header.<Name>
	Rate            *Rate                  `yaml:"rate,omitempty"`            // absent: no pace, blocks only
	TooManyRequests TooManyRequests        `yaml:"tooManyRequests,omitempty"` // how the host spells "wait"
}

// PacingMatch is a condition on one request value, compared without regard
// to ASCII case. Every list that is set must hold.
type PacingMatch struct {
	In        []string `yaml:"in,omitempty"`
	NotIn     []string `yaml:"notIn,omitempty"`
	Prefix    []string `yaml:"prefix,omitempty"`
	NotPrefix []string `yaml:"notPrefix,omitempty"`
}

// Rate is Requests per Per, sustained, with bursts of up to Burst.
type Rate struct {
	Requests int    `yaml:"requests"`        // 1..1000000
	Per      string `yaml:"per"`             // a Go duration, 1ms..24h: "1s", "1100ms", "1m"
	Burst    int    `yaml:"burst,omitempty"` // 1..requests; absent means 1
}

// TooManyRequests says how an egress host asks a client to wait, and how
// the host asks the module in its name.
type TooManyRequests struct {
	RetryAfterField string `yaml:"retryAfterField,omitempty"` // JSON member of a 429 or 503 holding seconds: "parameters.retry_after"
	RetryAfter      string `yaml:"retryAfter,omitempty"`      // how long a 429 naming no time blocks, 1ms..15m; absent: nothing
	Body            string `yaml:"body,omitempty"`            // JSON answered in place of a held-back request; {seconds} is replaced
}

// Backend is one egress host: a DNS name such as "api.telegram.org", or a
// wildcard "*.example.com" that matches exactly one label in its place,
// optionally with a port ("api.example.com:8443"); without one, only port
// 443 is allowed.
type Backend struct {
	Address string `yaml:"address"`
}

// DefaultEgressPort is the only port a backend address without one allows.
const DefaultEgressPort = 443

// Host returns the address without its port.
func (b Backend) Host() string {
	h, _, _ := cutPort(b.Address)
	return h
}

// Port returns the address's port, DefaultEgressPort when it names none.
func (b Backend) Port() int {
	_, p, ok := cutPort(b.Address)
	if !ok {
		return DefaultEgressPort
	}
	return p
}

// cutPort splits "name:port" into name and port; ok is false when a has no
// port or the port is not a decimal number in 1..65535 without leading zeros.
func cutPort(a string) (name string, port int, ok bool) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return a, 0, false
	}
	digits := a[i+1:]
	if digits == "" || len(digits) > 5 || digits[0] == '0' {
		return a, 0, false
	}
	for j := 0; j < len(digits); j++ {
		if digits[j] < '0' || digits[j] > '9' {
			return a, 0, false
		}
		port = port*10 + int(digits[j]-'0')
	}
	if port > 65535 {
		return a, 0, false
	}
	return a[:i], port, true
}

// Wildcard reports whether b is a wildcard address, which an audit should flag.
func (b Backend) Wildcard() bool { return strings.HasPrefix(b.Address, "*.") }

// ParseManifest decodes data strictly (see the package doc) and validates it.
// Every error wraps ErrInvalidManifest.
func ParseManifest(data []byte) (*Manifest, error) {
	m, err := decodeManifest(data)
	if err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeManifest decodes exactly one YAML document, refusing unknown fields,
// and normalises empty lists to nil.
func decodeManifest(data []byte) (*Manifest, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: the document is empty", ErrInvalidManifest)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidManifest, yamlError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrInvalidManifest)
	}
	m.normalize()
	return &m, nil
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.*) not found in type bundle\.(\w+)$`)
	// sections names each struct by where it sits in the manifest.
	sections = map[string]string{
		"Manifest":           "the top level",
		"App":                "app",
		"Runtime":            "app.runtime",
		"Realtime":           "app.realtime",
		"Uploads":            "app.uploads",
		"Modules":            "modules",
		"WebTrigger":         "modules.webtrigger[]",
		"WebTriggerResponse": "modules.webtrigger[].response",
		"PerAddress":         "modules.webtrigger[].perAddress",
		"Trigger":            "modules.trigger[]",
		"TriggerFilter":      "modules.trigger[].filter",
		"Consumer":           "modules.consumer[]",
		"ScheduledTrigger":   "modules.scheduledTrigger[]",
		"Function":           "modules.function[]",
		"Permissions":        "permissions",
		"External":           "permissions.external",
		"Fetch":              "permissions.external.fetch",
		"Backend":            "permissions.external.fetch.backend[]",
		"PacingRule":         "permissions.external.fetch.pacing[]",
		"PacingMatch":        "permissions.external.fetch.pacing[].when",
		"Rate":               "permissions.external.fetch.pacing[].rate",
		"TooManyRequests":    "permissions.external.fetch.pacing[].tooManyRequests",
	}
)

// yamlError rewrites yaml.v3's unknown-field messages, which name Go types,
// into manifest terms: `line 4: unknown field "surprise" in app`.
func yamlError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		if sm := unknownFieldRE.FindStringSubmatch(e); sm != nil {
			where := sections[sm[3]]
			if where == "" {
				where = sm[3]
			}
			e = fmt.Sprintf("line %s: unknown field %q in %s", sm[1], sm[2], where)
		}
		msgs[i] = e
	}
	return strings.Join(msgs, "; ")
}

func (m *Manifest) normalize() {
	nilIfEmpty(&m.Modules.WebTrigger)
	nilIfEmpty(&m.Modules.Trigger)
	nilIfEmpty(&m.Modules.Consumer)
	nilIfEmpty(&m.Modules.ScheduledTrigger)
	nilIfEmpty(&m.Modules.Function)
	for i := range m.Modules.Trigger {
		nilIfEmpty(&m.Modules.Trigger[i].Events)
	}
	nilIfEmpty(&m.Permissions.Scopes)
	nilIfEmpty(&m.Permissions.External.Fetch.Backend)
	nilIfEmpty(&m.Permissions.External.Fetch.Pacing)
	nilIfEmpty(&m.Permissions.External.Links)
	for i := range m.Permissions.External.Fetch.Pacing {
		r := &m.Permissions.External.Fetch.Pacing[i]
		nilIfEmpty(&r.Key)
		if len(r.When) == 0 {
			r.When = nil
		}
		for name, c := range r.When {
			nilIfEmpty(&c.In)
			nilIfEmpty(&c.NotIn)
			nilIfEmpty(&c.Prefix)
			nilIfEmpty(&c.NotPrefix)
			r.When[name] = c
		}
	}
	nilIfEmpty(&m.Permissions.Capabilities)
}

func nilIfEmpty[T any](s *[]T) {
	if len(*s) == 0 {
		*s = nil
	}
}

var (
	appIDRE = regexp.MustCompile(`^ari:cloud:ecosystem::app/[A-Za-z0-9._-]{1,128}$`)
	keyRE   = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	eventRE = regexp.MustCompile(`^avi:[A-Za-z0-9:._-]+$`)
	scopeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*(:[a-z0-9._-]+)+$`)
)

const (
	maxText  = 256 // bytes of app.name and of a function handler
	appIDFmt = "ari:cloud:ecosystem::app/<id>"
)

// Validate checks every rule of the package doc and reports all problems at
// once, each wrapping ErrInvalidManifest and naming its field.
func (m *Manifest) Validate() error {
	var v validator
	if m.App.ID == "" {
		v.add("app.id is required")
	} else if !appIDRE.MatchString(m.App.ID) {
		v.add("app.id %q is not of the form %s", m.App.ID, appIDFmt)
	}
	v.text("app.name", m.App.Name, false)
	if n := m.App.Runtime.MemoryMiB; n < 0 || n > MaxMemoryMiB {
		v.add("app.runtime.memoryMiB %d is out of range 1..%d (absent means %d)", n, MaxMemoryMiB, DefaultMemoryMiB)
	}
	if n := m.App.Runtime.TimeoutSeconds; n < 0 || n > MaxTimeoutSeconds {
		v.add("app.runtime.timeoutSeconds %d is out of range 1..%d (absent means %d)", n, MaxTimeoutSeconds, DefaultTimeoutSeconds)
	}
	for _, r := range []struct {
		field    string
		n, max   int
		fallback int
	}{
		{"payloadBytes", m.App.Realtime.PayloadBytes, abi.MaxRealtimePayloadLen, abi.MaxRealtimePayloadLen},
		{"operationsPerSecond", m.App.Realtime.OperationsPerSecond, abi.RealtimeOpsPerSecond, abi.RealtimeOpsPerSecond},
		{"subscribersPerInstallation", m.App.Realtime.SubscribersPerInstallation, MaxRealtimeSubscribers, DefaultRealtimeSubscribers},
		{"subscribersPerAddress", m.App.Realtime.SubscribersPerAddress, MaxRealtimeSubscribersPerAddr, DefaultRealtimeSubscribersPerAddr},
	} {
		if r.n < 0 || r.n > r.max {
			v.add("app.realtime.%s %d is out of range 1..%d (absent means %d)", r.field, r.n, r.max, r.fallback)
		}
	}

	if n := m.App.Uploads.MaxBytes; n < 0 || n > MaxUploadBytes {
		v.add("app.uploads.maxBytes %d is out of range 1..%d (absent means %d)", n, MaxUploadBytes, DefaultUploadBytes)
	}

	mods := &m.Modules
	functions := make(map[string]bool, len(mods.Function))
	for _, f := range mods.Function {
		functions[f.Key] = true
	}
	keys := make(map[string]string) // key -> field that declared it first
	key := func(field, k string) {
		switch {
		case !keyRE.MatchString(k):
			v.add("%s.key %q must match [a-z0-9-]{1,64}", field, k)
		case keys[k] != "":
			v.add("%s.key %q is already used by %s", field, k, keys[k])
		default:
			keys[k] = field
		}
	}
	function := func(field, f string) {
		if f == "" {
			v.add("%s.function is required", field)
		} else if !functions[f] {
			v.add("%s.function %q is not a declared function", field, f)
		}
	}
	for i, f := range mods.Function {
		field := fmt.Sprintf("modules.function[%d]", i)
		key(field, f.Key)
		v.text(field+".handler", f.Handler, false)
	}
	for i, w := range mods.WebTrigger {
		field := fmt.Sprintf("modules.webtrigger[%d]", i)
		key(field, w.Key)
		function(field, w.Function)
		if t := w.Response.Type; t != "" && t != "dynamic" {
			v.add("%s.response.type %q is not supported (only \"dynamic\")", field, t)
		}
		if p := w.PerAddress; p != nil {
			checkRate(&v, field+".perAddress", Rate(*p))
		}
	}
	for i, t := range mods.Trigger {
		field := fmt.Sprintf("modules.trigger[%d]", i)
		key(field, t.Key)
		function(field, t.Function)
		if len(t.Events) == 0 {
			v.add("%s.events is required", field)
		}
		seen := make(map[string]bool, len(t.Events))
		for j, e := range t.Events {
			switch {
			case !eventRE.MatchString(e):
				v.add("%s.events[%d] %q is not a product event (\"avi:...\")", field, j, e)
			case seen[e]:
				v.add("%s.events[%d] %q is listed twice", field, j, e)
			}
			seen[e] = true
		}
	}
	queues := make(map[string]bool, len(mods.Consumer))
	for i, c := range mods.Consumer {
		field := fmt.Sprintf("modules.consumer[%d]", i)
		key(field, c.Key)
		function(field, c.Function)
		switch {
		case !keyRE.MatchString(c.Queue):
			v.add("%s.queue %q must match [a-z0-9-]{1,64}", field, c.Queue)
		case queues[c.Queue]:
			v.add("%s.queue %q already has a consumer", field, c.Queue)
		}
		queues[c.Queue] = true
	}
	for i, s := range mods.ScheduledTrigger {
		field := fmt.Sprintf("modules.scheduledTrigger[%d]", i)
		key(field, s.Key)
		function(field, s.Function)
		if !oneOf(s.Interval, intervals) {
			v.add("%s.interval %q is not one of %s", field, s.Interval, strings.Join(intervals, ", "))
		}
	}

	perm := &m.Permissions
	seen := make(map[string]bool)
	for i, s := range perm.Scopes {
		switch {
		case !scopeRE.MatchString(s):
			v.add("permissions.scopes[%d] %q is not a scope (such as read:jira-work)", i, s)
		case seen["scope "+s]:
			v.add("permissions.scopes[%d] %q is listed twice", i, s)
		}
		seen["scope "+s] = true
	}
	for i, b := range perm.External.Fetch.Backend {
		field := fmt.Sprintf("permissions.external.fetch.backend[%d].address", i)
		if msg := checkAddress(b.Address); msg != "" {
			v.add("%s %q %s", field, b.Address, msg)
			continue
		}
		a := fmt.Sprintf("%s:%d", strings.ToLower(b.Host()), b.Port())
		if seen["backend "+a] {
			v.add("%s %q is listed twice", field, b.Address)
		}
		seen["backend "+a] = true
	}
	m.pacing(&v)
	for i, l := range perm.External.Links {
		field := fmt.Sprintf("permissions.external.links[%d]", i)
		h := strings.ToLower(l)
		switch msg := checkAddress(l); {
		case msg != "":
			v.add("%s %q %s", field, l, msg)
		case strings.HasPrefix(l, "*."):
			v.add("%s %q must name one host: a link is written for one host, so a wildcard would cover hosts the module never names", field, l)
		case strings.Contains(l, ":"):
			v.add("%s %q must be a host name without a port", field, l)
		case seen["link "+h]:
			v.add("%s %q is listed twice", field, l)
		case m.EgressAllowed(h):
			v.add("%s %q is an egress host of permissions.external.fetch.backend: list it there only", field, l)
		}
		seen["link "+h] = true
	}
	for i, c := range perm.Capabilities {
		switch {
		case !oneOf(c, capabilities):
			v.add("permissions.capabilities[%d] %q is not a capability (one of %s)", i, c, strings.Join(capabilities, ", "))
		case seen["capability "+c]:
			v.add("permissions.capabilities[%d] %q is listed twice", i, c)
		}
		seen["capability "+c] = true
	}
	return v.err()
}

// Bounds of a pacing rule's rate and answers.
const (
	maxRequests   = 1_000_000
	minPer        = time.Millisecond
	maxPer        = 24 * time.Hour
	maxRetryAfter = 15 * time.Minute // the longest queue delay, and ratelimit's longest block
)

// pacing checks permissions.external.fetch.pacing and returns its rules
// as package ratelimit takes them; every problem goes to v.
func (m *Manifest) pacing(v *validator) []ratelimit.Spec {
	rules := m.Permissions.External.Fetch.Pacing
	if len(rules) > ratelimit.MaxRules {
		v.add("permissions.external.fetch.pacing has %d rules, at most %d", len(rules), ratelimit.MaxRules)
	}
	specs := make([]ratelimit.Spec, len(rules))
	for i, r := range rules {
		field := fmt.Sprintf("permissions.external.fetch.pacing[%d]", i)
		s := &specs[i]
		*s = ratelimit.Spec{Host: r.Host, Method: r.Method, Path: r.Path, Key: r.Key}
		switch {
		case r.Host == "":
			v.add("%s.host is required", field)
		case checkAddress(r.Host) != "":
			v.add("%s.host %q %s", field, r.Host, checkAddress(r.Host))
		case !m.declaresEgress(r.Host):
			v.add("%s.host %q is not an egress host of permissions.external.fetch.backend", field, r.Host)
		}
		if r.When != nil {
			s.When = make(map[string]ratelimit.Match, len(r.When))
			for name, c := range r.When {
				s.When[name] = ratelimit.Match{In: c.In, NotIn: c.NotIn, Prefix: c.Prefix, NotPrefix: c.NotPrefix}
			}
		}
		if rate := r.Rate; rate != nil {
			if every, ok := checkRate(v, field+".rate", *rate); ok {
				s.Pace = ratelimit.Pace{Every: every, Burst: max(rate.Burst, 1)}
			}
		}
		t := r.TooManyRequests
		s.TooManyRequests = ratelimit.Answers{RetryAfterField: t.RetryAfterField, Body: t.Body}
		if t.RetryAfter != "" {
			d, err := time.ParseDuration(t.RetryAfter)
			switch {
			case err != nil:
				v.add("%s.tooManyRequests.retryAfter %q is not a duration (such as 1s)", field, t.RetryAfter)
			case d < time.Millisecond || d > maxRetryAfter:
				v.add("%s.tooManyRequests.retryAfter %q is out of range 1ms..%v", field, t.RetryAfter, maxRetryAfter)
			default:
				s.TooManyRequests.RetryAfter = d
			}
		}
	}
	if _, err := ratelimit.NewTable(specs); err != nil {
		for _, e := range unjoin(err) {
			var se *ratelimit.SpecError
			switch {
			case errors.As(e, &se) && se.Field == "host":
				// Checked above, more strictly.
			case se != nil:
				v.add("permissions.external.fetch.pacing[%d].%s %s", se.Rule, se.Field, se.Problem)
			default:
				v.add("permissions.external.fetch.pacing: %v", e)
			}
		}
	}
	return specs
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// declaresEgress reports whether a pacing rule's host is covered by the
// egress allowlist: a name EgressAllowed allows, or a wildcard written
// exactly so in backend.
func (m *Manifest) declaresEgress(host string) bool {
	if !strings.HasPrefix(host, "*.") {
		return m.EgressAllowed(host)
	}
	for _, b := range m.Permissions.External.Fetch.Backend {
		if strings.EqualFold(b.Host(), host) {
			return true
		}
	}
	return false
}

// Pacing returns permissions.external.fetch.pacing compiled for package
// ratelimit, which paces the fetch requests of the running bundle by it.
// It fails only for a manifest that does not validate.
func (m *Manifest) Pacing() (*ratelimit.Table, error) {
	var v validator
	specs := m.pacing(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return ratelimit.NewTable(specs)
}

type validator struct{ errs []error }

func (v *validator) add(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%w: %s", ErrInvalidManifest, fmt.Sprintf(format, args...)))
}

// text checks free text that an audit will print: valid UTF-8, no control
// characters, at most maxText bytes.
func (v *validator) text(field, s string, required bool) {
	switch {
	case s == "":
		if required {
			v.add("%s is required", field)
		}
	case len(s) > maxText:
		v.add("%s is longer than %d bytes", field, maxText)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, unprintable):
		v.add("%s %q contains control characters or invalid UTF-8", field, s)
	}
}

// unprintable is true of control characters and of the bidirectional
// controls that make printed text read differently from its bytes.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// checkAddress returns why a backend address is not acceptable, or "".
func checkAddress(a string) string {
	switch {
	case a == "":
		return "is empty"
	case strings.Contains(a, "://"):
		return "must be a host name without a scheme"
	case strings.ContainsAny(a, "/?#"):
		return "must be a host name without a path"
	case strings.Contains(a, "@"):
		return "must be a host name without user information"
	case strings.HasPrefix(a, "[") || net.ParseIP(a) != nil:
		return "must be a host name, not an IP address"
	}
	if name, _, ok := cutPort(a); ok {
		a = name
	}
	switch {
	case strings.Contains(a, ":"):
		return "must be a host name, optionally with a port from 1 to 65535 (host:8443)"
	case strings.HasSuffix(a, "."):
		return "must be written without a trailing dot"
	}
	name, wildcard := strings.CutPrefix(a, "*.")
	switch {
	case strings.Contains(name, "*"):
		return "may use a wildcard only as its whole first label (*.example.com)"
	case wildcard && !strings.Contains(name, "."):
		return "is a wildcard over a top-level domain"
	case looksNumeric(strings.ToLower(name)):
		return "must be a host name, not an IP address"
	}
	if _, ok := canonicalHost(name); !ok {
		return "is not a valid ASCII host name of at least two labels (use the xn-- form for IDNs)"
	}
	return ""
}

// canonicalHost lower-cases host and drops one trailing dot, and reports
// whether the result is an ASCII DNS name of at least two labels that no
// resolver could read as an IPv4 address (127.1, 0x7f.1, 2130706433).
// Non-ASCII is refused before lower-casing, so that the Kelvin sign does not
// become a "k".
func canonicalHost(host string) (string, bool) {
	if host == "" || len(host) > 254 {
		return "", false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", false
		}
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "" || len(h) > 253 || looksNumeric(h) {
		return "", false
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return "", false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", false
		}
	}
	return h, true
}

// looksNumeric reports whether the last label of h is a number, which URL
// parsers and resolvers take to mean an IPv4 address.
func looksNumeric(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if x, ok := strings.CutPrefix(last, "0x"); ok {
		return isLowerHex(x)
	}
	return strings.Trim(last, "0123456789") == ""
}

// EgressAllowed reports whether the fetch capability may connect to host on
// some port: host is the bare host name of a request URL
// (url.URL.Hostname()). host matches a backend address's name exactly, or
// matches "*.example.com" when it is one more label in front of
// example.com; never example.com itself. Comparison is case-insensitive and
// ignores one trailing dot. A host with a scheme, port, path or user
// information, an IP literal, or a non-ASCII name is refused.
func (m *Manifest) EgressAllowed(host string) bool { return m.egress(host, 0) }

// EgressAllowedAt is EgressAllowed for one port: the address must name that
// port, or name none and port be DefaultEgressPort.
func (m *Manifest) EgressAllowedAt(host string, port int) bool {
	return port > 0 && m.egress(host, port)
}

// egress matches host against the backend addresses, on port unless it is 0.
func (m *Manifest) egress(host string, port int) bool {
	h, ok := canonicalHost(host)
	if !ok {
		return false
	}
	for _, b := range m.Permissions.External.Fetch.Backend {
		if port != 0 && b.Port() != port {
			continue
		}
		a := strings.ToLower(b.Host())
		if parent, wild := strings.CutPrefix(a, "*."); wild {
			if _, rest, _ := strings.Cut(h, "."); rest == parent {
				return true
			}
		} else if a == h {
			return true
		}
	}
	return false
}

// LinkDeclared reports whether permissions.external.links names host,
// compared as EgressAllowed compares (case-insensitive, one trailing dot
// ignored). A declared link grants no egress.
func (m *Manifest) LinkDeclared(host string) bool {
	h, ok := canonicalHost(host)
	if !ok {
		return false
	}
	for _, l := range m.Permissions.External.Links {
		if strings.ToLower(l) == h {
			return true
		}
	}
	return false
}

// HasScope reports whether permissions.scopes declares scope.
func (m *Manifest) HasScope(scope string) bool {
	return oneOf(scope, m.Permissions.Scopes)
}

// HasCapability reports whether the manifest grants the named capability
// (one of the Capability constants).
func (m *Manifest) HasCapability(name string) bool {
	return oneOf(name, m.Permissions.Capabilities)
}

// MemoryPages returns the linear memory cap in 64 KiB wasm pages.
func (m *Manifest) MemoryPages() uint32 {
	mib := m.App.Runtime.MemoryMiB
	if mib <= 0 {
		mib = DefaultMemoryMiB
	}
	return uint32(mib) * (1 << 20 / wasmPageSize)
}

// Timeout returns the deadline for one invocation of a module of the given
// kind: app.runtime.timeoutSeconds (default 25 s), capped at 55 s for web
// triggers, 900 s for consumers and 25 s for every other kind, as on Forge.
func (m *Manifest) Timeout(kind Kind) time.Duration {
	s := m.App.Runtime.TimeoutSeconds
	if s <= 0 {
		s = DefaultTimeoutSeconds
	}
	limit := DefaultTimeoutSeconds
	switch kind {
	case KindWebTrigger:
		limit = webTriggerTimeoutSeconds
	case KindConsumer:
		limit = consumerTimeoutSeconds
	}
	return time.Duration(min(s, limit)) * time.Second
}
