package main

// Online operations on a serving host, each losing nothing: a backup taken
// under traffic and restored after the host is killed, and a bundle
// upgrade and master key rotations while messages flow.

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// noise sends messages from chats of its own until stop is called; the
// checks leave those chats out when the scenario rewinds the store.
func noise(t *testing.T, k *killableStack, prefix string) (stop func() int64) {
	var (
		done atomic.Bool
		wg   sync.WaitGroup
		sent atomic.Int64
	)
	for c := range 4 {
		wg.Go(func() {
			chat := newChat()
			for i := 0; !done.Load(); i++ {
				if err := k.trySay(chat, fmt.Sprintf("%s%dx%d says %03d", prefix, c, chat, i)); err != nil {
					if !done.Load() {
						t.Errorf("noise: %v", err)
					}
					return
				}
				sent.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	return func() int64 {
		done.Store(true)
		wg.Wait()
		return sent.Load()
	}
}

// chatsTalk has n new chats say two messages each and returns their texts by marker.
func chatsTalk(t *testing.T, k *killableStack, prefix string, n int) (map[string][]string, map[string]int64) {
	t.Helper()
	texts, ids := map[string][]string{}, map[string]int64{}
	for c := range n {
		chat := newChat()
		marker := fmt.Sprintf("%s%dx%d", prefix, c, chat)
		ids[marker] = chat
		for i := range 2 {
			text := fmt.Sprintf("%s says %03d", marker, i)
			if err := k.trySay(chat, text); err != nil {
				t.Fatal(err)
			}
			texts[marker] = append(texts[marker], text)
		}
	}
	return texts, ids
}

func TestE2E_BackupWhileServingRestoresEveryRecordAfterTheHostIsKilled(t *testing.T) {
	k := startKillable(t)
	chats, ids := chatsTalk(t, k, "bak", 6)
	waitfor.Until(t, e2eWait, "the first messages in Jira", func() string {
		return conversationCheck(k.requests(t), chats)
	})

	// The backup streams while other chats keep writing.
	stopNoise := noise(t, k, "bnoise")
	file := filepath.Join(t.TempDir(), "chatbridge.backup")
	out, err := chatbridge(t, "backup", "-admin", k.adminURL, "-data", k.data, "-out", file)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	t.Logf("backup under %d noise messages: %s", stopNoise(), strings.TrimSpace(out))
	k.kill()

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for marker := range chats {
		if bytes.Contains(raw, []byte(marker)) {
			t.Fatalf("the backup holds a customer's text in the clear (%s)", marker)
		}
	}
	var want []storage.Record
	now := time.Now()
	if err := storage.ReadSnapshot(bytes.NewReader(raw), func(r storage.Record) error {
		if r.Expires.IsZero() || r.Expires.After(now.Add(time.Minute)) {
			want = append(want, r) // what has not expired by the check
		}
		return nil
	}); err != nil {
		t.Fatalf("the backup does not read back: %v", err)
	}

	// Restore into a new data directory. The backup is the store only: the
	// master key, certificates and admin token are copied as an operator
	// copies them from where they keep them.
	data2 := t.TempDir()
	if out, err := chatbridge(t, "restore", "-data", data2, "-in", file); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := chatbridge(t, "restore", "-data", data2, "-in", file); err == nil || !strings.Contains(out, "exists") {
		t.Fatalf("a second restore over the first was not refused: %v\n%s", err, out)
	}
	db, err := bunt.Open(dataFile(data2), bunt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Scan(t.Context(), "", "", 1<<30)
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("restored %d records, the backup holds %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Key != want[i].Key || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("record %d differs after the restore", i)
		}
	}
	t.Logf("%d records restored byte for byte", len(got))
	copySecrets(t, k.data, data2, "dev", adminTokenFile)

	// The restored host knows every chat of the backup: a chat's next
	// message joins its request, nothing is opened twice.
	args := slices.Clone(k.args)
	args[slices.Index(args, "-data")+1] = data2
	admin := freePort(t)
	args[slices.Index(args, "-admin")+1] = admin
	k.hostProcess = &hostProcess{t: t, args: args, adminURL: "http://" + admin, out: k.out}
	k.start()
	for marker, chat := range ids {
		text := marker + " says 002"
		if err := k.trySay(chat, text); err != nil {
			t.Fatal(err)
		}
		chats[marker] = append(chats[marker], text)
	}
	waitfor.Until(t, e2eWait, "each chat's next message on its own request after the restore", func() string {
		return conversationCheck(k.requests(t), chats)
	})
}

// copySecrets copies the files under src/rel into dst/rel, mode 0600 and
// directories 0700, as an operator restores keys from where they keep them.
func copySecrets(t *testing.T, src, dst string, rels ...string) {
	t.Helper()
	for _, rel := range rels {
		err := filepath.WalkDir(filepath.Join(src, rel), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			r, _ := filepath.Rel(src, path)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, r), 0o700)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, r), b, 0o600)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
