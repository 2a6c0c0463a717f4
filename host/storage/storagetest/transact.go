package storagetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

// RunTransact runs the checks of storage.Transactor as subtests of t: a
// sealed store (host/storage/seal) over each new backend from open, whose
// clock the checks move to expire records the backend still holds.
func RunTransact(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *seal.Store, clock *atomic.Int64)
	}{
		{"AppliesSetsAndDeletesTogether", testTxnApplies},
		{"EachConditionHoldsOrNothingIsWritten", testTxnConditions},
		{"AnExpiredRecordIsAbsent", testTxnExpired},
		{"SpansKeyspacesOfOneInstallation", testTxnKeyspaces},
		{"RefusesWhatTheContractForbids", testTxnInvalid},
		{"OfConflictingClaimsExactlyOneWins", testTxnClaimRace},
		{"CompareAndSwapLosesNoUpdate", testTxnCounter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk, err := seal.GenerateMasterKey()
			if err != nil {
				t.Fatal(err)
			}
			var clock atomic.Int64
			clock.Store(time.Now().UnixNano())
			s, err := seal.Open(t.Context(), open(t), []*seal.MasterKey{mk}, seal.Config{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s, &clock)
		})
	}
}

const txnInst = "txn-installation"

func set(key, val string) storage.TxnOp {
	return storage.TxnOp{Kind: storage.TxnSet, Space: storage.KVS, Key: key, Value: []byte(val)}
}

func del(key string) storage.TxnOp {
	return storage.TxnOp{Kind: storage.TxnDelete, Space: storage.KVS, Key: key}
}

func check(key string, c storage.Condition, expect string) storage.TxnOp {
	return storage.TxnOp{Kind: storage.TxnCheck, Space: storage.KVS, Key: key, Cond: c, Expect: []byte(expect)}
}

func with(op storage.TxnOp, c storage.Condition, expect string) storage.TxnOp {
	op.Cond, op.Expect = c, []byte(expect)
	return op
}

func sset(t *testing.T, s *seal.Store, key, val string) {
	t.Helper()
	if err := s.Set(t.Context(), txnInst, storage.KVS, key, []byte(val), 0); err != nil {
		t.Fatal(err)
	}
}

func sget(t *testing.T, s *seal.Store, key string) string {
	t.Helper()
	v, err := s.Get(t.Context(), txnInst, storage.KVS, key)
	if errors.Is(err, storage.ErrNotFound) {
		return "<absent>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func testTxnApplies(t *testing.T, s *seal.Store, _ *atomic.Int64) {
	sset(t, s, "gone", "x")
	if err := s.Transact(t.Context(), txnInst, []storage.TxnOp{set("a", "1"), set("b", "2"), del("gone"), del("never")}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"a": "1", "b": "2", "gone": "<absent>", "never": "<absent>"} {
		if got := sget(t, s, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	ttl := set("short", "v")
	ttl.TTL = time.Hour
	if err := s.Transact(t.Context(), txnInst, []storage.TxnOp{ttl}); err != nil {
		t.Fatal(err)
	}
	if got := sget(t, s, "short"); got != "v" {
		t.Errorf("short = %q", got)
	}
}

func testTxnConditions(t *testing.T, s *seal.Store, _ *atomic.Int64) {
	sset(t, s, "x", "1")
	tests := []struct {
		name string
		cond storage.TxnOp
		ok   bool
	}{
		{"absent on a missing key", check("nope", storage.IfAbsent, ""), true},
		{"absent on a present key", check("x", storage.IfAbsent, ""), false},
		{"exists on a present key", check("x", storage.IfExists, ""), true},
		{"exists on a missing key", check("nope", storage.IfExists, ""), false},
		{"equals the plaintext", check("x", storage.IfEquals, "1"), true},
		{"equals another value", check("x", storage.IfEquals, "2"), false},
		{"equals on a missing key", check("nope", storage.IfEquals, ""), false},
		{"a condition on the key it sets", with(set("x", "1"), storage.IfEquals, "1"), true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sset(t, s, "y", "old")
			k := "w" + strconv.Itoa(i)
			err := s.Transact(t.Context(), txnInst, []storage.TxnOp{set(k, "new"), del("y"), tt.cond})
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				if sget(t, s, k) != "new" || sget(t, s, "y") != "<absent>" {
					t.Fatal("the writes of a transaction whose conditions hold were not all made")
				}
				return
			}
			if !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("err %v, want ErrConflict", err)
			}
			if sget(t, s, k) != "<absent>" || sget(t, s, "y") != "old" {
				t.Fatal("a transaction whose condition failed wrote something")
			}
		})
	}
	t.Run("an installation without keys has no records", func(t *testing.T) {
		err := s.Transact(t.Context(), "other", []storage.TxnOp{check("x", storage.IfExists, "")})
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("err %v, want ErrConflict", err)
		}
		if err := s.Transact(t.Context(), "other", []storage.TxnOp{check("x", storage.IfAbsent, "")}); err != nil {
			t.Fatal(err)
		}
	})
}

