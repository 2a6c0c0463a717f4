package bridge

import (
	"strings"
	"testing"
	"time"
)

func TestLinkRateAllowsOneCodePerAddressPerQuarterHourAndThreeAddressesPerHour(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	type ask struct {
		addr, by string
		after    time.Duration // since t0
		want     linkVerdict
		wait     time.Duration // for a refusal
	}
	for _, tc := range []struct {
		name string
		asks []ask
	}{
		{"the same address twice within the quarter hour", []ask{
			{"a", "d1", 0, linkAllowed, 0},
			{"a", "d2", 10 * time.Minute, linkTooSoon, 5 * time.Minute},
		}},
		{"the same address again after the quarter hour", []ask{
			{"a", "d1", 0, linkAllowed, 0},
			{"a", "d2", linkAgain, linkAllowed, 0},
			{"a", "d3", linkAgain + time.Minute, linkTooSoon, linkAgain - time.Minute},
		}},
		{"a retry of the same delivery is no second ask", []ask{
			{"a", "d1", 0, linkAllowed, 0},
			{"a", "d1", time.Minute, linkAllowed, 0},
		}},
		{"three addresses, then a fourth within the hour", []ask{
			{"a", "d1", 0, linkAllowed, 0},
			{"b", "d2", 10 * time.Minute, linkAllowed, 0},
			{"c", "d3", 20 * time.Minute, linkAllowed, 0},
			{"d", "d4", 30 * time.Minute, linkTooMany, 30 * time.Minute},
		}},
		{"a fourth address once the first leaves the hour", []ask{
			{"a", "d1", 0, linkAllowed, 0},
			{"b", "d2", 10 * time.Minute, linkAllowed, 0},
			{"c", "d3", 20 * time.Minute, linkAllowed, 0},
			{"d", "d4", time.Hour, linkAllowed, 0},
			{"e", "d5", time.Hour + time.Minute, linkTooMany, 9 * time.Minute},
		}},
		{"an address already asked for is not a new one", []ask{
			{"a", "d1", 0, linkAllowed, 0},
			{"b", "d2", 10 * time.Minute, linkAllowed, 0},
			{"c", "d3", 20 * time.Minute, linkAllowed, 0},
			{"a", "d4", 30 * time.Minute, linkAllowed, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec linkRateRecord
			for i, a := range tc.asks {
				now := t0.Add(a.after)
				got, next, wait := rec.ask(a.addr, a.by, now)
				if got != a.want || wait != a.wait {
					t.Fatalf("ask %d (%s at +%v) = %v, wait %v; want %v, wait %v", i, a.addr, a.after, got, wait, a.want, a.wait)
				}
				if got == linkAllowed {
					rec = next
				}
				if n := len(rec.Asks); n > linkAddresses {
					t.Fatalf("the record holds %d asks, more than %d", n, linkAddresses)
				}
			}
		})
	}
}

func TestTheLinkRateRecordLivesAnHourAfterTheLastAsk(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	_, rec, _ := linkRateRecord{}.ask("a", "d1", t0)
	_, rec, _ = rec.ask("b", "d2", t0.Add(20*time.Minute))
	if got := rec.ttl(t0.Add(20 * time.Minute)); got != linkRateWindow {
		t.Errorf("ttl = %v, want %v", got, linkRateWindow)
	}
	if got := rec.ttl(t0.Add(3 * time.Hour)); got != time.Second {
		t.Errorf("ttl of a stale record = %v, want the least (1s)", got)
	}
}

// rateRecords are the stored linkrate keys.
func rateRecords(h *harness) []string {
	var out []string
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "linkrate:") {
			out = append(out, k)
		}
	}
	return out
}

func TestASecondLinkForTheSameAddressWithinTheQuarterHourSendsNoSecondCode(t *testing.T) {
	h := newHarness(t)
	withCustomers(h)
	h.configure(map[string]any{"identity": "optional"})
	h.send(command(h, annaChat64, "/link anna@example.com"))
	h.drain()
	if n := len(linkRequests(h)); n != 1 {
		t.Fatalf("%d link requests after the first /link", n)
	}
	h.advance(5 * time.Minute)
	h.send(command(h, annaChat64, "/link Anna@Example.com"))
	h.drain()
	if n := len(linkRequests(h)); n != 1 {
		t.Fatalf("%d link requests after a second /link within the quarter hour, want 1", n)
	}
	if got := lastText(h); !strings.Contains(got, "less than 15 minutes ago") || !strings.Contains(got, "in 10 minutes") {
		t.Fatalf("the second /link was answered %q", got)
	}
	// Another chat gets no code for the same address within the quarter
	// hour either (a widget session costs nothing to make), but gets one
	// for another address.
	h.send(command(h, 6000000001, "/link anna@example.com"))
	h.drain()
	if n := len(linkRequests(h)); n != 1 || !strings.Contains(lastText(h), "less than 15 minutes ago") {
		t.Fatalf("%d link requests, told %q, after another chat's /link for the same address, want 1", n, lastText(h))
	}
	h.send(command(h, 6000000001, "/link bob@example.com"))
	h.drain()
	if n := len(linkRequests(h)); n != 2 {
		t.Fatalf("%d link requests after another chat's /link for another address, want 2", n)
	}
	// After the quarter hour the chat gets a new code.
	h.advance(10 * time.Minute)
	h.send(command(h, annaChat64, "/link anna@example.com"))
	h.drain()
	if n := len(linkRequests(h)); n != 3 || !strings.Contains(lastText(h), "emailed it a code") {
		t.Fatalf("%d link requests, told %q, after the quarter hour", n, lastText(h))
	}
}

