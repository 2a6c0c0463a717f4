package main

// Online operations on a serving host, each losing nothing: a backup taken
// under traffic and restored after the host is killed, and a bundle
// upgrade and master key rotations while messages flow.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/node"
	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/chatbridge/chatbridge/host/storage/bunt"
	"github.com/chatbridge/chatbridge/host/storage/seal"
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
			chat := stacktest.NewChat()
			for i := 0; !done.Load(); i++ {
				if err := k.trySay(chat, fmt.Sprintf("%s%dx%d says %03d", prefix, c, chat, i)); err != nil {
					if !done.Load() {
						t.Errorf("noise: %v", err)
					}
					return
				}
				sent.Add(1)
				// Paces the noise so the backup runs under traffic; it
				// asserts nothing (what the test checks waits for counters).
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
		chat := stacktest.NewChat()
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
	t.Parallel()
	k := startKillable(t)
	chats, ids := chatsTalk(t, k, "bak", 6)
	waitfor.Until(t, stacktest.Wait, "the first messages in Jira", func() string {
		return conversationCheck(k.Requests(t), chats)
	})

	// The backup streams while other chats keep writing.
	stopNoise := noise(t, k, "bnoise")
	file := filepath.Join(t.TempDir(), "chatbridge.backup")
	out, err := chatbridge(t, "backup", "-admin", k.adminURL, "-data", k.Data, "-out", file)
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
	lasts := func(r storage.Record) bool { return r.Expires.IsZero() || r.Expires.After(now.Add(time.Minute)) }
	if err := storage.ReadSnapshot(bytes.NewReader(raw), func(r storage.Record) error {
		if lasts(r) {
			want = append(want, r) // what has not expired by the check
		}
		return nil
	}); err != nil {
		t.Fatalf("the backup does not read back: %v", err)
	}

	// Restore into a new data directory. The backup is the records only:
	// the key store (keys/), the master key, certificates and admin token
	// are copied as an operator copies them from where they keep them.
	data2 := t.TempDir()
	copySecrets(t, k.Data, data2, "dev", "keys", adminTokenFile)
	// restore opens the records with the master key to check them; a
	// production key file lives outside the data directory.
	masterKey := filepath.Join(t.TempDir(), "master.key")
	mk, err := os.ReadFile(node.DevMasterKeyFile(k.Data))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, masterKey, mk)
	if err := os.Chmod(masterKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := chatbridge(t, "restore", "-data", data2, "-master-key", masterKey, "-in", file); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := chatbridge(t, "restore", "-data", data2, "-master-key", masterKey, "-in", file); err == nil || !strings.Contains(out, "exists") {
		t.Fatalf("a second restore over the first was not refused: %v\n%s", err, out)
	}
	db, err := bunt.Open(node.DataFile(data2), bunt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Scan(t.Context(), "", "", 1<<30)
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Both sides without the records about to expire (a flood window's
	// count lives a minute), which the check could see on one side only.
	got = slices.DeleteFunc(got, func(r storage.Record) bool { return !lasts(r) })
	if len(got) != len(want) {
		t.Fatalf("restored %d records, the backup holds %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Key != want[i].Key || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("record %d differs after the restore", i)
		}
	}
	t.Logf("%d records restored byte for byte", len(got))

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
	waitfor.Until(t, stacktest.Wait, "each chat's next message on its own request after the restore", func() string {
		return conversationCheck(k.Requests(t), chats)
	})
}

// copySecrets copies the files under src/rel into dst/rel, mode 0600 and
// directories 0700, as an operator restores keys from where they keep them.
func copySecrets(t *testing.T, src, dst string, rels ...string) {
	t.Helper()
	copyFiles(t, src, dst, 0o700, 0o600, rels...)
}

// withCustomSection returns module with a wasm custom section appended: the
// same code under another hash, as a new build of the bridge would be.
func withCustomSection(module []byte, name, payload string) []byte {
	body := append([]byte{byte(len(name))}, name...)
	body = append(body, payload...)
	out := append(slices.Clone(module), 0, byte(len(body)))
	return append(out, body...)
}

func TestE2E_MasterKeyRotationsAndABundleUpgradeWhileServingLoseNothing(t *testing.T) {
	t.Parallel()
	k := startKillable(t)
	// The chats write at machine speed, far over a person's flood limit:
	// what is measured is that rotations and an upgrade lose nothing.
	k.configure(t, map[string]any{"projectKey": stack.Project, "floodLimit": -1})
	keyFile := node.DevMasterKeyFile(k.Data)
	before, err := seal.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		chats = map[string][]string{}
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for c := range 12 {
		wg.Go(func() {
			chat := stacktest.NewChat()
			marker := fmt.Sprintf("onl%dx%d", c, chat)
			for i := 0; !stop.Load() || i < 3; i++ {
				text := fmt.Sprintf("%s says %03d", marker, i)
				if err := k.trySay(chat, text); err != nil {
					t.Errorf("chat %s: %v", marker, err)
					return
				}
				mu.Lock()
				chats[marker] = append(chats[marker], text)
				mu.Unlock()
				// Paces the customers so the rotations and the upgrade run
				// under traffic; it asserts nothing (the checks below wait
				// for every message in Jira).
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	cli := func(args ...string) string {
		t.Helper()
		out, err := chatbridge(t, append(args, "-admin", k.adminURL, "-data", k.Data)...)
		if err != nil {
			t.Fatalf("chatbridge %v: %v\n%s", args, err, out)
		}
		return out
	}
	// Two rotations of the master key while the chats write.
	for range 2 {
		t.Log(strings.TrimSpace(cli("keys", "rotate")))
	}

	// A bundle upgrade: a new build, signed, loaded while messages are
	// queued and calls run. A tampered one first: refused before compile.
	// The directory the host reloads from: in dev mode its own signed
	// copy of -bundle, which is what serve's -bundle is to a production
	// host.
	var running adminapi.BundleView
	stacktest.AdminCall(t, k.adminURL, k.token, "GET", "/admin/bundle", &running)
	bundleDir := running.Dir
	module, err := os.ReadFile(filepath.Join(bundleDir, "plugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bundleDir, "plugin.wasm"), withCustomSection(module, "tampered", "x"))
	if out, err := chatbridge(t, "bundle", "reload", "-admin", k.adminURL, "-data", k.Data); err == nil || !strings.Contains(out, "does not match its signed hash") {
		t.Fatalf("a tampered bundle was not refused: %v\n%s", err, out)
	}
	upgraded := withCustomSection(module, "build", "2")
	writeFile(t, filepath.Join(bundleDir, "plugin.wasm"), upgraded)
	signer, err := stack.SigningKey(filepath.Join(k.Data, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bundle.Sign(bundleDir, signer); err != nil {
		t.Fatal(err)
	}
	out := cli("bundle", "reload")
	sum := sha256.Sum256(upgraded)
	if !strings.Contains(out, hex.EncodeToString(sum[:])) || strings.Contains(out, running.ModuleSHA256) {
		t.Fatalf("reload loaded something else than the new build (was %s):\n%s", running.ModuleSHA256, out)
	}
	t.Log(strings.TrimSpace(cli("keys", "rotate")))

	stop.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, texts := range chats {
		n += len(texts)
	}
	t.Logf("%d messages from %d chats across three rotations and an upgrade", n, len(chats))
	waitfor.Until(t, stacktest.Wait, "every message in Jira once, in order", func() string {
		return conversationCheck(k.Requests(t), chats)
	})
	waitfor.Until(t, stacktest.Wait, "an empty queue", func() string {
		if q := k.queue(); q.Stats.Pending != 0 || q.Stats.DeadLetters != 0 {
			return fmt.Sprintf("%+v", q.Stats)
		}
		return ""
	})
	after, err := seal.ReadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || after[0].ID() == before[0].ID() {
		t.Fatalf("the key file holds %v after three rotations from %v: want one new key", after, before)
	}
	// The key file alone opens the store at the next start.
	k.stop()
	k.start()
	for marker, texts := range chats {
		chat, _ := strconv.ParseInt(marker[strings.Index(marker, "x")+1:], 10, 64)
		text := marker + " says after"
		if err := k.trySay(chat, text); err != nil {
			t.Fatal(err)
		}
		chats[marker] = append(texts, text)
	}
	waitfor.Until(t, stacktest.Wait, "each chat's message after the restart on its request", func() string {
		return conversationCheck(k.Requests(t), chats)
	})
}
