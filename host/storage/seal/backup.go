package seal

import (
	"context"
	"fmt"
	"io"

	"github.com/chatbridge/chatbridge/host/storage"
)

// Backup writes a consistent snapshot of the live store to w, still sealed,
// in the storage snapshot format. Master keys are not in it: keep every
// master key that wrapped a backup's data keys for as long as the backup.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if err := s.b.Snapshot(ctx, w); err != nil {
		return fmt.Errorf("seal: backup: %w", err)
	}
	return nil
}

// Restore writes a Backup into dst, which must be empty; open dst with the
// master keys of the backup afterwards. On error, discard dst. For a BuntDB
// file, bunt.Restore does the same atomically.
func Restore(ctx context.Context, r io.Reader, dst storage.Backend) error {
	recs, err := dst.Scan(ctx, "", "", 1)
	if err != nil {
		return fmt.Errorf("seal: restore: %w", err)
	}
	if len(recs) > 0 {
		return ErrNotEmpty
	}
	if _, err := storage.RestoreSnapshot(ctx, r, dst); err != nil {
		return fmt.Errorf("seal: restore: %w", err)
	}
	return nil
}
