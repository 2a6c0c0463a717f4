package tenant

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// JiraEventsRoute is the route name under which Jira's webhooks arrive.
const JiraEventsRoute = "jira-events"

// Host-reserved secret names in an installation's secret keyspace.
const (
	secretJiraAuth    = storage.HostSecretPrefix + "jira-authorization"
	secretJiraWebhook = storage.HostSecretPrefix + "jira-webhook"
	// secretJiraWebhookPrevious is the secret a rotation replaced, which
	// verifies deliveries for WebhookSecretGrace more.
	secretJiraWebhookPrevious = storage.HostSecretPrefix + "jira-webhook-previous"
	// secretJiraWebhookID is the id of the admin webhook the host
	// registered with the site (absent when registered by hand).
	secretJiraWebhookID = storage.HostSecretPrefix + "jira-webhook-id"
)

// recordPrefix begins each installation's index record in the host's
// registry: {"id": ID} only. The installation's own record (site URL, app
// account, routes) is detailsKey in the installation's registry keyspace,
// sealed under its own keys, so that shredding them leaves nothing of the
// site readable in any backup. Index records of the older format hold the
// whole installation; Open moves them.
const (
	recordPrefix = "installation:"
	detailsKey   = "installation"
)

var (
	// ErrNotFound is returned for an unknown installation or route.
	ErrNotFound = errors.New("tenant: installation not found")
	// ErrInvalid is returned for an installation request that cannot be valid.
	ErrInvalid = errors.New("tenant: invalid installation")
	// ErrExists is returned when the site is already installed.
	ErrExists = errors.New("tenant: site already installed")
)

// Site is what installing a Jira site takes.
type Site struct {
	// URL is the site's base URL, https://NAME.atlassian.net.
	URL string
	// AppAccountID is the app's Jira account on the site.
	AppAccountID string
	// Authorization is the Authorization header value for Jira REST calls
	// (e.g. "Basic base64(email:token)"). Stored as a secret, never returned.
	Authorization string
}

// Installation is one installed site.
type Installation struct {
	ID           string            `json:"id"`
	SiteURL      string            `json:"siteUrl"`
	AppAccountID string            `json:"appAccountId"`
	Routes       map[string]string `json:"routes"` // web trigger key (or JiraEventsRoute) -> route id
	CreatedAt    time.Time         `json:"createdAt"`

	old bool // read from an index record of the older format
}

// Target is what a route id leads to.
type Target struct {
	Installation string
	Trigger      string // a web trigger key, or JiraEventsRoute
}

// Registry is the set of installations, cached in memory over the store.
type Registry struct {
	store storage.Store

	// mu guards byID, byRoute and changes.
	mu      sync.RWMutex
	byID    map[string]*Installation
	byRoute map[string]Target
	// changes counts this host's own changes, so that Refresh does not put
	// back what it read before one of them.
	changes uint64

	// deliveriesMu guards lastDelivery: when this node last received an
	// authenticated Jira delivery, by installation (memory only).
	deliveriesMu sync.Mutex
	lastDelivery map[string]time.Time
}

// Open loads every installation from store. It moves index records of the
// older format (the whole installation under the host's keys) to the
// installation's own keys, and drops the index records of installations
// whose keys were shredded (a backup restored after their uninstall).
func Open(ctx context.Context, store storage.Store) (*Registry, error) {
	r := &Registry{store: store, byID: map[string]*Installation{}, byRoute: map[string]Target{}}
	ins, gone, err := r.read(ctx)
	if err != nil {
		return nil, err
	}
	for _, in := range ins {
		if in.old {
			if err := r.save(ctx, in); err != nil {
				return nil, err
			}
		}
	}
	for _, id := range gone {
		if err := r.store.Delete(ctx, storage.HostInstallation, storage.Registry, recordPrefix+id); err != nil {
			return nil, fmt.Errorf("tenant: drop a shredded installation: %w", err)
		}
		if err := r.store.Purge(ctx, id); err != nil {
			return nil, fmt.Errorf("tenant: drop a shredded installation: %w", err)
		}
	}
	for _, in := range ins {
		index(r.byID, r.byRoute, in)
	}
	return r, nil
}

// read reads every installation record from the store; gone lists the
// index records of installations whose keys were shredded.
func (r *Registry) read(ctx context.Context) (ins []*Installation, gone []string, err error) {
	cursor := ""
	for {
		p, err := r.store.Query(ctx, storage.HostInstallation, storage.Registry, recordPrefix, cursor, storage.MaxQueryLimit)
		if err != nil {
			return nil, nil, fmt.Errorf("tenant: load: %w", err)
		}
		for _, e := range p.Entries {
			in := &Installation{}
			if err := json.Unmarshal(e.Value, in); err != nil {
				return nil, nil, fmt.Errorf("tenant: load %s: %w", e.Key, err)
			}
			if in.SiteURL != "" {
				in.old = true
				ins = append(ins, in)
				continue
			}
			id := in.ID
			in, shredded, err := r.details(ctx, id)
			if err != nil {
				return nil, nil, err
			}
			if in != nil {
				ins = append(ins, in)
			}
			if shredded {
				gone = append(gone, id)
			}
		}
		if p.NextCursor == "" {
			return ins, gone, nil
		}
		cursor = p.NextCursor
	}
}

