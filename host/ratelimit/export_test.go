package ratelimit

import (
	"fmt"
	"strings"
	"time"
)

// Hooks for the external tests (package ratelimit_test), which read the
// plugin's manifest through package bundle, itself an importer of this
// package.

// SetNow replaces the limiter's clock.
func (l *Limiter) SetNow(now func() time.Time) { l.now = now }

// Reserve takes a turn on every key of d at now, as Wait does before it
// sleeps.
func (l *Limiter) Reserve(now time.Time, d Destination) (time.Duration, bool) {
	return l.reserve(now, d.keys)
}

// Keys are d's keys, the first the one blocks apply to.
func (d Destination) Keys() []Key { return d.keys }

// Pace is the key's pace.
func (k Key) Pace() Pace { return k.pace }

// ID is the key's hash.
func (k Key) ID() [16]byte { return k.id }

// DestinationOf is a destination of keys, with the default answers.
func DestinationOf(keys ...Key) Destination { return Destination{keys: keys} }

// Dump prints every key the limiter holds with its state.
func (l *Limiter) Dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for id, el := range l.keys {
		b.Write(id[:])
		fmt.Fprintf(&b, "%x %+v", id, *el.Value.(*entry))
	}
	return b.String()
}
