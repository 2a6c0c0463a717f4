package tenant

import (
	"context"
	"slices"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage/memstore"
)

func TestIDsNeverReadAsAFlag(t *testing.T) {
	for range 5000 {
		if id := newID(); id[0] == '-' || len(id) != 24 {
			t.Fatalf("id %q", id)
		}
	}
}

// Two hosts on one store: what one installs or uninstalls, the other sees
// after a refresh, and not before.
func TestRefresh_SeesAnotherHostsInstallsAndUninstalls(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	a, err := Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := a.Create(ctx, Site{URL: "https://one.atlassian.net", Authorization: "Basic x", AppAccountID: "app-1"}, []string{"telegram"})
	if err != nil {
		t.Fatal(err)
	}
	route := in.Routes["telegram"]
	if _, ok := b.Lookup(route); ok {
		t.Fatal("host b resolved a route before refreshing")
	}
	if removed, err := b.Refresh(ctx); err != nil || len(removed) != 0 {
		t.Fatalf("refresh: %v, %v", removed, err)
	}
	if got, ok := b.Lookup(route); !ok || got.Installation != in.ID || got.Trigger != "telegram" {
		t.Fatalf("host b after refresh: %+v, %v", got, ok)
	}
	if _, _, err := b.Create(ctx, Site{URL: "https://one.atlassian.net", Authorization: "Basic y"}, nil); err == nil {
		t.Fatal("host b installed a site host a had installed")
	}
	if _, err := a.Remove(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	removed, err := b.Refresh(ctx)
	if err != nil || !slices.Equal(removed, []string{in.ID}) {
		t.Fatalf("refresh after uninstall: %v, %v", removed, err)
	}
	if _, ok := b.Lookup(route); ok {
		t.Fatal("host b still resolves an uninstalled route")
	}
}
