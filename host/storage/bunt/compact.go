package bunt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/host/storage"
	"github.com/tidwall/buntdb"
)

// prepare reads the file before BuntDB does and rewrites it when BuntDB must
// not load it as it is (see replay).
func prepare(path string, cfg Config) ([]Damage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bunt: read: %w", err)
	}
	r := replay(b, time.Now())
	if !r.rewrite {
		if r.cut >= 0 {
			if err := cutFile(path, r.cut); err != nil {
				return nil, err
			}
		}
		return r.damage, nil
	}
	if cfg.KeepDamaged {
		altered := false
		for _, d := range r.damage {
			altered = altered || !d.Torn
		}
		if altered {
			kept := path + ".damaged-" + strconv.FormatInt(time.Now().Unix(), 10)
			if err := os.Link(path, kept); err != nil {
				return nil, fmt.Errorf("bunt: keep damaged file: %w", err)
			}
		}
	}
	tmp := path + ".repair"
	err = writeTemp(tmp, func(w *bufio.Writer) error {
		var buf []byte
		for _, k := range r.sortedKeys() {
			v := r.items[k]
			if v[0] == kindTombstone {
				continue
			}
			buf = appendSet(buf[:0], k, standalone(v), r.expires[k])
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("bunt: repair: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("bunt: repair: %w", err)
	}
	return r.damage, nil
}

// cutFile drops a torn tail from the file and makes that durable.
func cutFile(path string, at int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("bunt: cut torn tail: %w", err)
	}
	err = f.Truncate(at)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bunt: cut torn tail: %w", err)
	}
	return nil
}

// writeTemp creates tmp (mode 0600), fills it and makes it durable.
func writeTemp(tmp string, fill func(*bufio.Writer) error) error {
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("bunt: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = fill(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("bunt: write %s: %w", filepath.Base(tmp), err)
	}
	return nil
}

