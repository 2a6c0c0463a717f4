package waitfor

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records a failure instead of ending the test.
type fakeTB struct {
	testing.TB
	failed atomic.Value
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed.Store(format)
	panic(f) // Fatalf does not return
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	Until(t, 0, "the counter", func() string {
		if n.Add(1) < 3 {
			return "counter below 3"
		}
		return ""
	})
	if n.Load() != 3 {
		t.Fatalf("polled %d times, want 3", n.Load())
	}
}

func TestUntilFailsWithTheConditionsLastAnswer(t *testing.T) {
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				panic(r)
			}
		}()
		Until(f, 20*time.Millisecond, "the impossible", True(func() bool { return false }))
	}()
	got, _ := f.failed.Load().(string)
	if !strings.Contains(got, "not within") {
		t.Fatalf("failure %q", got)
	}
}