// Refresh reads the installations again, for a host that shares its store
// with other hosts: they install, uninstall and add routes too. It returns
// the installations that are gone. Lookups keep being served from memory
// throughout, so a flood of unknown routes never reaches the store.
func (r *Registry) Refresh(ctx context.Context) (removed []string, err error) {
	r.mu.RLock()
	changes := r.changes
	r.mu.RUnlock()
	ins, _, err := r.read(ctx)
	if err != nil {
		return nil, err
	}
	byID, byRoute := make(map[string]*Installation, len(ins)), make(map[string]Target, len(ins)*2)
	for _, in := range ins {
		index(byID, byRoute, in)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.changes != changes {
		return nil, nil // read before a change of this host's: the next refresh
	}
	for id := range r.byID {
		if _, ok := byID[id]; !ok {
			removed = append(removed, id)
		}
	}
	r.byID, r.byRoute = byID, byRoute
	return removed, nil
}

func index(byID map[string]*Installation, byRoute map[string]Target, in *Installation) {
	byID[in.ID] = in
	for trigger, id := range in.Routes {
		byRoute[id] = Target{Installation: in.ID, Trigger: trigger}
	}
}

// newID returns 144 random bits, URL-safe, never beginning with '-': an id
// is an argument of the CLI (chatbridge uninstall <id>), where it would
// read as a flag.
func newID() string {
	var b [18]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id
		}
	}
}

// CheckSiteURL accepts https://host[:port] with no path, query or userinfo.
func CheckSiteURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("%w: site URL must be https://host with no path", ErrInvalid)
	}
	return "https://" + strings.ToLower(u.Host), nil
}

