package seal

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
)

// The crash test re-runs this test binary as a child that writes records and
// prints each key once its Set has returned; the parent kills it with SIGKILL
// at a random moment and checks that every printed key is there, intact.
const (
	crashChildEnv = "SEAL_CRASH_CHILD" // the data file, in the child
	crashRoundEnv = "SEAL_CRASH_ROUND"
	crashWrites   = 1000
	crashWriters  = 8
)

func crashKey(round, i int) (inst, key string) {
	return fmt.Sprintf("site-%d", i%3), fmt.Sprintf("r%02d:k%04d", round, i)
}

func crashValue(key string) string {
	return "value of " + key + strings.Repeat(".", len(key)*3)
}

func TestCrash_AcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	path := filepath.Join(t.TempDir(), "chatbridge.db")
	key := testKeys()
	acked := map[string]string{} // key -> installation
	start := time.Now()
	rounds, killed, midCompaction := 0, 0, 0
	// verify reopens the store and checks the given acknowledged writes.
	verify := func(keys map[string]string) {
		t.Helper()
		db, err := bunt.Open(path, bunt.Config{CompactEvery: -1})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", rounds, err)
		}
		for _, d := range db.Damage() {
			if !d.Torn {
				t.Errorf("round %d: a crash left altered bytes: %+v", rounds, d)
			}
		}
		s, err := Open(t.Context(), db, []*MasterKey{key}, Config{})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", rounds, err)
		}
		defer s.Close()
		for k, site := range keys {
			v, err := s.Get(t.Context(), site, storage.KVS, k)
			if err != nil || string(v) != crashValue(k) {
				t.Fatalf("round %d: acknowledged %s: %q, %v", rounds, k, v, err)
			}
		}
		if err := s.WaitReseal(t.Context()); err != nil {
			t.Fatalf("round %d: resuming a rotation: %v", rounds, err)
		}
	}
	for rounds < 20 || (rounds < 25 && time.Since(start) < 20*time.Second) {
		// After each crash: this round's writes and a sample of older ones;
		// at the end: all of them.
		check := map[string]string{}
		for k, site := range acked {
			if len(check) == 200 {
				break
			}
			check[k] = site
		}
		n, wasKilled := crashRound(t, path, key, rounds, acked, check)
		if wasKilled {
			killed++
		}
		if _, err := os.Stat(path + ".compact"); err == nil {
			midCompaction++
		}
		rounds++
		t.Logf("round %d: %d writes acknowledged, killed %v, %v", rounds, n, wasKilled, time.Since(start).Round(time.Millisecond))
		verify(check)
	}
	verify(acked)
	if killed < 20 {
		t.Fatalf("only %d of %d rounds were killed", killed, rounds)
	}
	t.Logf("%d rounds, %d killed (%d in the middle of a compaction), all %d acknowledged writes intact, %.1fs",
		rounds, killed, midCompaction, len(acked), time.Since(start).Seconds())
}

// crashRound runs one child, kills it after a random number of
// acknowledgements, and adds what it acknowledged to acked and check.
func crashRound(t *testing.T, path string, key *MasterKey, round int, acked, check map[string]string) (int, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash_AcknowledgedWritesSurviveSIGKILL$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round), EnvMasterKey+"="+key.Secret())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killAt := 1 + rand.IntN(crashWrites-1)
	t.Logf("killing the writer after %d of %d writes", killAt, crashWrites)
	r := bufio.NewReader(out)
	n, killed := 0, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break // a line cut by the kill has no newline and does not count
		}
		line = strings.TrimSuffix(line, "\n")
		site, k, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("child said %q", line)
		}
		acked[k] = site
		check[k] = site
		n++
		if n == killAt && !killed {
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			cmd.Process.Kill() // SIGKILL
			killed = true
		}
	}
	io.Copy(io.Discard, out)
	err = cmd.Wait()
	if !killed && err != nil {
		t.Fatalf("child failed: %v", err)
	}
	return n, killed
}

// crashChild writes crashWrites records from crashWriters goroutines; odd
// rounds compact all along and every third round rotates a data key halfway.
func crashChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	keys, err := LoadMasterKeys("")
	if err != nil {
		fail(err)
	}
	db, err := bunt.Open(path, bunt.Config{CompactEvery: -1})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, db, keys, Config{})
	if err != nil {
		fail(err)
	}
	var (
		outMu sync.Mutex
		wg    sync.WaitGroup
		done  = make(chan struct{})
	)
	if round%2 == 1 {
		go func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if err := s.Compact(ctx); err != nil {
					fail(err)
				}
			}
		}()
	}
	for g := 0; g < crashWriters; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < crashWrites; i += crashWriters {
				site, k := crashKey(round, i)
				if err := s.Set(ctx, site, storage.KVS, k, []byte(crashValue(k)), 0); err != nil {
					fail(err)
				}
				outMu.Lock()
				os.Stdout.WriteString(site + " " + k + "\n")
				outMu.Unlock()
				if round%3 == 2 && i == crashWrites/2 {
					if err := s.RotateDataKey(ctx, site); err != nil {
						fail(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	if err := s.Close(); err != nil {
		fail(err)
	}
	os.Exit(0)
}
