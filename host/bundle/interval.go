package bundle

import "time"

// periods are the lengths of the intervals a scheduled trigger may use,
// as Forge names them.
var periods = map[string]time.Duration{
	"fiveMinute": 5 * time.Minute,
	"hour":       time.Hour,
	"day":        24 * time.Hour,
	"week":       7 * 24 * time.Hour,
}

// IntervalPeriod returns the length of a scheduled trigger's interval by
// its manifest name; false for a name the manifest does not accept.
func IntervalPeriod(name string) (time.Duration, bool) {
	d, ok := periods[name]
	return d, ok
}

// Period returns how often the trigger fires: the length of its interval.
// It is 0 only for a manifest that did not validate.
func (s ScheduledTrigger) Period() time.Duration { return periods[s.Interval] }