func TestAFourthAddressWithinTheHourIsRefusedPolitelyAndInTheCustomersLanguage(t *testing.T) {
	h := newHarness(t)
	f := withCustomers(h)
	h.configure(map[string]any{"identity": "optional",
		"texts": map[string]any{"de": map[string]any{"linkTooMany": "Zu viele Adressen; in {minutes} Minuten wieder."}}})
	for i, a := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		h.advance(10 * time.Minute)
		h.send(command(h, annaChat64, "/link "+a))
		h.drain()
		if n := len(linkRequests(h)); n != i+1 {
			t.Fatalf("%d link requests after %s", n, a)
		}
	}
	f.mu.Lock()
	calls := len(f.calls)
	f.mu.Unlock()
	h.advance(10 * time.Minute)
	h.send(command(h, annaChat64, "/link d@example.com"))
	h.drain()
	if n := len(linkRequests(h)); n != 3 {
		t.Fatalf("%d link requests after a fourth address, want 3", n)
	}
	if got := lastText(h); !strings.Contains(got, "three addresses in the last hour") || !strings.Contains(got, "in 30 minutes") {
		t.Fatalf("the fourth address was answered %q", got)
	}
	f.mu.Lock()
	asked := f.calls[calls:]
	f.mu.Unlock()
	if len(asked) != 0 {
		t.Errorf("a refused /link still called JSM: %v", asked)
	}
	// The project's override, in the customer's language.
	h.send(h.textLang(annaChat64, "/link e@example.com", "de"))
	h.drain()
	if got := lastText(h); got != "Zu viele Adressen; in 30 Minuten wieder." {
		t.Fatalf("a German customer was told %q", got)
	}
	// Once the first ask leaves the hour, a new address gets its code.
	h.advance(30 * time.Minute)
	h.send(command(h, annaChat64, "/link d@example.com"))
	h.drain()
	if n := len(linkRequests(h)); n != 4 {
		t.Fatalf("%d link requests an hour after the first, want 4", n)
	}
}

func TestTheLinkRateRecordHoldsNoAddressNorChatOutlivesForgetAndExpires(t *testing.T) {
	h := newHarness(t)
	withCustomers(h)
	h.configure(map[string]any{"identity": "optional"})
	h.send(command(h, annaChat64, "/link anna@example.com"))
	h.drain()
	recs := rateRecords(h)
	if len(recs) != 1 {
		t.Fatalf("%d linkrate records, want 1", len(recs))
	}
	v, _ := h.env.Store.Get(recs[0])
	for _, s := range []string{"anna@example.com", "anna", "5123456789"} {
		if strings.Contains(strings.ToLower(string(v)+recs[0]), s) {
			t.Errorf("%s holds %q", recs[0], s)
		}
	}
	if _, ok := KindOf(recs[0]); !ok {
		t.Errorf("no RecordKinds entry names %s", recs[0])
	}
	// /forget leaves it: forgetting does not reset the limit.
	h.send(h.text(annaChat64, "/forget"))
	h.drain()
	h.send(command(h, annaChat64, "/link anna@example.com"))
	h.drain()
	if n := len(linkRequests(h)); n != 1 || !strings.Contains(lastText(h), "less than 15 minutes ago") {
		t.Fatalf("after /forget: %d link requests, told %q", n, lastText(h))
	}
	h.advance(linkRateWindow)
	if recs := rateRecords(h); len(recs) != 0 {
		t.Errorf("linkrate records %v outlived the hour", recs)
	}
}

// A delivery that dies between counting its ask and recording that it did
// is retried as the same ask: one code, and no refusal of itself.
func TestALinkInterruptedAfterItsAskWasCountedSendsItsCodeOnRetry(t *testing.T) {
	h := newHarness(t)
	withCustomers(h)
	h.configure(map[string]any{"identity": "optional"})
	h.send(command(h, annaChat64, "/link anna@example.com"))
	h.crashAfter("SET", "linkrate:", true)
	p := h.env.Pushed.Take()
	if len(p) != 1 {
		t.Fatalf("%d messages queued", len(p))
	}
	h.deliverCrashing(p[0], 1)
	if len(rateRecords(h)) != 1 || len(linkRequests(h)) != 0 {
		t.Fatalf("the crash came at the wrong point: %d linkrate records, %d link requests", len(rateRecords(h)), len(linkRequests(h)))
	}
	h.advance(time.Minute)
	h.redeliver(p[0], 2)
	if n := len(linkRequests(h)); n != 1 {
		t.Fatalf("%d link requests after the retry, want 1", n)
	}
	if got := lastText(h); !strings.Contains(got, "emailed it a code") {
		t.Fatalf("the retried /link was answered %q", got)
	}
}
