package seal

import (
	"bytes"
	"context"
	"testing"

	"github.com/chatbridge/chatbridge/host/storage"
)

func TestInspectShowsEachRecordSealedBesideItsValue(t *testing.T) {
	ctx := context.Background()
	s := newEnv(t).s
	for k, v := range map[string]string{"config:SUP": "settings", "chat:1": "open"} {
		if err := s.Set(ctx, "inst-1", storage.KVS, k, []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set(ctx, "inst-1", storage.Queue, "q:1", []byte("queued"), 0); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err := s.Inspect(ctx, "inst-1", storage.KVS, func(in Inspected) error {
		if in.Err != nil {
			t.Errorf("%x: %v", in.RawKey, in.Err)
		}
		if bytes.Contains(in.Sealed, in.Value) || bytes.Contains([]byte(in.RawKey), []byte(in.Key)) {
			t.Errorf("record %q is not sealed on disk", in.Key)
		}
		got[in.Key] = string(in.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["config:SUP"] != "settings" || got["chat:1"] != "open" {
		t.Fatalf("inspected %v, want the two kvs records only", got)
	}
	n := 0
	if err := s.Inspect(ctx, "no-such-installation", storage.KVS, func(Inspected) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("an installation without records: %d records, %v", n, err)
	}
}
