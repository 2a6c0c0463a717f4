package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	// The module runs where no zoneinfo files are (GOOS=wasip1, no file
	// system granted): the IANA database is compiled in (about 450 kB).
	_ "time/tzdata"
)

// Business hours: a project may name its time zone, its weekly opening
// hours and its holidays. Outside them the bridge still passes every
// message on, and answers the first message of a chat in each closed period
// with the OutOfHours text naming when the team is back; a "closed" record
// of the chat, living until that moment, keeps it from saying so twice.

// weekdays are the keys of Config.Hours, in time.Weekday order.
var weekdays = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// span is one opening range of a day, in minutes since midnight, [from, to).
type span struct{ from, to int }

// schedule is a project's business hours, parsed.
type schedule struct {
	loc      *time.Location
	week     [7][]span
	holidays map[string]bool // "2006-01-02" in loc
}

// maxHolidays bounds a project's list of holidays.
const maxHolidays = 400

// lookAhead bounds the search for the next opening: a year and a day.
const lookAhead = 367

// parseSchedule reads a configuration's hours; ok is false when the
// project sets none (always open). Problems come by field.
func parseSchedule(c *Config) (s schedule, ok bool, errs map[string]string) {
	errs = map[string]string{}
	s.loc = time.UTC
	if c.TimeZone != "" {
		loc, err := time.LoadLocation(c.TimeZone)
		if err != nil || c.TimeZone == "Local" {
			errs["timeZone"] = "Not an IANA time zone name (such as Europe/Berlin or America/New_York)."
		} else {
			s.loc = loc
		}
	}
	open := 0
	for day, ranges := range c.Hours {
		i := slices.Index(weekdays[:], day)
		if i < 0 {
			errs["hours"] = "Unknown day " + quoteShort(day) + "; use mon, tue, wed, thu, fri, sat, sun."
			continue
		}
		for _, r := range ranges {
			sp, problem := parseSpan(r)
			if problem != "" {
				errs["hours"] = day + ": " + problem
				continue
			}
			for _, o := range s.week[i] {
				if sp.from < o.to && o.from < sp.to {
					errs["hours"] = day + ": ranges overlap."
				}
			}
			s.week[i] = append(s.week[i], sp)
			open++
		}
		slices.SortFunc(s.week[i], func(a, b span) int { return a.from - b.from })
	}
	if len(c.Hours) > 0 && open == 0 && errs["hours"] == "" {
		errs["hours"] = "Name at least one opening range, or none at all for always open."
	}
	if len(c.Holidays) > maxHolidays {
		errs["holidays"] = fmt.Sprintf("At most %d dates.", maxHolidays)
	}
	s.holidays = map[string]bool{}
	for _, d := range c.Holidays {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			errs["holidays"] = "Not a date (YYYY-MM-DD): " + quoteShort(d) + "."
			continue
		}
		s.holidays[d] = true
	}
	return s, len(c.Hours) > 0, errs
}

// parseSpan reads "09:00-17:30"; the end may be 24:00.
func parseSpan(r string) (span, string) {
	a, b, ok := strings.Cut(strings.TrimSpace(r), "-")
	if !ok {
		return span{}, "a range is HH:MM-HH:MM, not " + quoteShort(r) + "."
	}
	from, okA := clock(strings.TrimSpace(a))
	to, okB := clock(strings.TrimSpace(b))
	switch {
	case !okA || !okB || from == 24*60:
		return span{}, "a range is HH:MM-HH:MM, not " + quoteShort(r) + "."
	case to <= from:
		return span{}, "a range ends after it starts (split one past midnight over two days): " + quoteShort(r) + "."
	}
	return span{from, to}, ""
}

// clock reads "HH:MM" as minutes since midnight, 00:00 to 24:00.
func clock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

// openAt reports whether the team is in at t; when it is not, next is when
// it opens again (the zero time when it never does within lookAhead days).
func (s schedule) openAt(t time.Time) (open bool, next time.Time) {
	t = t.In(s.loc)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, s.loc)
	now := t.Hour()*60 + t.Minute()
	for i := 0; i < lookAhead; i++ {
		d := day.AddDate(0, 0, i)
		if s.holidays[d.Format(time.DateOnly)] {
			continue
		}
		for _, sp := range s.week[d.Weekday()] {
			if i == 0 && sp.to <= now {
				continue
			}
			if i == 0 && sp.from <= now {
				return true, time.Time{}
			}
			return false, time.Date(d.Year(), d.Month(), d.Day(), sp.from/60, sp.from%60, 0, 0, s.loc)
		}
	}
	return false, time.Time{}
}

// closedKey names a chat's "told we are closed" record by a hash of the
// chat, never by its id.
func closedKey(project, ch, chatID string) string {
	return "closed:" + project + ":" + chatHash("closed", project, ch, chatID)
}

// closedRecord says a chat was told the team is away until Until (Unix
// seconds); At is when, Owner the delivery that tells it.
type closedRecord struct {
	At    int64  `json:"at"`
	Until int64  `json:"until"`
	Owner string `json:"o"`
}

// maxClosedTTL bounds a closed record's life when the team does not open
// again within lookAhead days (every day a holiday).
const maxClosedTTL = 30 * 24 * time.Hour

// outOfHours tells the customer, once per chat and closed period, that
// the team is away and when it is back. It runs after the message went to
// Jira, so a failure here loses nothing. The record is written before the
// reply: a retry of the same delivery sends it, another message's does not.
func (w *inbound) outOfHours() error {
	s, ok, errs := parseSchedule(&w.cfg)
	if !ok || len(errs) > 0 {
		return nil
	}
	now := w.b.now()
	open, next := s.openAt(now)
	if open {
		return nil
	}
	return w.step("closed", func() error {
		key := closedKey(w.job.Project, w.job.Channel, w.job.Event.ChatID)
		var rec closedRecord
		found, err := w.st.get(key, &rec)
		if err != nil {
			return err
		}
		if found && rec.Until > now.Unix() && rec.Owner != w.job.Nonce {
			return nil // told already in this closed period
		}
		ttl := maxClosedTTL
		opens := "—"
		if !next.IsZero() {
			ttl = next.Sub(now)
			opens = next.Format("2006-01-02 15:04") + " (" + s.loc.String() + ")"
		}
		if !found || rec.Owner != w.job.Nonce {
			rec = closedRecord{At: now.Unix(), Until: now.Add(ttl).Unix(), Owner: w.job.Nonce}
			if err := w.st.put(key, rec, ttl); err != nil {
				return err
			}
		}
		w.log.Info("inbound: out-of-hours reply")
		return w.reply(fill(w.texts().OutOfHours, "{opens}", opens))
	})
}

// chatHash names one chat in a short-lived record's key without its id:
// purpose, project, channel and chat id hashed together.
func chatHash(purpose, project, ch, chatID string) string {
	sum := sha256.Sum256([]byte("chatbridge." + purpose + "\x00" + project + "\x00" + ch + "\x00" + chatID))
	return hex.EncodeToString(sum[:16])
}
