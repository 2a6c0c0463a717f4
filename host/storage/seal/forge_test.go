package seal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
)

const inst = "acme.atlassian.net"

func TestStore_EnforcesForgeLimitsAndCharset(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	tests := []struct {
		name  string
		key   string
		value []byte
		want  error
	}{
		{"one character", "a", nil, nil},
		{"500 bytes", strings.Repeat("k", 500), []byte("v"), nil},
		{"every allowed character", "aZ09:._- #\t", []byte("v"), nil},
		{"500 separators", strings.Repeat(":", 500), []byte("v"), nil},
		{"501 bytes", strings.Repeat("k", 501), nil, storage.ErrInvalidKey},
		{"empty", "", nil, storage.ErrInvalidKey},
		{"whitespace only", "  \t", nil, storage.ErrInvalidKey},
		{"slash", "a/b", nil, storage.ErrInvalidKey},
		{"comma", "a,b", nil, storage.ErrInvalidKey},
		{"non-ASCII", "caf\u00e9", nil, storage.ErrInvalidKey},
		{"value of 240 KiB", "big", make([]byte, storage.MaxValueLen), nil},
		{"value one byte over", "bigger", make([]byte, storage.MaxValueLen+1), storage.ErrValueTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.s.Set(ctx, inst, storage.KVS, tt.key, tt.value, 0)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Set: %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				return
			}
			got, err := e.s.Get(ctx, inst, storage.KVS, tt.key)
			if err != nil || !bytes.Equal(got, tt.value) {
				t.Fatalf("Get: %d bytes, %v", len(got), err)
			}
		})
	}
	t.Run("query limits", func(t *testing.T) {
		for _, limit := range []int{-1, storage.MaxQueryLimit + 1} {
			if _, err := e.s.Query(ctx, inst, storage.KVS, "", "", limit); !errors.Is(err, storage.ErrInvalidQuery) {
				t.Errorf("limit %d: %v, want ErrInvalidQuery", limit, err)
			}
		}
		p, err := e.s.Query(ctx, inst, storage.KVS, "", "", 0)
		if err != nil || len(p.Entries) > storage.DefaultQueryLimit {
			t.Fatalf("limit 0: %d entries, %v", len(p.Entries), err)
		}
	})
	t.Run("a prefix of 499 separators finds the key of 500", func(t *testing.T) {
		p, err := e.s.Query(ctx, inst, storage.KVS, strings.Repeat(":", 499), "", 10)
		if err != nil || len(p.Entries) != 1 || p.Entries[0].Key != strings.Repeat(":", 500) {
			t.Fatalf("%+v, %v", p, err)
		}
	})
	t.Run("unknown keyspace", func(t *testing.T) {
		if err := e.s.Set(ctx, inst, storage.Keyspace(9), "k", nil, 0); !errors.Is(err, storage.ErrInvalidKey) {
			t.Fatalf("Set: %v", err)
		}
	})
	t.Run("installation id too long", func(t *testing.T) {
		if err := e.s.Set(ctx, strings.Repeat("i", MaxInstallationLen+1), storage.KVS, "k", nil, 0); !errors.Is(err, ErrInvalidInstallation) {
			t.Fatalf("Set: %v", err)
		}
	})
}

