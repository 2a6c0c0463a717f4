package tenant

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/memstore"
)

// The registered webhook's id is a host secret of the installation: the
// module cannot read it (host-reserved name), it goes with the
// installation at uninstall, and "" forgets it. The last delivery is this
// node's memory: another registry on the same store does not see it.
func TestJiraWebhookIDIsAHostSecretGoneAtUninstallAndTheLastDeliveryIsPerNode(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	r, err := Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := r.Create(ctx, Site{URL: "https://one.atlassian.net", Authorization: "Basic x", AppAccountID: "app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.JiraWebhookID(ctx, in.ID); got != "" || err != nil {
		t.Fatalf("before: %q %v", got, err)
	}
	if err := r.SetJiraWebhookID(ctx, "nobody", "1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown installation: %v", err)
	}
	if err := r.SetJiraWebhookID(ctx, in.ID, "10001"); err != nil {
		t.Fatal(err)
	}
	if got, err := r.JiraWebhookID(ctx, in.ID); got != "10001" || err != nil {
		t.Fatalf("after: %q %v", got, err)
	}
	if !strings.HasPrefix(secretJiraWebhookID, storage.HostSecretPrefix) {
		t.Fatalf("%s is not a host-reserved secret name", secretJiraWebhookID)
	}
	if err := r.SetJiraWebhookID(ctx, in.ID, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.JiraWebhookID(ctx, in.ID); got != "" {
		t.Fatalf("after forgetting: %q", got)
	}
	if err := r.SetJiraWebhookID(ctx, in.ID, "10002"); err != nil {
		t.Fatal(err)
	}

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.NoteJiraDelivery(in.ID, at)
	other, err := Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.LastJiraDelivery(in.ID); !got.Equal(at) {
		t.Errorf("last delivery %v", got)
	}
	if got := other.LastJiraDelivery(in.ID); !got.IsZero() {
		t.Errorf("another node knows of a delivery it did not receive: %v", got)
	}

	if _, err := r.Remove(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, in.ID, storage.Secret, secretJiraWebhookID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the webhook id outlived the uninstall: %v", err)
	}
}
