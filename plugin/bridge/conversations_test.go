package bridge

import (
	"strings"
	"testing"
	"time"
)

// Tests of issue 18's items 2 (hours), 6 (channel label), 7 (language)
// and 10 (abuse control).

func TestTextsFollowTheCustomersLanguageElseTheProjects(t *testing.T) {
	cfg := Config{Language: "de", Texts: map[string]map[string]string{"fr": {"acknowledged": "Reçu : {key}."}}}
	tests := []struct {
		name, lang, want string
	}{
		{"a supported language", "uk", languages["uk"].Help},
		{"a regional tag takes its language", "pt-BR", languages["pt"].Help},
		{"an underscore tag too", "es_MX", languages["es"].Help},
		{"upper case", "FR", languages["fr"].Help},
		{"an unsupported language falls back to the project's", "ja", languages["de"].Help},
		{"no language falls back to the project's", "", languages["de"].Help},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cfg.textsIn(tt.lang).Help; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("an override for the language wins", func(t *testing.T) {
		if got := cfg.textsIn("fr").Acknowledged; got != "Reçu : {key}." {
			t.Errorf("got %q", got)
		}
		if got := cfg.textsIn("de").Acknowledged; got != languages["de"].Acknowledged {
			t.Errorf("another language took the override: %q", got)
		}
	})
	t.Run("the greeting set on its own holds in every language, below an override", func(t *testing.T) {
		c := cfg
		c.Greeting = "Moin!"
		c.Texts = map[string]map[string]string{"es": {"greeting": "¡Buenas!"}}
		if c.textsIn("uk").Greeting != "Moin!" || c.textsIn("es").Greeting != "¡Buenas!" {
			t.Errorf("uk %q, es %q", c.textsIn("uk").Greeting, c.textsIn("es").Greeting)
		}
	})
	t.Run("a project in an unknown language speaks English", func(t *testing.T) {
		if got := (&Config{Language: "xx"}).textsIn("").Help; got != languages["en"].Help {
			t.Errorf("got %q", got)
		}
	})
}

func TestEveryLanguageHasEveryTextWithItsPlaceholders(t *testing.T) {
	for _, want := range []string{"en", "de", "fr", "es", "pt", "uk"} {
		lang, ok := languages[want]
		if !ok {
			t.Errorf("language %s missing", want)
			continue
		}
		for _, n := range textNames {
			text := *n.field(lang)
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s.%s is empty", want, n.name)
			}
			for _, p := range n.placeholders {
				if !strings.Contains(text, p) {
					t.Errorf("%s.%s lacks %s", want, n.name, p)
				}
			}
			rest := text
			for _, p := range n.placeholders {
				rest = strings.ReplaceAll(rest, p, "")
			}
			if placeholder.MatchString(rest) {
				t.Errorf("%s.%s has a placeholder it does not know: %q", want, n.name, text)
			}
		}
	}
}

func TestConfigTextsAreValidated(t *testing.T) {
	tests := []struct {
		name  string
		texts map[string]any
		want  string // part of the message; "" for ok
	}{
		{"a known text", map[string]any{"de": map[string]any{"acknowledged": "Danke, {key}!"}}, ""},
		{"an unknown language", map[string]any{"xx": map[string]any{"help": "x"}}, "Unsupported language"},
		{"an unknown text", map[string]any{"en": map[string]any{"goodbye": "x"}}, "Unknown text"},
		{"another text's placeholder", map[string]any{"en": map[string]any{"help": "see {key}"}}, "unknown placeholder"},
		{"too long", map[string]any{"en": map[string]any{"help": strings.Repeat("x", maxMessageText+1)}}, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			p := map[string]any{"projectKey": testProject, "channel": "telegram", "botToken": goodToken,
				"serviceDeskId": "2", "requestTypeId": "11", "texts": tt.texts}
			a, err := h.resolve("config.set", p)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if a["ok"] != true {
					t.Fatalf("refused: %v", a)
				}
				return
			}
			msg, _ := a["errors"].(map[string]any)["texts"].(string)
			if a["ok"] != false || !strings.Contains(msg, tt.want) {
				t.Errorf("answer %v, want texts error with %q", a, tt.want)
			}
		})
	}
}

