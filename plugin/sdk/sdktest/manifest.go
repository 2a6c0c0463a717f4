package sdktest

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
	"github.com/chatbridge/chatbridge/wit/jirascopes"
)

// Manifest is what the host enforces at call time of a plugin's
// manifest.yml: its capabilities, Jira scopes, egress hosts and consumers'
// queues. Read one with ReadManifest; NewEnvFor makes fakes that refuse the
// rest.
//
// It is read leniently: the strict decoding and every other rule is the
// host's (chatbridge bundle build checks it).
type Manifest struct {
	Capabilities []string // permissions.capabilities
	Scopes       []string // permissions.scopes
	Egress       []string // permissions.external.fetch.backend[].address
	Queues       []string // modules.consumer[].queue
	// RealtimePayloadBytes is app.realtime.payloadBytes (0: the contract's
	// abi.MaxRealtimePayloadLen).
	RealtimePayloadBytes int
	// UploadBytes is app.uploads.maxBytes (0: the host's default, 10 MiB).
	UploadBytes int64
}

// ReadManifest reads the manifest.yml at path.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseManifest(b)
}

// ParseManifest reads a manifest.yml's permissions and queues.
func ParseManifest(b []byte) (*Manifest, error) {
	var raw struct {
		App struct {
			Realtime struct {
				PayloadBytes int `yaml:"payloadBytes"`
			} `yaml:"realtime"`
			Uploads struct {
				MaxBytes int64 `yaml:"maxBytes"`
			} `yaml:"uploads"`
		} `yaml:"app"`
		Modules struct {
			Consumer []struct {
				Queue string `yaml:"queue"`
			} `yaml:"consumer"`
		} `yaml:"modules"`
		Permissions struct {
			Capabilities []string `yaml:"capabilities"`
			Scopes       []string `yaml:"scopes"`
			External     struct {
				Fetch struct {
					Backend []struct {
						Address string `yaml:"address"`
					} `yaml:"backend"`
				} `yaml:"fetch"`
			} `yaml:"external"`
		} `yaml:"permissions"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("sdktest: manifest: %w", err)
	}
	m := &Manifest{Capabilities: raw.Permissions.Capabilities, Scopes: raw.Permissions.Scopes,
		RealtimePayloadBytes: raw.App.Realtime.PayloadBytes, UploadBytes: raw.App.Uploads.MaxBytes}
	for _, c := range raw.Modules.Consumer {
		m.Queues = append(m.Queues, c.Queue)
	}
	for _, a := range raw.Permissions.External.Fetch.Backend {
		m.Egress = append(m.Egress, a.Address)
	}
	return m, nil
}

// NewEnvFor returns NewEnv's fakes behind the manifest's rules, as the host
// applies them: a capability the manifest does not list answers
// access-denied (the host refuses to load such a module at all); fetch to a
// host or port no backend address allows answers access-denied, and to
// anything but an https URL invalid-argument; a Jira call the manifest's
// scopes do not allow answers access-denied, and one whose path could leave
// the site invalid-argument (the host's rule, wit/jirascopes.Decide); a push
// to a queue no consumer reads answers invalid-argument. The fakes' Handlers
// answer the rest.
func NewEnvFor(m *Manifest) *Env {
	e := NewEnv()
	has := func(c string) bool { return slices.Contains(m.Capabilities, c) }
	if !has(abi.CapabilityStorage) {
		e.Env.Storage = deniedStorage{}
	}
	if !has(abi.CapabilitySecrets) {
		e.Env.Secrets = deniedSecrets{}
	}
	if has(abi.CapabilityFetch) {
		e.Env.Fetch = egressFetcher{m.Egress, e.HTTP}
	} else {
		e.Env.Fetch = deniedHTTP{}
	}
	if has(abi.CapabilityJira) {
		e.Env.Jira = scopedJira{m.Scopes, jiraFake{e.JiraAPI, e.Links, e.Uploads}}
	} else {
		e.Env.Jira = deniedHTTP{}
	}
	if has(abi.CapabilityQueue) {
		e.Env.Queue = declaredQueues{m.Queues, e.Pushed}
	} else {
		e.Env.Queue = deniedQueue{}
	}
	e.Live.PayloadBytes = m.RealtimePayloadBytes
	e.Uploads.MaxBytes = m.UploadBytes
	if e.Uploads.MaxBytes == 0 {
		e.Uploads.MaxBytes = 10 << 20
	}
	if !has(abi.CapabilityRealtime) {
		e.Env.Realtime = deniedRealtime{}
	}
	return e
}

// EgressAllowed reports whether fetch may reach host on port under the
// backend addresses: a name matches itself (ASCII case and a trailing dot
// ignored), "*.example.com" matches one label in place of the star, and an
// address without a port allows 443 only.
func EgressAllowed(addresses []string, host string, port int) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "" || port < 1 || port > 65535 {
		return false
	}
	for _, a := range addresses {
		name, p := a, defaultEgressPort
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			n, err := strconv.Atoi(a[i+1:])
			if err != nil {
				continue
			}
			name, p = a[:i], n
		}
		if p != port {
			continue
		}
		name = strings.ToLower(name)
		if parent, wild := strings.CutPrefix(name, "*."); wild {
			if label, rest, ok := strings.Cut(h, "."); ok && label != "" && rest == parent {
				return true
			}
		} else if name == h {
			return true
		}
	}
	return false
}

type egressFetcher struct {
	addresses []string
	next      *HTTP
}

func (f egressFetcher) Fetch(req *abi.Request) (*abi.Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, abi.InvalidArgument
	}
	port := defaultEgressPort
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, abi.InvalidArgument
		}
	}
	if !EgressAllowed(f.addresses, u.Hostname(), port) {
		return nil, abi.AccessDenied
	}
	return f.next.Fetch(req)
}

// scopedJira holds the jira fake to the manifest's scopes.
type scopedJira struct {
	scopes []string
	next   jiraFake
}

var _ sdk.AttachmentLinker = scopedJira{}

// Request answers what jirascopes.Decide refuses as the host does, and
// passes the rest to the fake.
func (j scopedJira) Request(req *abi.Request) (*abi.Response, error) {
	switch jirascopes.Decide(req.Method, req.URL, func(s string) bool { return slices.Contains(j.scopes, s) }).Verdict {
	case jirascopes.Allowed:
	case jirascopes.InvalidPath:
		return nil, abi.InvalidArgument
	default:
		return nil, abi.AccessDenied
	}
	// The host joins the path to the site's URL; one that does not parse
	// (a control character) is invalid-argument there too.
	if _, err := url.Parse(fakeSite + req.URL); err != nil {
		return nil, abi.InvalidArgument
	}
	return j.next.Request(req)
}

// AttachmentLink needs the jira capability only, as on the host.
func (j scopedJira) AttachmentLink(id string, ttl time.Duration) (string, error) {
	return j.next.AttachmentLink(id, ttl)
}

var _ sdk.UploadLinker = scopedJira{}

// UploadLink needs the scopes of attachTemporaryFile, as on the host,
// which makes that call for the module.
func (j scopedJira) UploadLink(desk, origin, subject, mediaType string, maxBytes int64, ttl time.Duration) (string, error) {
	if jirascopes.Decide("POST", "/rest/servicedeskapi/servicedesk/"+desk+"/attachTemporaryFile",
		func(s string) bool { return slices.Contains(j.scopes, s) }).Verdict != jirascopes.Allowed {
		return "", abi.AccessDenied
	}
	return j.next.UploadLink(desk, origin, subject, mediaType, maxBytes, ttl)
}

// UploadResult needs the jira capability only, as on the host.
func (j scopedJira) UploadResult(link string) (sdk.UploadResult, error) {
	return j.next.UploadResult(link)
}

// fakeSite stands for the installation's site where a URL is checked.
const fakeSite = "https://sdktest.atlassian.net"

type declaredQueues struct {
	queues []string
	next   *Queue
}

func (q declaredQueues) Push(queue, orderKey string, payload []byte, delay time.Duration) error {
	if !slices.Contains(q.queues, queue) {
		return abi.InvalidArgument
	}
	return q.next.Push(queue, orderKey, payload, delay)
}

type deniedStorage struct{}

func (deniedStorage) Get(string) ([]byte, error)              { return nil, abi.AccessDenied }
func (deniedStorage) Set(string, []byte, time.Duration) error { return abi.AccessDenied }
func (deniedStorage) Delete(string) error                     { return abi.AccessDenied }
func (deniedStorage) Query(string, string, int) (abi.Page, error) {
	return abi.Page{}, abi.AccessDenied
}

type deniedSecrets struct{}

func (deniedSecrets) Set(string, []byte) error             { return abi.AccessDenied }
func (deniedSecrets) Delete(string) error                  { return abi.AccessDenied }
func (deniedSecrets) Compare(string, []byte) (bool, error) { return false, abi.AccessDenied }
func (deniedSecrets) VerifyHMAC(string, sdk.Hash, []byte, []byte) (bool, error) {
	return false, abi.AccessDenied
}

type deniedHTTP struct{}

func (deniedHTTP) Fetch(*abi.Request) (*abi.Response, error)   { return nil, abi.AccessDenied }
func (deniedHTTP) Request(*abi.Request) (*abi.Response, error) { return nil, abi.AccessDenied }

type deniedQueue struct{}

func (deniedQueue) Push(string, string, []byte, time.Duration) error { return abi.AccessDenied }

type deniedRealtime struct{}

func (deniedRealtime) Publish(string, []byte) error { return abi.AccessDenied }
func (deniedRealtime) SignToken(string, string, time.Duration) (string, error) {
	return "", abi.AccessDenied
}

// defaultEgressPort is the one port a backend address without a port
// allows, as the host's (host/bundle DefaultEgressPort).
const defaultEgressPort = 443
