package bundle

import (
	"testing"
	"time"
)

func TestEveryAcceptedIntervalHasItsForgeLength(t *testing.T) {
	want := map[string]time.Duration{"fiveMinute": 5 * time.Minute, "hour": time.Hour, "day": 24 * time.Hour, "week": 168 * time.Hour}
	if len(intervals) != len(want) {
		t.Fatalf("the manifest accepts %d intervals, want %d", len(intervals), len(want))
	}
	for _, name := range intervals {
		got, ok := IntervalPeriod(name)
		if !ok || got != want[name] {
			t.Errorf("IntervalPeriod(%q) = %v, %v; want %v", name, got, ok, want[name])
		}
		if p := (ScheduledTrigger{Interval: name}).Period(); p != want[name] {
			t.Errorf("Period of %q = %v, want %v", name, p, want[name])
		}
	}
	if _, ok := IntervalPeriod("minute"); ok {
		t.Error("IntervalPeriod accepts minute, which the manifest refuses")
	}
}