func TestACustomersLanguageReachesTheTextsOfAgentsReplies(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"language": "en"})
	h.send(h.textLang(5123456789, "Olá, preciso de ajuda", "pt-br"))
	h.drain()
	h.event("issue_updated_done.json")
	h.drain()
	m := h.tg.messages()
	if len(m) != 2 || m[0].Text != languages["pt"].Resolved || m[1].Text != surveyLanguages["pt"].Prompt {
		t.Fatalf("sent %+v, want the resolution and the survey in Portuguese", m)
	}
}

// textLang is h.text from a customer whose messenger names their language.
func (h *harness) textLang(chat int64, text, lang string) []byte {
	b := h.text(chat, text)
	return []byte(strings.Replace(string(b), `"is_bot":false`, `"is_bot":false,"language_code":"`+lang+`"`, 1))
}

func TestBusinessHours(t *testing.T) {
	cfg := Config{TimeZone: "Europe/Berlin", Hours: map[string][]string{
		"mon": {"09:00-12:00", "13:00-17:00"}, "fri": {"09:00-24:00"}}, Holidays: []string{"2025-12-01"}}
	s, ok, errs := parseSchedule(&cfg)
	if !ok || len(errs) > 0 {
		t.Fatalf("parse: %v %v", ok, errs)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name, now string
		open      bool
		next      string
	}{
		{"inside a range", "2025-11-24 10:00", true, ""},
		{"at a range's start", "2025-11-24 09:00", true, ""},
		{"at a range's end", "2025-11-24 12:00", false, "2025-11-24 13:00"},
		{"over lunch", "2025-11-24 12:30", false, "2025-11-24 13:00"},
		{"a closed day", "2025-11-25 10:00", false, "2025-11-28 09:00"},
		{"till midnight", "2025-11-28 23:59", true, ""},
		{"the weekend, then a holiday Monday", "2025-11-29 10:00", false, "2025-12-05 09:00"},
		{"across the change to summer time", "2026-03-28 10:00", false, "2026-03-30 09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open, next := s.openAt(at(tt.now).UTC())
			if open != tt.open {
				t.Fatalf("open %v", open)
			}
			if !open && !next.Equal(at(tt.next)) {
				t.Errorf("next %v, want %s", next.In(berlin), tt.next)
			}
		})
	}
}

func TestBusinessHoursAreValidated(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"an unknown zone", Config{TimeZone: "Mars/Olympus"}, "timeZone"},
		{"Local is no IANA name", Config{TimeZone: "Local"}, "timeZone"},
		{"an unknown day", Config{Hours: map[string][]string{"monday": {"09:00-17:00"}}}, "hours"},
		{"a malformed range", Config{Hours: map[string][]string{"mon": {"9-17"}}}, "hours"},
		{"a range past midnight", Config{Hours: map[string][]string{"mon": {"22:00-02:00"}}}, "hours"},
		{"overlapping ranges", Config{Hours: map[string][]string{"mon": {"09:00-12:00", "11:00-13:00"}}}, "hours"},
		{"days without ranges", Config{Hours: map[string][]string{"mon": {}}}, "hours"},
		{"a malformed holiday", Config{Holidays: []string{"25.12.2025"}}, "holidays"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, errs := parseSchedule(&tt.cfg)
			if errs[tt.field] == "" {
				t.Errorf("no %s error: %v", tt.field, errs)
			}
		})
	}
}