// testTxnExpired expires a record by the store's clock, which the backend
// (on its own clock) still holds: IfAbsent must hold, IfExists not.
func testTxnExpired(t *testing.T, s *seal.Store, clock *atomic.Int64) {
	if err := s.Set(t.Context(), txnInst, storage.KVS, "lease", []byte("a"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Transact(t.Context(), txnInst, []storage.TxnOp{with(set("lease", "b"), storage.IfAbsent, "")}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("claim of a live record: err %v, want ErrConflict", err)
	}
	clock.Add(int64(2 * time.Hour))
	if err := s.Transact(t.Context(), txnInst, []storage.TxnOp{check("lease", storage.IfExists, "")}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("an expired record exists: err %v", err)
	}
	if err := s.Transact(t.Context(), txnInst, []storage.TxnOp{with(set("lease", "b"), storage.IfAbsent, "")}); err != nil {
		t.Fatalf("claim of an expired record: %v", err)
	}
	if got := sget(t, s, "lease"); got != "b" {
		t.Fatalf("lease = %q, want b", got)
	}
}

func testTxnKeyspaces(t *testing.T, s *seal.Store, _ *atomic.Int64) {
	q := storage.TxnOp{Kind: storage.TxnSet, Space: storage.Queue, Key: "job", Value: []byte("payload")}
	if err := s.Transact(t.Context(), txnInst, []storage.TxnOp{with(set("claim", "1"), storage.IfAbsent, ""), q}); err != nil {
		t.Fatal(err)
	}
	if err := s.Transact(t.Context(), txnInst, []storage.TxnOp{with(set("claim", "2"), storage.IfAbsent, ""), {Kind: storage.TxnSet, Space: storage.Queue, Key: "job2", Value: []byte("p")}}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("err %v, want ErrConflict", err)
	}
	if _, err := s.Get(t.Context(), txnInst, storage.Queue, "job"); err != nil {
		t.Fatalf("the queue record of the applied transaction: %v", err)
	}
	if _, err := s.Get(t.Context(), txnInst, storage.Queue, "job2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the queue record of the refused transaction: err %v, want ErrNotFound", err)
	}
	if got := sget(t, s, "claim"); got != "1" {
		t.Fatalf("claim = %q", got)
	}
}

func testTxnInvalid(t *testing.T, s *seal.Store, _ *atomic.Int64) {
	many := make([]storage.TxnOp, storage.MaxTxnOps+1)
	for i := range many {
		many[i] = set("k"+strconv.Itoa(i), "v")
	}
	for name, ops := range map[string][]storage.TxnOp{
		"no operations":             nil,
		"too many":                  many,
		"a key named twice":         {set("a", "1"), del("a")},
		"an invalid key":            {set("bad/key", "1")},
		"a check that asks nothing": {{Kind: storage.TxnCheck, Space: storage.KVS, Key: "a"}},
		"a value too large":         {set("a", string(make([]byte, storage.MaxValueLen+1)))},
	} {
		if err := s.Transact(t.Context(), txnInst, ops); err == nil || errors.Is(err, storage.ErrConflict) {
			t.Errorf("%s: err %v, want a refusal", name, err)
		}
	}
	if got := sget(t, s, "k0"); got != "<absent>" {
		t.Fatal("a refused transaction wrote")
	}
}

func testTxnClaimRace(t *testing.T, s *seal.Store, _ *atomic.Int64) {
	for round := range 5 {
		claim := fmt.Sprintf("claim%d", round)
		var (
			wg   sync.WaitGroup
			wins atomic.Int64
		)
		for g := range 8 {
			wg.Go(func() {
				err := s.Transact(t.Context(), txnInst, []storage.TxnOp{
					with(set(claim, strconv.Itoa(g)), storage.IfAbsent, ""),
					set(fmt.Sprintf("%s:by:%d", claim, g), "won"),
				})
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, storage.ErrConflict):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d of 8 conflicting claims won, want exactly 1", round, wins.Load())
		}
		winner := sget(t, s, claim)
		for g := range 8 {
			got := sget(t, s, fmt.Sprintf("%s:by:%d", claim, g))
			if (strconv.Itoa(g) == winner) != (got == "won") {
				t.Fatalf("round %d: claim held by %s, but racer %d's own write is %q", round, winner, g, got)
			}
		}
	}
}

func testTxnCounter(t *testing.T, s *seal.Store, _ *atomic.Int64) {
	sset(t, s, "counter", "0")
	const racers, each = 4, 5
	var wg sync.WaitGroup
	for range racers {
		wg.Go(func() {
			for n := 0; n < each; {
				cur := sget(t, s, "counter")
				v, _ := strconv.Atoi(cur)
				err := s.Transact(t.Context(), txnInst, []storage.TxnOp{with(set("counter", strconv.Itoa(v+1)), storage.IfEquals, cur)})
				switch {
				case err == nil:
					n++
				case !errors.Is(err, storage.ErrConflict):
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := sget(t, s, "counter"); got != strconv.Itoa(racers*each) {
		t.Fatalf("counter = %s after %d increments by compare-and-swap", got, racers*each)
	}
}
