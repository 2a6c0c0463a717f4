package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

// WebhookSecretGrace is how long the secret a rotation replaced still
// verifies Jira's deliveries: the time the administrator has to enter the
// new one in Jira's webhook page before Jira's deliveries are refused.
const WebhookSecretGrace = 24 * time.Hour

// RotateWebhookSecret gives the installation a new Jira webhook secret and
// returns it; the old one verifies deliveries for WebhookSecretGrace more.
func (r *Registry) RotateWebhookSecret(ctx context.Context, id string) (string, time.Time, error) {
	if _, ok := r.Get(id); !ok {
		return "", time.Time{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	old, err := r.store.Get(ctx, id, storage.Secret, secretJiraWebhook)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("tenant: webhook secret: %w", err)
	}
	// The old one first: a crash in between leaves the old secret current
	// and the previous one equal to it, which verifies the same deliveries.
	if err := r.store.Set(ctx, id, storage.Secret, secretJiraWebhookPrevious, old, WebhookSecretGrace); err != nil {
		return "", time.Time{}, fmt.Errorf("tenant: keep the previous webhook secret: %w", err)
	}
	secret := newID()
	if err := r.store.Set(ctx, id, storage.Secret, secretJiraWebhook, []byte(secret), 0); err != nil {
		return "", time.Time{}, fmt.Errorf("tenant: store webhook secret: %w", err)
	}
	return secret, time.Now().Add(WebhookSecretGrace).UTC().Truncate(time.Second), nil
}

// PreviousWebhookSecret returns the secret the last rotation replaced while
// its grace lasts, or nil.
func (r *Registry) PreviousWebhookSecret(ctx context.Context, id string) ([]byte, error) {
	b, err := r.store.Get(ctx, id, storage.Secret, secretJiraWebhookPrevious)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return b, err
}

// SetJiraWebhookID records the id of the admin webhook the host registered
// with the installation's site (a sealed host secret, kept until uninstall
// or until the webhook is deleted); "" removes it.
func (r *Registry) SetJiraWebhookID(ctx context.Context, id, hookID string) error {
	if _, ok := r.Get(id); !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if hookID == "" {
		if err := r.store.Delete(ctx, id, storage.Secret, secretJiraWebhookID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("tenant: forget the webhook id: %w", err)
		}
		return nil
	}
	if err := r.store.Set(ctx, id, storage.Secret, secretJiraWebhookID, []byte(hookID), 0); err != nil {
		return fmt.Errorf("tenant: store the webhook id: %w", err)
	}
	return nil
}

// JiraWebhookID returns the id of the admin webhook the host registered, or
// "" when the administrator registered it by hand (or nothing did).
func (r *Registry) JiraWebhookID(ctx context.Context, id string) (string, error) {
	b, err := r.store.Get(ctx, id, storage.Secret, secretJiraWebhookID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("tenant: webhook id: %w", err)
	}
	return string(b), nil
}

// NoteJiraDelivery records that a delivery from Jira for the installation
// was authenticated now. It is kept in this node's memory only: each node
// knows what it received, and a restart forgets it.
func (r *Registry) NoteJiraDelivery(id string, at time.Time) {
	r.deliveriesMu.Lock()
	defer r.deliveriesMu.Unlock()
	if r.lastDelivery == nil {
		r.lastDelivery = map[string]time.Time{}
	}
	r.lastDelivery[id] = at
}

// LastJiraDelivery is when this node last received an authenticated
// delivery from Jira for the installation; zero for none since it started.
func (r *Registry) LastJiraDelivery(id string) time.Time {
	r.deliveriesMu.Lock()
	defer r.deliveriesMu.Unlock()
	return r.lastDelivery[id]
}
