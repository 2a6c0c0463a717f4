package tenant

import "testing"

func TestIDsNeverReadAsAFlag(t *testing.T) {
	for range 5000 {
		if id := newID(); id[0] == '-' || len(id) != 24 {
			t.Fatalf("id %q", id)
		}
	}
}