func TestStore_GetSetDeleteAcrossReopen(t *testing.T) {
	e := newEnv(t)
	e.set(inst, storage.KVS, "issue:JSM-1", "chat 42")
	e.set(inst, storage.KVS, "issue:JSM-1", "chat 43")
	e.set(storage.HostInstallation, storage.Registry, inst, "installed")
	e.set(inst, storage.KVS, "empty", "")
	if err := e.s.Delete(t.Context(), inst, storage.KVS, "never-set"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if err := e.s.Delete(t.Context(), "unknown installation", storage.KVS, "k"); err != nil {
		t.Fatalf("deleting in an unknown installation: %v", err)
	}
	e.reopen()
	e.want(inst, storage.KVS, "issue:JSM-1", "chat 43")
	e.want(storage.HostInstallation, storage.Registry, inst, "installed")
	e.want(inst, storage.KVS, "empty", "")
	if err := e.s.Delete(t.Context(), inst, storage.KVS, "issue:JSM-1"); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	e.wantErr(inst, storage.KVS, "issue:JSM-1", storage.ErrNotFound)
	e.wantErr("nobody", storage.KVS, "issue:JSM-1", storage.ErrNotFound)
}

func TestStore_KeepsInstallationsAndKeyspacesApart(t *testing.T) {
	e := newEnv(t)
	e.set("site-a", storage.KVS, "k", "a")
	e.set("site-b", storage.KVS, "k", "b")
	e.set("site-a", storage.Queue, "k", "queue a")
	e.want("site-a", storage.KVS, "k", "a")
	e.want("site-b", storage.KVS, "k", "b")
	e.want("site-a", storage.Queue, "k", "queue a")
	e.wantErr("site-b", storage.Queue, "k", storage.ErrNotFound)
	if got := e.queryAll("site-b", storage.KVS, "", 10); !slices.Equal(got, []string{"k"}) {
		t.Fatalf("site-b lists %q", got)
	}
	if e.rawKeyOf("site-a", storage.KVS, "k") == e.rawKeyOf("site-b", storage.KVS, "k") {
		t.Fatal("the same key of two installations has the same raw key")
	}
	a, b := e.rawKeyOf("site-a", storage.KVS, "k:x"), e.rawKeyOf("site-b", storage.KVS, "k:x")
	if a[len(a)-2*tokenSize:] == b[len(b)-2*tokenSize:] {
		t.Fatal("key tokens link installations")
	}
}

func TestStore_SecretsAreNeverListed(t *testing.T) {
	e := newEnv(t)
	e.set(inst, storage.Secret, "telegram-token", "123:ABC")
	e.want(inst, storage.Secret, "telegram-token", "123:ABC")
	for _, prefix := range []string{"", "telegram", "x:"} {
		if _, err := e.s.Query(t.Context(), inst, storage.Secret, prefix, "", 10); !errors.Is(err, storage.ErrDenied) {
			t.Fatalf("Query secrets %q: %v, want ErrDenied", prefix, err)
		}
	}
}

// queryKeys is a key set with separators in every position a prefix query
// can trip on.
var queryKeys = func() []string {
	keys := []string{
		"a", "a:", "a:b", "a:b:", "a:b:c", "a:b:c:d", "a::b", "a:bc", "a:bd:x", "ab", "ab:c",
		":lead", "::", "trail:", "x y:z", "#tag:1", "issue:JSM-1", "issue:JSM-10", "issue:JSM-2",
		"chat:123:issue", "chat:1234", "project:SUP:config", "project:SUP:channel:telegram",
		"project:SUPPORT:config",
	}
	for i := 0; i < 60; i++ {
		keys = append(keys, fmt.Sprintf("chat:%03d", i*7))
	}
	return keys
}()

func TestStore_QueryReturnsExactlyTheKeysWithThePrefixInKeyOrder(t *testing.T) {
	e := newEnv(t)
	for _, k := range queryKeys {
		e.set(inst, storage.KVS, k, "v:"+k)
	}
	e.set(inst, storage.Queue, "chat:999", "other keyspace")
	e.set("other-site", storage.KVS, "chat:998", "other installation")
	prefixes := []string{"", "a", "a:", "a:b", "a:b:", "a:b:c", "ab", "a::", ":", "::", "chat:", "chat:1",
		"chat:12", "issue:JSM-1", "zzz", "a:bc", "x y", "#", "trail:", "project:SUP:", "project:SUP", "project:SUPPORT:config"}
	for _, prefix := range prefixes {
		var want []string
		for _, k := range queryKeys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		for _, limit := range []int{1, 3, 7, 100} {
			t.Run(fmt.Sprintf("prefix %q limit %d", prefix, limit), func(t *testing.T) {
				got := e.queryAll(inst, storage.KVS, prefix, limit)
				if !slices.Equal(got, want) {
					t.Fatalf("got %q\nwant %q", got, want)
				}
			})
		}
	}
	t.Run("values come with their keys", func(t *testing.T) {
		p, err := e.s.Query(t.Context(), inst, storage.KVS, "issue:", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range p.Entries {
			if string(en.Value) != "v:"+en.Key {
				t.Errorf("%q holds %q", en.Key, en.Value)
			}
		}
	})
}

func TestStore_QueryPagingIsStableUnderConcurrentWrites(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 30; i += 2 {
		e.set(inst, storage.KVS, fmt.Sprintf("chat:%02d", i), "v")
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		p, err := e.s.Query(t.Context(), inst, storage.KVS, "chat:", cursor, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range p.Entries {
			got = append(got, en.Key)
		}
		if page == 1 {
			e.set(inst, storage.KVS, "chat:01", "before the cursor: not returned")
			e.set(inst, storage.KVS, "chat:29", "after the cursor: returned")
			if err := e.s.Delete(t.Context(), inst, storage.KVS, "chat:20"); err != nil {
				t.Fatal(err)
			}
			e.set(inst, storage.KVS, got[len(got)-1], "the cursor's own key, rewritten")
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	var want []string
	for i := 0; i < 30; i += 2 {
		if i != 20 {
			want = append(want, fmt.Sprintf("chat:%02d", i))
		}
	}
	want = append(want, "chat:29")
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestStore_CursorsAreOpaqueAndBoundToTheirQuery(t *testing.T) {
	e := newEnv(t)
	for _, k := range queryKeys {
		e.set(inst, storage.KVS, k, "v")
	}
	e.set("other-site", storage.KVS, "chat:000", "v")
	p, err := e.s.Query(t.Context(), inst, storage.KVS, "chat:", "", 2)
	if err != nil || p.NextCursor == "" {
		t.Fatalf("first page: %v", err)
	}
	last := p.Entries[1].Key
	if strings.Contains(p.NextCursor, last) || strings.Contains(p.NextCursor, strings.TrimPrefix(last, "chat:")) {
		t.Fatalf("cursor %q shows the key %q", p.NextCursor, last)
	}
	tests := []struct {
		name               string
		inst, prefix, curs string
		space              storage.Keyspace
	}{
		{"another prefix", inst, "chat:0", p.NextCursor, storage.KVS},
		{"another keyspace", inst, "chat:", p.NextCursor, storage.Queue},
		{"another installation", "other-site", "chat:", p.NextCursor, storage.KVS},
		{"not base64", inst, "chat:", "!!!", storage.KVS},
		{"truncated", inst, "chat:", p.NextCursor[:len(p.NextCursor)-2], storage.KVS},
		{"flipped", inst, "chat:", flipLast(p.NextCursor), storage.KVS},
		{"a key in clear", inst, "chat:", "chat:014", storage.KVS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.s.Query(t.Context(), tt.inst, tt.space, tt.prefix, tt.curs, 2); !errors.Is(err, storage.ErrInvalidQuery) {
				t.Fatalf("err %v, want ErrInvalidQuery", err)
			}
		})
	}
	e.reopen()
	if _, err := e.s.Query(t.Context(), inst, storage.KVS, "chat:", p.NextCursor, 2); err != nil {
		t.Fatalf("a cursor does not survive a restart: %v", err)
	}
}

func flipLast(s string) string {
	b := []byte(s)
	if b[len(b)-2] == 'A' {
		b[len(b)-2] = 'B'
	} else {
		b[len(b)-2] = 'A'
	}
	return string(b)
}

func TestStore_ExpiredRecordsAreNeverServed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.s.Set(ctx, inst, storage.Dedupe, "update:1", []byte("seen"), time.Hour); err != nil {
		t.Fatal(err)
	}
	e.set(inst, storage.Dedupe, "update:2", "forever")
	e.want(inst, storage.Dedupe, "update:1", "seen")
	e.clock.advance(time.Hour + time.Second)
	// BuntDB has not reclaimed it (its clock is real): the seal decides.
	if len(e.raw()) == 0 {
		t.Fatal("record already gone from the backend")
	}
	e.wantErr(inst, storage.Dedupe, "update:1", storage.ErrNotFound)
	if got := e.queryAll(inst, storage.Dedupe, "update:", 10); !slices.Equal(got, []string{"update:2"}) {
		t.Fatalf("query lists %q", got)
	}
}

func TestStore_ExpiredRecordsLeaveTheBackend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.s.Set(t.Context(), inst, storage.Dedupe, "update:1", []byte("seen"), time.Second); err != nil {
		t.Fatal(err)
	}
	raw := e.rawKeyOf(inst, storage.Dedupe, "update:1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.db.Get(t.Context(), raw)
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record still in the backend after its TTL: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.wantErr(inst, storage.Dedupe, "update:1", storage.ErrNotFound)
}

func TestStore_PurgeLeavesNothingOfTheInstallationInTheFile(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 50; i++ {
		e.set("doomed", storage.KVS, fmt.Sprintf("chat:%d", i), "doomed value")
		e.set("doomed", storage.Secret, fmt.Sprintf("token%d", i), "doomed secret")
		e.set("kept", storage.KVS, fmt.Sprintf("chat:%d", i), "kept value")
	}
	doomed := e.rawKeyOf("doomed", storage.KVS, "chat:1")
	tag := doomed[len(prefixRecords) : len(prefixRecords)+tagSize]
	sealed, err := e.db.Get(t.Context(), doomed)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.Purge(t.Context(), "doomed"); err != nil {
		t.Fatal(err)
	}
	e.wantErr("doomed", storage.KVS, "chat:1", storage.ErrNotFound)
	if got := e.queryAll("doomed", storage.KVS, "", 100); len(got) != 0 {
		t.Fatalf("purged installation lists %q", got)
	}
	e.want("kept", storage.KVS, "chat:49", "kept value")
	e.close()
	file, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte(tag)) {
		t.Fatal("the purged installation's tag is still in the file")
	}
	if bytes.Contains(file, sealed.Value[20:60]) {
		t.Fatal("a purged record's ciphertext is still in the file")
	}
	e.open()
	e.want("kept", storage.KVS, "chat:0", "kept value")
	// The installation can come back, with new keys and nothing old.
	e.set("doomed", storage.KVS, "chat:new", "fresh")
	if got := e.queryAll("doomed", storage.KVS, "", 100); !slices.Equal(got, []string{"chat:new"}) {
		t.Fatalf("reinstalled installation lists %q", got)
	}
}

func TestOpen_FinishesAPurgeACrashInterrupted(t *testing.T) {
	e := newEnv(t)
	e.set("doomed", storage.KVS, "k", "v")
	e.set("kept", storage.KVS, "k", "v")
	tag := tagOf(e.s.hostKey, "doomed")
	// The state right after Purge wrote its marker.
	if err := e.db.Set(t.Context(), prefixPurge+tag, []byte{1}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	for _, rec := range e.raw() {
		if strings.Contains(rec.Key, tag) {
			t.Fatalf("record %q of the purged installation survived", rec.Key[:1])
		}
	}
	e.wantErr("doomed", storage.KVS, "k", storage.ErrNotFound)
	e.want("kept", storage.KVS, "k", "v")
}

func TestStore_DeletePrefixRemovesExactlyTheMatchingKeys(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		prefix string
		want   int
	}{
		{"project:SUP:", 2},
		{"project:SUPP", 1},
		{"chat:00", 2},
		{"nothing:", 0},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			keys := []string{"project:SUP:config", "project:SUP:channel:telegram", "project:SUPPORT:config",
				"project:SU:config", "chat:001", "chat:007", "chat:010"}
			for _, k := range keys {
				e.set(inst, storage.KVS, k, "v")
			}
			n, err := e.s.DeletePrefix(t.Context(), inst, storage.KVS, tt.prefix)
			if err != nil || n != tt.want {
				t.Fatalf("deleted %d, %v; want %d", n, err, tt.want)
			}
			for _, k := range keys {
				_, err := e.s.Get(t.Context(), inst, storage.KVS, k)
				if strings.HasPrefix(k, tt.prefix) != errors.Is(err, storage.ErrNotFound) {
					t.Errorf("%q after deleting %q: %v", k, tt.prefix, err)
				}
			}
		})
	}
}