// Compact implements storage.Backend: it writes the live records to a new
// file, fsyncs it, and only then renames it over the old one and fsyncs the
// directory. A crash at any point leaves either the old file or the new one,
// both complete. Writers are held back twice, briefly: to note where the old
// file ends, and at the end to copy what was written meanwhile into the new
// file and swap. BuntDB's own Shrink is not used: it renames a file it never
// fsynced.
func (d *DB) Compact(ctx context.Context) error {
	d.compactMu.Lock()
	defer d.compactMu.Unlock()

	// 1. Note the records and where the file ends, with writers held back.
	type item struct{ k, v string }
	var (
		items  []item
		endpos int64
		db     *buntdb.DB
	)
	err := func() error {
		d.gate.Lock()
		defer d.gate.Unlock()
		d.mu.RLock()
		defer d.mu.RUnlock()
		if err := d.usable(ctx); err != nil {
			return err
		}
		db = d.db
		return db.View(func(tx *buntdb.Tx) error {
			fi, err := d.file.Stat()
			if err != nil {
				return err
			}
			endpos = fi.Size()
			return tx.Ascend("", func(k, v string) bool {
				items = append(items, item{k, v})
				return true
			})
		})
	}()
	if err != nil {
		return fmt.Errorf("bunt: compact: %w", err)
	}

	// 2. Write them out and load the new file, beside readers and writers.
	tmp := d.path + ".compact"
	now := time.Now()
	err = writeTemp(tmp, func(w *bufio.Writer) error {
		var buf []byte
		for _, it := range items {
			if len(it.v) < 4 {
				continue
			}
			h, err := parseValueHeader(it.v[:len(it.v)-4])
			if err == nil && (h.kind == kindTombstone || h.expires != 0 && !time.Unix(h.expires, 0).After(now)) {
				continue
			}
			buf = appendSet(buf[:0], it.k, standalone(it.v), h.expires)
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	items = nil
	if err != nil {
		return err
	}
	newdb, newfile, err := openBunt(tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	abandon := func(err error) error {
		newdb.Close()
		newfile.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("bunt: compact: %w", err)
	}

	if d.testHookCompact != nil {
		d.testHookCompact()
	}

	// 3. With writers held back again, carry over what they wrote since
	// step 1, make the new file durable, and swap.
	d.gate.Lock()
	defer d.gate.Unlock()
	d.mu.RLock()
	err = d.usable(ctx)
	if err == nil && d.db != db {
		err = errors.New("database replaced during compaction")
	}
	var tail []byte
	if err == nil {
		err = db.View(func(tx *buntdb.Tx) error {
			fi, err := d.file.Stat()
			if err != nil {
				return err
			}
			tail = make([]byte, fi.Size()-endpos)
			_, err = d.file.ReadAt(tail, endpos)
			return err
		})
	}
	d.mu.RUnlock()
	if err == nil {
		err = replayTail(newdb, tail)
	}
	if err == nil {
		err = newfile.Sync()
	}
	if err != nil {
		return abandon(err)
	}
	d.mu.Lock()
	if err := os.Rename(tmp, d.path); err != nil {
		d.mu.Unlock()
		return abandon(err)
	}
	old, oldfile := d.db, d.file
	d.db, d.file = newdb, newfile
	// Until the directory is durable a crash may bring back the old file, so
	// no writer may go on before this returns.
	if err := syncDir(filepath.Dir(d.path)); err != nil {
		d.fail(fmt.Errorf("compact: %w", err))
	}
	d.mu.Unlock()
	_ = old.Close()
	_ = oldfile.Close()
	if fi, err := newfile.Stat(); err == nil {
		d.lastSize.Store(fi.Size())
	}
	d.compactions.Add(1)
	if p := d.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// replayTail applies the commands of tail, complete ones written to the old
// file during a compaction, to the new database in one transaction. Batch
// members become single writes: their batches are whole and durable already,
// and one transaction may mix several.
func replayTail(db *buntdb.DB, tail []byte) error {
	if len(tail) == 0 {
		return nil
	}
	return db.Update(func(tx *buntdb.Tx) error {
		now := time.Now()
		for off := 0; off < len(tail); {
			if tail[off] == 0 {
				off++
				continue
			}
			c, err := parseCommand(tail, off)
			if err != nil {
				return fmt.Errorf("tail at %d: %w", off, err)
			}
			off = c.end
			switch {
			case isCmd(c, "flushdb"):
				if err := tx.DeleteAll(); err != nil {
					return err
				}
				continue
			case len(c.parts) < 2:
				return fmt.Errorf("tail at %d: %w", c.start, errMalformed)
			}
			key := string(c.parts[1])
			del := isCmd(c, "del")
			var val string
			var exp int64
			if !del {
				if len(c.parts) < 3 {
					return fmt.Errorf("tail at %d: %w", c.start, errMalformed)
				}
				val = standalone(string(c.parts[2]))
				if h, err := decodeValue(val); err == nil {
					exp = h.expires
					del = h.kind == kindTombstone || exp != 0 && !time.Unix(exp, 0).After(now)
				}
			}
			if del {
				if _, err := tx.Delete(key); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
					return err
				}
				continue
			}
			if _, _, err := tx.Set(key, val, ttlOpts(exp)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Snapshot implements storage.Backend. It holds BuntDB's read lock only to
// collect references to the records (BuntDB's strings never change), waits
// until what it saw is durable, then writes them out without any lock.
func (d *DB) Snapshot(ctx context.Context, w io.Writer) error {
	type item struct{ k, v string }
	var items []item
	err := func() error {
		d.mu.RLock()
		defer d.mu.RUnlock()
		if err := d.usable(ctx); err != nil {
			return err
		}
		err := d.db.View(func(tx *buntdb.Tx) error {
			return tx.Ascend("", func(k, v string) bool {
				items = append(items, item{k, v})
				return true
			})
		})
		if err != nil {
			return fmt.Errorf("bunt: snapshot: %w", err)
		}
		return d.durable()
	}()
	if err != nil {
		return err
	}
	sw := storage.NewSnapshotWriter(w)
	now := time.Now()
	for i, it := range items {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, ok := decode(it.k, it.v, now)
		if !ok || rec.Damaged {
			continue
		}
		if err := sw.Add(rec); err != nil {
			return fmt.Errorf("bunt: snapshot: %w", err)
		}
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("bunt: snapshot: %w", err)
	}
	return nil
}

// Restore creates a BuntDB file at path from a snapshot (see
// storage.SnapshotWriter), atomically: the file appears complete, or not at
// all when the snapshot is damaged or the process dies. It refuses to
// replace an existing file (ErrExists).
func Restore(ctx context.Context, path string, r io.Reader) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bunt: restore: %w", err)
	}
	tmp := path + ".restore"
	now := time.Now()
	err := writeTemp(tmp, func(w *bufio.Writer) error {
		var buf []byte
		n := 0
		return storage.ReadSnapshot(r, func(rec storage.Record) error {
			if n++; n%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if !rec.Expires.IsZero() && !rec.Expires.After(now) {
				return nil
			}
			if rec.Key == "" {
				return fmt.Errorf("%w: empty key", storage.ErrSnapshot)
			}
			exp := ceilUnix(rec.Expires)
			buf = appendSet(buf[:0], rec.Key, encodeValue(kindLive, exp, 1, 0, rec.Key, rec.Value), exp)
			_, err := w.Write(buf)
			return err
		})
	})
	if err != nil {
		return err
	}
	// A hard link, unlike a rename, fails rather than replace a file that
	// appeared meanwhile.
	if err := os.Link(tmp, path); err != nil {
		_ = os.Remove(tmp)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, path)
		}
		return fmt.Errorf("bunt: restore: %w", err)
	}
	_ = os.Remove(tmp)
	return syncDir(filepath.Dir(path))
}
