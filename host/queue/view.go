package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chatbridge/chatbridge/host/storage"
)

// View is the queue as the store holds it: on a cluster, every node's
// messages and dead letters, not only those this node consumes or has
// heard of.
type View struct {
	// Pending counts the stored messages not yet consumed, retries included.
	Pending int64 `json:"pending"`
	// Lanes counts the lanes with a pending message.
	Lanes int `json:"lanes"`
	// Installations are the installations with a pending message or a dead
	// letter, by ID.
	Installations []InstallationView `json:"installations"`
	// DeadLetters are every dead letter kept, oldest failure first.
	DeadLetters []DeadLetter `json:"deadLetters"`
}

// InstallationView is one installation's share of a View.
type InstallationView struct {
	Installation string `json:"installation"`
	Pending      int64  `json:"pending"`
	Lanes        int    `json:"lanes"`
	DeadLetters  int    `json:"deadLetters"`
}

// View reads the pending messages and dead letters of installations from
// the store. It writes nothing; the dead letters it finds become ones this
// node can replay or discard.
func (q *Queue) View(ctx context.Context, installations []string) (View, error) {
	v := View{Installations: []InstallationView{}, DeadLetters: []DeadLetter{}}
	for _, in := range installations {
		iv := InstallationView{Installation: in}
		lanes := map[string]bool{}
		err := q.scan(ctx, in, pendingPrefix, func(key string, value []byte) {
			lane, ok := laneOfKey(key)
			if !ok {
				// A record from before lanes had keys: its lane is in it.
				r := &record{}
				if r.decode(value) != nil {
					return
				}
				lane = laneOf(r)
			}
			iv.Pending++
			lanes[lane] = true
		})
		if err != nil {
			return View{}, fmt.Errorf("queue: view of installation %s: %w", in, err)
		}
		var dead []DeadLetter
		err = q.scan(ctx, in, deadPrefix, func(_ string, value []byte) {
			r := &record{}
			if r.decode(value) != nil {
				return
			}
			r.Installation = in
			dead = append(dead, r.deadLetter())
		})
		if err != nil {
			return View{}, fmt.Errorf("queue: dead letters of installation %s: %w", in, err)
		}
		q.mu.Lock()
		for _, d := range dead {
			q.dead[d.ID] = d
		}
		q.mu.Unlock()
		iv.Lanes, iv.DeadLetters = len(lanes), len(dead)
		v.Pending += iv.Pending
		v.Lanes += iv.Lanes
		v.DeadLetters = append(v.DeadLetters, dead...)
		if iv.Pending > 0 || iv.DeadLetters > 0 {
			v.Installations = append(v.Installations, iv)
		}
	}
	slices.SortFunc(v.DeadLetters, func(a, b DeadLetter) int {
		return cmp.Or(a.FailedAt.Compare(b.FailedAt), cmp.Compare(a.ID, b.ID))
	})
	return v, nil
}

// scan calls f with every record of an installation under prefix.
func (q *Queue) scan(ctx context.Context, installation, prefix string, f func(key string, value []byte)) error {
	cursor := ""
	for {
		page, err := q.store.Query(ctx, installation, storage.Queue, prefix, cursor, storage.MaxQueryLimit)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			f(e.Key, e.Value)
		}
		if page.NextCursor == "" {
			return nil
		}
		cursor = page.NextCursor
	}
}

// laneOfKey reads the lane from a pending record's key, "m:" lane ":" id.
func laneOfKey(key string) (string, bool) {
	lane, _, ok := strings.Cut(strings.TrimPrefix(key, pendingPrefix), ":")
	return lane, ok
}

// learnDead makes a dead letter another node buried known here, so that
// it can be replayed or discarded from any node without waiting for the
// next sweep. Without a cluster, every dead letter is known already.
func (q *Queue) learnDead(ctx context.Context, id string) error {
	if q.cluster == nil || !plausibleID(id) {
		return nil // not found, as any unknown id
	}
	q.mu.Lock()
	_, ok := q.dead[id]
	q.mu.Unlock()
	if ok {
		return nil
	}
	for _, in := range q.cluster.cfg.Installations() {
		v, err := q.store.Get(ctx, in, storage.Queue, deadKey(id))
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("queue: dead letter: %w", err)
		}
		r := &record{}
		if err := r.decode(v); err != nil {
			return err
		}
		r.Installation = in
		q.mu.Lock()
		q.dead[id] = r.deadLetter()
		q.mu.Unlock()
		return nil
	}
	return nil
}

// plausibleID reports whether id could be a message's (newID: hex), so
// that a made-up one is not looked up in the store.
func plausibleID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