// Create installs a site with routes for the given web trigger keys (and
// one for Jira's webhooks), and returns it with its Jira webhook secret.
func (r *Registry) Create(ctx context.Context, site Site, webTriggers []string) (*Installation, string, error) {
	siteURL, err := CheckSiteURL(site.URL)
	if err != nil {
		return nil, "", err
	}
	if site.Authorization == "" {
		return nil, "", fmt.Errorf("%w: Jira authorization is required", ErrInvalid)
	}
	if strings.TrimSpace(site.AppAccountID) == "" {
		// Without it the bridge cannot tell its own comments from an agent's.
		return nil, "", fmt.Errorf("%w: the app's Jira account id is required", ErrInvalid)
	}
	r.mu.RLock()
	for _, in := range r.byID {
		if in.SiteURL == siteURL {
			r.mu.RUnlock()
			return nil, "", fmt.Errorf("%w: %s", ErrExists, siteURL)
		}
	}
	r.mu.RUnlock()
	in := &Installation{ID: newID(), SiteURL: siteURL, AppAccountID: site.AppAccountID,
		Routes: map[string]string{JiraEventsRoute: newID()}, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	for _, t := range webTriggers {
		in.Routes[t] = newID()
	}
	webhookSecret := newID()
	if err := r.store.Set(ctx, in.ID, storage.Secret, secretJiraAuth, []byte(site.Authorization), 0); err != nil {
		return nil, "", fmt.Errorf("tenant: store credentials: %w", err)
	}
	if err := r.store.Set(ctx, in.ID, storage.Secret, secretJiraWebhook, []byte(webhookSecret), 0); err != nil {
		return nil, "", fmt.Errorf("tenant: store webhook secret: %w", err)
	}
	if err := r.save(ctx, in); err != nil {
		return nil, "", err
	}
	r.mu.Lock()
	index(r.byID, r.byRoute, in)
	r.changes++
	r.mu.Unlock()
	return in, webhookSecret, nil
}

// CreateWithoutSite installs an app that uses no Jira (bundle's
// Manifest.NeedsJiraSite is false): routes for its web triggers only, no
// credentials, no Jira webhook. Each call is a new installation.
func (r *Registry) CreateWithoutSite(ctx context.Context, webTriggers []string) (*Installation, error) {
	in := &Installation{ID: newID(), Routes: map[string]string{}, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	for _, t := range webTriggers {
		in.Routes[t] = newID()
	}
	if err := r.save(ctx, in); err != nil {
		return nil, err
	}
	r.mu.Lock()
	index(r.byID, r.byRoute, in)
	r.changes++
	r.mu.Unlock()
	return in, nil
}

// details reads an installation's own record; nil when it is gone: its
// keys were shredded (shredded is then true), or an install stopped
// before writing it.
func (r *Registry) details(ctx context.Context, id string) (in *Installation, shredded bool, err error) {
	b, err := r.store.Get(ctx, id, storage.Registry, detailsKey)
	if errors.Is(err, storage.ErrNotFound) {
		if sh, ok := r.store.(storage.Shredder); ok {
			if shredded, err = sh.Shredded(ctx, id); err != nil {
				return nil, false, fmt.Errorf("tenant: load: %w", err)
			}
		}
		return nil, shredded, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("tenant: load: %w", err)
	}
	in = &Installation{}
	if err := json.Unmarshal(b, in); err != nil || in.ID != id {
		return nil, false, fmt.Errorf("tenant: load: installation record malformed")
	}
	return in, false, nil
}

// save writes the installation's own record, then its index record.
func (r *Registry) save(ctx context.Context, in *Installation) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if err := r.store.Set(ctx, in.ID, storage.Registry, detailsKey, b, 0); err != nil {
		return fmt.Errorf("tenant: save: %w", err)
	}
	idx, err := json.Marshal(struct {
		ID string `json:"id"`
	}{in.ID})
	if err != nil {
		return err
	}
	if err := r.store.Set(ctx, storage.HostInstallation, storage.Registry, recordPrefix+in.ID, idx, 0); err != nil {
		return fmt.Errorf("tenant: save: %w", err)
	}
	in.old = false
	return nil
}

// EnsureRoutes adds routes for web triggers a newly loaded bundle declares.
func (r *Registry) EnsureRoutes(ctx context.Context, webTriggers []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, in := range r.byID {
		changed := false
		for _, t := range webTriggers {
			if _, ok := in.Routes[t]; !ok {
				id := newID()
				in.Routes[t] = id
				r.byRoute[id] = Target{Installation: in.ID, Trigger: t}
				changed = true
			}
		}
		if changed {
			r.changes++
			if err := r.save(ctx, in); err != nil {
				return err
			}
		}
	}
	return nil
}

// Remove uninstalls: it forgets the routes and purges every record and the
// keys of the installation; with a storage.Shredder it reports the keys
// destroyed.
func (r *Registry) Remove(ctx context.Context, id string) (storage.Shredding, error) {
	r.mu.Lock()
	in, ok := r.byID[id]
	if ok {
		delete(r.byID, id)
		for _, route := range in.Routes {
			delete(r.byRoute, route)
		}
		r.changes++
	}
	r.mu.Unlock()
	if !ok {
		return storage.Shredding{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err := r.store.Delete(ctx, storage.HostInstallation, storage.Registry, recordPrefix+id); err != nil {
		return storage.Shredding{}, fmt.Errorf("tenant: remove record: %w", err)
	}
	if sh, ok := r.store.(storage.Shredder); ok {
		rep, err := sh.Shred(ctx, id)
		if err != nil {
			return rep, fmt.Errorf("tenant: shred: %w", err)
		}
		return rep, nil
	}
	if err := r.store.Purge(ctx, id); err != nil {
		return storage.Shredding{}, fmt.Errorf("tenant: purge: %w", err)
	}
	return storage.Shredding{Installation: id, At: time.Now().UTC()}, nil
}

// Stored reports whether the store still holds the installation's record,
// whatever this host's memory says: another host may have made it since the
// last Refresh, and only the store can say it is gone for good.
func (r *Registry) Stored(ctx context.Context, id string) (bool, error) {
	_, err := r.store.Get(ctx, storage.HostInstallation, storage.Registry, recordPrefix+id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("tenant: look up %s: %w", id, err)
}

// Get returns a copy of the installation.
func (r *Registry) Get(id string) (Installation, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	in, ok := r.byID[id]
	if !ok {
		return Installation{}, false
	}
	cp := *in
	cp.Routes = make(map[string]string, len(in.Routes))
	for k, v := range in.Routes {
		cp.Routes[k] = v
	}
	return cp, true
}

// List returns every installation, oldest first.
func (r *Registry) List() []Installation {
	r.mu.RLock()
	ids := make([]string, 0, len(r.byID))
	for id := range r.byID {
		ids = append(ids, id)
	}
	r.mu.RUnlock()
	out := make([]Installation, 0, len(ids))
	for _, id := range ids {
		if in, ok := r.Get(id); ok {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Lookup resolves a route id; it never touches the store.
func (r *Registry) Lookup(routeID string) (Target, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.byRoute[routeID]
	return t, ok
}

// JiraBase returns the site URL and Authorization of an installation; it
// implements the jira capability's view of a site.
func (r *Registry) JiraBase(ctx context.Context, id string) (string, string, error) {
	in, ok := r.Get(id)
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if in.SiteURL == "" {
		return "", "", fmt.Errorf("%w: %q was installed without a Jira site", ErrNotFound, id)
	}
	auth, err := r.store.Get(ctx, id, storage.Secret, secretJiraAuth)
	if err != nil {
		return "", "", fmt.Errorf("tenant: credentials: %w", err)
	}
	return in.SiteURL, string(auth), nil
}

// WebhookSecret returns the secret Jira signs this installation's webhooks with.
func (r *Registry) WebhookSecret(ctx context.Context, id string) ([]byte, error) {
	return r.store.Get(ctx, id, storage.Secret, secretJiraWebhook)
}

// Triggers lists the route names of an installation, sorted.
func (in Installation) Triggers() []string {
	var t []string
	for k := range in.Routes {
		t = append(t, k)
	}
	slices.Sort(t)
	return t
}