func TestOutOfHoursReplyOncePerChatAndClosedPeriod(t *testing.T) {
	h := newHarness(t) // Saturday 2025-11-22 10:00 UTC
	h.configure(map[string]any{"timeZone": "Europe/Berlin", "hours": map[string]any{"mon": []string{"09:00-17:00"}}})
	notices := func() int {
		n := 0
		for _, m := range h.tg.messages() {
			if strings.HasPrefix(m.Text, "Thank you for your message. Our support team is away") {
				n++
			}
		}
		return n
	}
	h.send(h.text(5123456789, "first"))
	h.send(h.text(5123456789, "second"))
	h.drain()
	if n := notices(); n != 1 {
		t.Fatalf("%d notices in one closed period: %+v", n, h.tg.messages())
	}
	if m := h.tg.messages(); !strings.Contains(m[0].Text, "2025-11-24 09:00 (Europe/Berlin)") {
		t.Errorf("notice %q does not say when the team is back", m[0].Text)
	}
	if is := h.jira.issue("SUP-1"); is == nil || len(is.Comments) != 1 {
		t.Fatal("messages out of hours did not reach Jira")
	}
	h.send(h.text(7000000007, "another chat"))
	h.drain()
	if n := notices(); n != 2 {
		t.Errorf("another chat was not told: %d", n)
	}
	// Monday in hours: no notice; Monday evening: the next closed period.
	h.advance(48 * time.Hour) // Monday 10:00 UTC, 11:00 in Berlin
	h.send(h.text(5123456789, "in hours"))
	h.drain()
	if n := notices(); n != 2 {
		t.Errorf("told in hours: %d", n)
	}
	h.advance(7 * time.Hour) // 18:00 in Berlin
	h.send(h.text(5123456789, "evening"))
	h.drain()
	if n := notices(); n != 3 {
		t.Errorf("a new closed period was not told: %d", n)
	}
}

func TestAcknowledgementNamesTheNewRequestOnce(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"acknowledge": true})
	h.send(h.text(5123456789, "help"))
	h.send(h.text(5123456789, "more"))
	h.drain()
	m := h.tg.messages()
	if len(m) != 1 || m[0].Text != fill(languages["en"].Acknowledged, "{key}", "SUP-1") {
		t.Fatalf("sent %+v", m)
	}
	t.Run("off, it says nothing", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		h.send(h.text(5123456789, "help"))
		h.drain()
		if m := h.tg.messages(); len(m) != 0 || h.jira.issue("SUP-1") == nil {
			t.Fatalf("sent %+v", m)
		}
	})
}

func TestRequestsCarryTheirChannelsLabel(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.send(h.text(5123456789, "help"))
	h.drain()
	if is := h.jira.issue("SUP-1"); is == nil || len(is.Labels) != 1 || is.Labels[0] != "chatbridge-telegram" {
		t.Fatalf("request %+v", is)
	}
	t.Run("a request type without the Labels field still gets the request", func(t *testing.T) {
		h := newHarness(t)
		h.configure(nil)
		h.jira.noLabels = true
		h.send(h.text(5123456789, "help"))
		h.drain()
		if is := h.jira.issue("SUP-1"); is == nil || len(is.Labels) != 0 || h.jira.issueCount() != 1 {
			t.Fatalf("request %+v", is)
		}
	})
}

func TestFloodLimitDropsMessagesOverItAndTellsOncePerWindow(t *testing.T) {
	h := newHarness(t)
	h.configure(map[string]any{"floodLimit": 3, "floodWindowSeconds": 60})
	for i := range 6 {
		h.send(h.text(5123456789, "msg "+string(rune('a'+i))))
	}
	h.drain()
	is := h.jira.issue("SUP-1")
	if is == nil || len(is.Comments) != 2 { // the first opened it, two more commented
		t.Fatalf("request %+v", is)
	}
	m := h.tg.messages()
	if len(m) != 1 || m[0].Text != fill(languages["en"].Flood, "{minutes}", "1") {
		t.Fatalf("sent %+v", m)
	}
	// Another chat has its own count; /forget is never limited.
	h.send(h.text(7000000007, "hello"))
	h.send(h.text(5123456789, "/forget"))
	h.drain()
	if h.jira.issueCount() != 2 {
		t.Errorf("another chat was limited")
	}
	if last := h.tg.messages()[len(h.tg.messages())-1]; last.Text != languages["en"].Forgotten {
		t.Errorf("/forget over the limit: %q", last.Text)
	}
	// A new window passes messages again.
	h.advance(time.Minute)
	h.send(h.text(5123456789, "later"))
	h.drain()
	if h.jira.issueCount() != 3 {
		t.Errorf("the next window's message did not open a request: %d", h.jira.issueCount())
	}
	t.Run("-1 is no limit", func(t *testing.T) {
		h := newHarness(t)
		h.configure(map[string]any{"floodLimit": -1})
		for range DefaultFloodLimit + 5 {
			h.send(h.text(5123456789, "x"))
		}
		h.drain()
		if is := h.jira.issue("SUP-1"); is == nil || len(is.Comments) != DefaultFloodLimit+4 || len(h.tg.messages()) != 0 {
			t.Fatalf("limited without a limit")
		}
	})
}

