package sdktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func TestStorageQueryPagesWithoutGapsOrDuplicates(t *testing.T) {
	s := NewStorage()
	for i := range 25 {
		if err := s.Set(fmt.Sprintf("chat:%03d", i), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Set("other:1", []byte("v"), 0)
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := s.Query("chat:", cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			if seen[e.Key] || !strings.HasPrefix(e.Key, "chat:") {
				t.Fatalf("page %d returned %q twice or outside the prefix", pages, e.Key)
			}
			seen[e.Key] = true
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != 25 {
		t.Fatalf("paging returned %d keys, want 25", len(seen))
	}
}

func TestStorageEnforcesTheContractLimits(t *testing.T) {
	s := NewStorage()
	if err := s.Set("bad/key", nil, 0); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("bad key: got %v", err)
	}
	if err := s.Set("k", make([]byte, abi.MaxValueLen+1), 0); !errors.Is(err, sdk.ErrLimitExceeded) {
		t.Errorf("big value: got %v", err)
	}
	if _, err := s.Query("", "", abi.MaxQueryLimit+1); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("big page: got %v", err)
	}
}

func TestStorageExpiresRecords(t *testing.T) {
	s := NewStorage()
	now := time.Unix(1000, 0)
	s.Now = func() time.Time { return now }
	_ = s.Set("dedupe:1", []byte("x"), 2*time.Second)
	if _, err := s.Get("dedupe:1"); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := s.Get("dedupe:1"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("after expiry: got %v, want not found", err)
	}
}

func TestSecretsVerifyByReference(t *testing.T) {
	e := NewEnv()
	_ = e.Secrets.Set("hook", []byte("k3y"))
	m := hmac.New(sha256.New, []byte("k3y"))
	m.Write([]byte("body"))
	if ok, err := e.Secrets.VerifyHMAC("hook", sdk.SHA256, []byte("body"), m.Sum(nil)); !ok || err != nil {
		t.Fatalf("good MAC: %v %v", ok, err)
	}
	if ok, _ := e.Secrets.VerifyHMAC("hook", sdk.SHA256, []byte("body!"), m.Sum(nil)); ok {
		t.Fatal("a MAC of other data verified")
	}
	if ok, _ := e.Secrets.Compare("hook", []byte("k3y")); !ok {
		t.Fatal("Compare rejected the secret")
	}
	if _, err := e.Secrets.Compare("missing", nil); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("missing secret: got %v", err)
	}
}

func TestLoggerFlattensGroups(t *testing.T) {
	e := NewEnv()
	e.Log.WithGroup("req").Info("handled", "status", 200)
	r := e.Logs.Records()
	if len(r) != 1 || r[0].Message != "handled" || abi.Get(r[0].Attrs, "req.status") != "200" {
		t.Fatalf("got %+v", r)
	}
}

// As on the host, a cursor is opaque and bound to its prefix: a key, or
// another prefix's cursor, is refused, so a module's home-made cursor fails
// in its tests as it would in production.
func TestStorageQueryRefusesACursorItDidNotMake(t *testing.T) {
	s := NewStorage()
	for _, k := range []string{"chat:1", "chat:2", "chat:3", "issue:1", "issue:2"} {
		if err := s.Set(k, []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Query("chat:", "", 1)
	if err != nil || p.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", p, err)
	}
	for name, c := range map[string]string{"a key": "chat:1", "another prefix's cursor": p.NextCursor} {
		prefix := "chat:"
		if name == "another prefix's cursor" {
			prefix = "issue:"
		}
		if _, err := s.Query(prefix, c, 1); !errors.Is(err, abi.InvalidArgument) {
			t.Errorf("%s: %v, want invalid-argument", name, err)
		}
	}
}

func TestStorageTransactIsAllOrNothing(t *testing.T) {
	s := NewStorage()
	if err := s.Set("x", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	op := func(kind abi.TxnKind, key, val string, c abi.TxnCondition, expect string) abi.TxnOp {
		return abi.TxnOp{Kind: kind, Key: key, Value: []byte(val), Condition: c, Expect: []byte(expect)}
	}
	tests := []struct {
		name string
		cond abi.TxnOp
		ok   bool
	}{
		{"absent holds", op(abi.TxnCheck, "nope", "", abi.IfAbsent, ""), true},
		{"absent fails", op(abi.TxnCheck, "x", "", abi.IfAbsent, ""), false},
		{"exists holds", op(abi.TxnCheck, "x", "", abi.IfExists, ""), true},
		{"exists fails", op(abi.TxnCheck, "nope", "", abi.IfExists, ""), false},
		{"equals holds", op(abi.TxnCheck, "x", "", abi.IfEquals, "1"), true},
		{"equals fails", op(abi.TxnCheck, "x", "", abi.IfEquals, "2"), false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("w%d", i)
			applied, err := s.Transact([]abi.TxnOp{op(abi.TxnSet, key, "v", abi.Always, ""), tt.cond})
			if err != nil || applied != tt.ok {
				t.Fatalf("applied %v, err %v; want %v", applied, err, tt.ok)
			}
			if _, err := s.Get(key); (err == nil) != tt.ok {
				t.Fatalf("write present %v after a transaction applied %v", err == nil, tt.ok)
			}
		})
	}
	for name, ops := range map[string][]abi.TxnOp{
		"none":         nil,
		"a key twice":  {op(abi.TxnSet, "a", "", abi.Always, ""), op(abi.TxnDelete, "a", "", abi.Always, "")},
		"a bad key":    {op(abi.TxnSet, "a/b", "", abi.Always, "")},
		"a bare check": {op(abi.TxnCheck, "a", "", abi.Always, "")},
	} {
		if _, err := s.Transact(ops); !errors.Is(err, abi.InvalidArgument) {
			t.Errorf("%s: err %v, want invalid-argument", name, err)
		}
	}
}