func TestBlockListDropsAChatsMessagesAndStoresNoChatID(t *testing.T) {
	h := newHarness(t)
	h.configure(nil)
	h.send(h.text(5123456789, "first"))
	h.drain()
	a, err := h.resolve("blocks.add", map[string]any{"projectKey": testProject, "issueKey": "SUP-1"})
	if err != nil || a["ok"] != true {
		t.Fatalf("blocks.add: %v %v", a, err)
	}
	id, _ := a["id"].(string)
	for _, k := range h.env.Store.Keys() {
		if strings.HasPrefix(k, "block:") {
			v, _ := h.env.Store.Get(k)
			if strings.Contains(k+string(v), annaChat) || k != "block:SUP:"+id {
				t.Errorf("block record %s %s", k, v)
			}
		}
	}
	h.send(h.text(5123456789, "spam"))
	h.send(h.text(5123456789, "/new"))
	h.drain()
	if len(h.jira.issue("SUP-1").Comments) != 0 || len(h.tg.messages()) != 0 || h.jira.issueCount() != 1 {
		t.Fatalf("a blocked chat got through: comments %d, messages %+v", len(h.jira.issue("SUP-1").Comments), h.tg.messages())
	}
	list, _ := h.resolve("blocks.list", map[string]any{"projectKey": testProject})
	if rows, _ := list["blocked"].([]any); len(rows) != 1 || rows[0].(map[string]any)["id"] != id {
		t.Fatalf("blocks.list %v", list)
	}
	// The same chat named by channel and id is the same entry.
	if again, _ := h.resolve("blocks.add", map[string]any{"projectKey": testProject, "channel": "telegram", "chat": annaChat}); again["id"] != id {
		t.Errorf("by chat id: %v", again)
	}
	r, _ := h.resolve("blocks.remove", map[string]any{"projectKey": testProject, "id": id})
	if r["removed"] != true {
		t.Fatalf("blocks.remove %v", r)
	}
	h.send(h.text(5123456789, "sorry"))
	h.drain()
	if len(h.jira.issue("SUP-1").Comments) != 1 {
		t.Error("an unblocked chat is still dropped")
	}
	t.Run("bad input is refused by field", func(t *testing.T) {
		for _, in := range []map[string]any{
			{"projectKey": testProject},
			{"projectKey": testProject, "issueKey": "SUP-99"},
			{"projectKey": testProject, "channel": "icq", "chat": "1"},
			{"projectKey": "NOPE", "issueKey": "SUP-1"},
			{"projectKey": testProject, "id": "abc"},
		} {
			if a, err := h.resolve("blocks.add", in); err != nil || a["ok"] != false {
				t.Errorf("%v: %v %v", in, a, err)
			}
		}
	})
	t.Run("the project's deletion removes the list", func(t *testing.T) {
		h.resolve("blocks.add", map[string]any{"projectKey": testProject, "issueKey": "SUP-1"})
		h.resolve("config.delete", map[string]any{"projectKey": testProject})
		for _, k := range h.env.Store.Keys() {
			if strings.HasPrefix(k, "block:") {
				t.Errorf("%s outlived its project", k)
			}
		}
	})
}
