package bundle

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseManifest_ExampleIsValid(t *testing.T) {
	m, err := ParseManifest(exampleManifest(t))
	if err != nil {
		t.Fatalf("example manifest: %v", err)
	}
	if n := len(m.Modules.WebTrigger); n != 3 {
		t.Errorf("%d web triggers, want 3", n)
	}
	if len(m.Modules.Trigger) != 1 || !m.Modules.Trigger[0].Filter.IgnoreSelf {
		t.Errorf("trigger = %+v, want one with ignoreSelf", m.Modules.Trigger)
	}
	if len(m.Modules.Consumer) != 1 || len(m.Modules.ScheduledTrigger) != 1 || len(m.Modules.Function) != 1 {
		t.Errorf("modules = %+v, want every kind", m.Modules)
	}
	for _, host := range []string{"api.telegram.org", "example.atlassian.net"} {
		if !m.EgressAllowed(host) {
			t.Errorf("EgressAllowed(%q) = false", host)
		}
	}
	for _, b := range m.Permissions.External.Fetch.Backend {
		if b.Wildcard() {
			t.Errorf("example declares wildcard egress %q", b.Address)
		}
	}
	for _, c := range capabilities {
		if !m.HasCapability(c) {
			t.Errorf("HasCapability(%q) = false", c)
		}
	}
}

// Each file under testdata/bundle/invalid starts with "# want: <text>", the
// text its error must contain.
func TestParseManifest_RefusesInvalidFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "bundle", "invalid", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yml"), func(t *testing.T) {
			data := readFile(t, f)
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("fixture does not start with # want:")
			}
			_, err := ParseManifest(data)
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v\nwant ErrInvalidManifest containing %q", err, want)
			}
		})
	}
}

func TestParseManifest_NamesUnknownFieldsAndTheirLines(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"top level", "app: {id: \"ari:cloud:ecosystem::app/x\"}\nmodule: {}\n", `line 2: unknown field "module" in the top level`},
		{"app", "app:\n  id: \"ari:cloud:ecosystem::app/x\"\n  vendor: me\n", `line 3: unknown field "vendor" in app`},
		{"runtime", "app:\n  id: \"ari:cloud:ecosystem::app/x\"\n  runtime: {memoryMB: 64}\n", `unknown field "memoryMB" in app.runtime`},
		{"web trigger", "app: {id: \"ari:cloud:ecosystem::app/x\"}\nmodules:\n  webtrigger:\n    - {key: a, function: f, method: POST}\n", `line 4: unknown field "method" in modules.webtrigger[]`},
		{"module kind", "app: {id: \"ari:cloud:ecosystem::app/x\"}\nmodules:\n  webTrigger: []\n", `unknown field "webTrigger" in modules`},
		{"backend", "app: {id: \"ari:cloud:ecosystem::app/x\"}\npermissions:\n  external:\n    fetch:\n      backend:\n        - {address: a.example, port: 443}\n", `line 6: unknown field "port" in permissions.external.fetch.backend[]`},
		{"external", "app: {id: \"ari:cloud:ecosystem::app/x\"}\npermissions:\n  external:\n    images: []\n", `unknown field "images" in permissions.external`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tt.yaml))
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant containing %q", err, tt.want)
			}
		})
	}
}

func TestParseManifest_RefusesEmptyDocument(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n"} {
		if _, err := ParseManifest([]byte(doc)); !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("ParseManifest(%q) = %v, want empty-document error", doc, err)
		}
	}
}

// validManifest is a small manifest that passes Validate; each test case
// breaks one rule of it.
func validManifest() *Manifest {
	return &Manifest{
		App: App{ID: "ari:cloud:ecosystem::app/chatbridge", Name: "ChatBridge"},
		Modules: Modules{
			WebTrigger:       []WebTrigger{{Key: "hook", Function: "main", Response: WebTriggerResponse{Type: "dynamic"}}},
			Trigger:          []Trigger{{Key: "events", Function: "main", Events: []string{"avi:jira:commented:issue"}}},
			Consumer:         []Consumer{{Key: "deliveries", Queue: "deliveries", Function: "main"}},
			ScheduledTrigger: []ScheduledTrigger{{Key: "tick", Function: "main", Interval: "day"}},
			Function:         []Function{{Key: "main", Handler: "index.handler"}},
		},
		Permissions: Permissions{
			Scopes:       []string{"read:jira-work", "storage:app"},
			External:     External{Fetch: Fetch{Backend: []Backend{{Address: "api.telegram.org"}, {Address: "*.atlassian.net"}}}},
			Capabilities: []string{CapabilityStorage, CapabilityFetch},
		},
	}
}

func TestValidate_EnforcesEveryRule(t *testing.T) {
	if err := validManifest().Validate(); err != nil {
		t.Fatalf("base manifest: %v", err)
	}
	tests := []struct {
		name string
		edit func(m *Manifest)
		want string
	}{
		{"app id required", func(m *Manifest) { m.App.ID = "" }, "app.id is required"},
		{"app id form", func(m *Manifest) { m.App.ID = "chatbridge" }, `app.id "chatbridge" is not of the form ari:cloud:ecosystem::app/<id>`},
		{"name without control characters", func(m *Manifest) { m.App.Name = "Chat\x1b[31mBridge" }, "app.name"},
		{"name without bidi overrides", func(m *Manifest) { m.App.Name = "Chat\u202eegdirB" }, "app.name"},
		{"handler without control characters", func(m *Manifest) { m.Modules.Function[0].Handler = "index\nhandler" }, "modules.function[0].handler"},
		{"name not too long", func(m *Manifest) { m.App.Name = strings.Repeat("n", 300) }, "app.name is longer than 256 bytes"},
		{"memory at most 512 MiB", func(m *Manifest) { m.App.Runtime.MemoryMiB = 513 }, "app.runtime.memoryMiB 513 is out of range 1..512"},
		{"memory not negative", func(m *Manifest) { m.App.Runtime.MemoryMiB = -1 }, "app.runtime.memoryMiB -1"},
		{"timeout at most 900 s", func(m *Manifest) { m.App.Runtime.TimeoutSeconds = 901 }, "app.runtime.timeoutSeconds 901 is out of range 1..900"},
		{"key pattern", func(m *Manifest) { m.Modules.WebTrigger[0].Key = "Hook" }, `modules.webtrigger[0].key "Hook" must match [a-z0-9-]{1,64}`},
		{"key length", func(m *Manifest) { m.Modules.WebTrigger[0].Key = strings.Repeat("k", 65) }, "must match [a-z0-9-]{1,64}"},
		{"key required", func(m *Manifest) { m.Modules.ScheduledTrigger[0].Key = "" }, `modules.scheduledTrigger[0].key ""`},
		{"keys unique across kinds", func(m *Manifest) { m.Modules.Trigger[0].Key = "hook" }, `modules.trigger[0].key "hook" is already used by modules.webtrigger[0]`},
		{"web trigger names a function", func(m *Manifest) { m.Modules.WebTrigger[0].Function = "x" }, `modules.webtrigger[0].function "x" is not a declared function`},
		{"trigger names a function", func(m *Manifest) { m.Modules.Trigger[0].Function = "" }, "modules.trigger[0].function is required"},
		{"consumer names a function", func(m *Manifest) { m.Modules.Consumer[0].Function = "other" }, `modules.consumer[0].function "other" is not a declared function`},
		{"scheduled trigger names a function", func(m *Manifest) { m.Modules.ScheduledTrigger[0].Function = "other" }, `modules.scheduledTrigger[0].function "other"`},
		{"only dynamic responses", func(m *Manifest) { m.Modules.WebTrigger[0].Response.Type = "static" }, `modules.webtrigger[0].response.type "static" is not supported`},
		{"trigger has events", func(m *Manifest) { m.Modules.Trigger[0].Events = nil }, "modules.trigger[0].events is required"},
		{"events start with avi:", func(m *Manifest) { m.Modules.Trigger[0].Events = []string{"jira:issue_created"} }, `modules.trigger[0].events[0] "jira:issue_created" is not a product event`},
		{"event is more than the prefix", func(m *Manifest) { m.Modules.Trigger[0].Events = []string{"avi:"} }, `events[0] "avi:"`},
		{"events listed once", func(m *Manifest) {
			m.Modules.Trigger[0].Events = []string{"avi:jira:updated:issue", "avi:jira:updated:issue"}
		}, `events[1] "avi:jira:updated:issue" is listed twice`},
		{"queue name pattern", func(m *Manifest) { m.Modules.Consumer[0].Queue = "Deliveries!" }, `modules.consumer[0].queue "Deliveries!" must match`},
		{"one consumer per queue", func(m *Manifest) {
			m.Modules.Consumer = append(m.Modules.Consumer, Consumer{Key: "second", Queue: "deliveries", Function: "main"})
		}, `modules.consumer[1].queue "deliveries" already has a consumer`},
		{"interval from the list", func(m *Manifest) { m.Modules.ScheduledTrigger[0].Interval = "minute" }, `interval "minute" is not one of fiveMinute, hour, day, week`},
		{"scope form", func(m *Manifest) { m.Permissions.Scopes = []string{"everything"} }, `permissions.scopes[0] "everything" is not a scope`},
		{"scope listed once", func(m *Manifest) { m.Permissions.Scopes = []string{"storage:app", "storage:app"} }, `permissions.scopes[1] "storage:app" is listed twice`},
		{"unknown capability", func(m *Manifest) { m.Permissions.Capabilities = []string{"files"} }, `permissions.capabilities[0] "files" is not a capability`},
		{"capability listed once", func(m *Manifest) { m.Permissions.Capabilities = []string{"log", "log"} }, `"log" is listed twice`},
		{"address without scheme", func(m *Manifest) { setAddress(m, "https://api.telegram.org") }, "must be a host name without a scheme"},
		{"address without path", func(m *Manifest) { setAddress(m, "api.telegram.org/bot") }, "without a path"},
		{"address port in range", func(m *Manifest) { setAddress(m, "api.telegram.org:65536") }, "optionally with a port from 1 to 65535"},
		{"address port not zero", func(m *Manifest) { setAddress(m, "api.telegram.org:0") }, "optionally with a port from 1 to 65535"},
		{"address port decimal", func(m *Manifest) { setAddress(m, "api.telegram.org:0x1bb") }, "optionally with a port from 1 to 65535"},
		{"address port written once", func(m *Manifest) { setAddress(m, "api.telegram.org:443:443") }, "optionally with a port from 1 to 65535"},
		{"address IPv4 with a port", func(m *Manifest) { setAddress(m, "10.0.0.1:443") }, "not an IP address"},
		{"address without user", func(m *Manifest) { setAddress(m, "me@api.telegram.org") }, "without user information"},
		{"address not IPv4", func(m *Manifest) { setAddress(m, "10.0.0.1") }, "not an IP address"},
		{"address not short IPv4", func(m *Manifest) { setAddress(m, "127.1") }, "not an IP address"},
		{"address not hex IPv4", func(m *Manifest) { setAddress(m, "0x7f.0.0.1") }, "not an IP address"},
		{"address not IPv6", func(m *Manifest) { setAddress(m, "[::1]") }, "not an IP address"},
		{"address not bare IPv6", func(m *Manifest) { setAddress(m, "::1") }, "not an IP address"},
		{"address without trailing dot", func(m *Manifest) { setAddress(m, "api.telegram.org.") }, "without a trailing dot"},
		{"address of two labels or more", func(m *Manifest) { setAddress(m, "localhost") }, "at least two labels"},
		{"address ASCII", func(m *Manifest) { setAddress(m, "bücher.example") }, "use the xn-- form"},
		{"wildcard only as first label", func(m *Manifest) { setAddress(m, "api.*.org") }, "wildcard only as its whole first label"},
		{"wildcard label whole", func(m *Manifest) { setAddress(m, "*api.telegram.org") }, "wildcard only as its whole first label"},
		{"wildcard not over a TLD", func(m *Manifest) { setAddress(m, "*.com") }, "wildcard over a top-level domain"},
		{"address listed once", func(m *Manifest) {
			m.Permissions.External.Fetch.Backend = []Backend{{Address: "api.telegram.org"}, {Address: "API.telegram.org"}}
		}, `backend[1].address "API.telegram.org" is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validManifest()
			tt.edit(m)
			err := m.Validate()
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v\nwant ErrInvalidManifest containing %q", err, tt.want)
			}
		})
	}
}

func setAddress(m *Manifest, a string) {
	m.Permissions.External.Fetch.Backend = []Backend{{Address: a}}
}

func TestValidate_ReportsEveryProblemAtOnce(t *testing.T) {
	m := validManifest()
	m.App.ID = ""
	m.Modules.WebTrigger[0].Function = "x"
	err := m.Validate()
	for _, want := range []string{"app.id is required", `"x" is not a declared function`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, missing %q", err, want)
		}
	}
}

func TestEgressAllowed(t *testing.T) {
	m := validManifest() // api.telegram.org and *.atlassian.net
	tests := []struct {
		host string
		want bool
	}{
		{"api.telegram.org", true},
		{"API.Telegram.ORG", true},
		{"api.telegram.org.", true},
		{"api.telegram.org..", false},
		{"telegram.org", false},
		{"evil.api.telegram.org", false},
		{"api.telegram.org.evil.com", false},
		{"apitelegram.org", false},
		{"example.atlassian.net", true},
		{"EXAMPLE.Atlassian.net.", true},
		{"atlassian.net", false},            // the parent of a wildcard
		{"a.b.atlassian.net", false},        // a wildcard stands for one label
		{"evilatlassian.net", false},        // not a label boundary
		{".atlassian.net", false},           // empty label
		{"api.telegram.org:443", false},     // port
		{"https://api.telegram.org", false}, // scheme
		{"api.telegram.org/bot", false},     // path
		{"user@api.telegram.org", false},    // user information
		{"", false},
		{"127.0.0.1", false},
		{"2130706433", false},
		{"0x7f000001", false},
		{"[::1]", false},
		{"::ffff:127.0.0.1", false},
		{"api.telegram.\u212Arg", false}, // non-ASCII (Kelvin sign) is not folded into ASCII
		{"xn--api.telegram.org", false},
		{"-api.telegram.org", false},
		{"api.telegram.org\x00.evil.com", false},
		{"api%2etelegram.org", false},
	}
	for _, tt := range tests {
		if got := m.EgressAllowed(tt.host); got != tt.want {
			t.Errorf("EgressAllowed(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
	if (&Manifest{}).EgressAllowed("api.telegram.org") {
		t.Error("a manifest without backends allows egress")
	}
}

// A backend address allows its own port, 443 when it names none, and no
// other (issue 22, item 3: a declared host was reachable on any port).
func TestEgressAllowedAt_ThePortIsPartOfTheAllowlist(t *testing.T) {
	m := validManifest()
	m.Permissions.External.Fetch.Backend = []Backend{{Address: "api.telegram.org"}, {Address: "hooks.example.com:8443"}, {Address: "*.example.net:9000"}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host string
		port int
		want bool
	}{
		{"api.telegram.org", 443, true},
		{"api.telegram.org", 8443, false},
		{"api.telegram.org", 80, false},
		{"api.telegram.org", 0, false},
		{"hooks.example.com", 8443, true},
		{"hooks.example.com", 443, false},
		{"a.example.net", 9000, true},
		{"a.example.net", 443, false},
	} {
		if got := m.EgressAllowedAt(tt.host, tt.port); got != tt.want {
			t.Errorf("EgressAllowedAt(%q, %d) = %v, want %v", tt.host, tt.port, got, tt.want)
		}
	}
}

func TestBackend_WildcardIsRecorded(t *testing.T) {
	for _, tt := range []struct {
		address string
		want    bool
	}{{"*.atlassian.net", true}, {"api.telegram.org", false}} {
		if got := (Backend{Address: tt.address}).Wildcard(); got != tt.want {
			t.Errorf("Wildcard(%q) = %v, want %v", tt.address, got, tt.want)
		}
	}
}

func TestHasCapability(t *testing.T) {
	m := validManifest() // storage, fetch
	for _, tt := range []struct {
		name string
		want bool
	}{{CapabilityStorage, true}, {CapabilityFetch, true}, {CapabilitySecrets, false}, {CapabilityQueue, false}, {"Storage", false}, {"", false}} {
		if got := m.HasCapability(tt.name); got != tt.want {
			t.Errorf("HasCapability(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestManifest_RuntimeLimits(t *testing.T) {
	tests := []struct {
		name    string
		runtime Runtime
		pages   uint32
		timeout map[Kind]time.Duration
	}{
		{
			name:  "defaults",
			pages: 1024, // 64 MiB
			timeout: map[Kind]time.Duration{
				KindWebTrigger: 25 * time.Second, KindTrigger: 25 * time.Second, KindConsumer: 25 * time.Second,
				KindScheduledTrigger: 25 * time.Second, KindFunction: 25 * time.Second,
			},
		},
		{
			name:    "maximum",
			runtime: Runtime{MemoryMiB: 512, TimeoutSeconds: 900},
			pages:   8192,
			timeout: map[Kind]time.Duration{
				KindWebTrigger: 55 * time.Second, KindTrigger: 25 * time.Second, KindConsumer: 900 * time.Second,
				KindScheduledTrigger: 25 * time.Second, KindFunction: 25 * time.Second, Kind("unknown"): 25 * time.Second,
			},
		},
		{
			name:    "small",
			runtime: Runtime{MemoryMiB: 1, TimeoutSeconds: 5},
			pages:   16,
			timeout: map[Kind]time.Duration{KindWebTrigger: 5 * time.Second, KindConsumer: 5 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manifest{App: App{Runtime: tt.runtime}}
			if got := m.MemoryPages(); got != tt.pages {
				t.Errorf("MemoryPages = %d, want %d", got, tt.pages)
			}
			for kind, want := range tt.timeout {
				if got := m.Timeout(kind); got != want {
					t.Errorf("Timeout(%s) = %v, want %v", kind, got, want)
				}
			}
		})
	}
}

func TestParseManifest_TreatsEmptyListsAsAbsent(t *testing.T) {
	m, err := ParseManifest([]byte("app: {id: \"ari:cloud:ecosystem::app/x\"}\nmodules: {webtrigger: []}\npermissions: {scopes: [], capabilities: []}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Modules.WebTrigger != nil || m.Permissions.Scopes != nil || m.Permissions.Capabilities != nil {
		t.Errorf("empty lists decoded as non-nil: %+v", m)
	}
}

// handler: is a label (the host dispatches by module kind): a manifest
// without one loads, and one with control characters still does not.
func TestValidate_FunctionHandlerIsOptional(t *testing.T) {
	m := validManifest()
	m.Modules.Function[0].Handler = ""
	if err := m.Validate(); err != nil {
		t.Fatalf("a function without a handler: %v", err)
	}
	raw := "app:\n  id: \"ari:cloud:ecosystem::app/x\"\nmodules:\n  webtrigger:\n    - key: hook\n      function: main\n  function:\n    - key: main\npermissions:\n  capabilities: [storage]\n"
	if _, err := ParseManifest([]byte(raw)); err != nil {
		t.Fatalf("ParseManifest without handler: %v", err)
	}
}

func TestNeedsJiraSite(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(m *Manifest)
		want bool
	}{
		{"storage, fetch, queue and a schedule only", func(m *Manifest) {
			m.Modules.Trigger = nil
			m.Permissions.Scopes = []string{ScopeStorage}
			m.Permissions.Capabilities = []string{CapabilityStorage, CapabilityQueue, CapabilityFetch}
		}, false},
		{"no scopes at all", func(m *Manifest) { m.Modules.Trigger = nil; m.Permissions.Scopes = nil }, false},
		{"a Jira scope", func(m *Manifest) { m.Modules.Trigger = nil; m.Permissions.Scopes = []string{"read:jira-work"} }, true},
		{"a JSM scope", func(m *Manifest) {
			m.Modules.Trigger = nil
			m.Permissions.Scopes = []string{"read:servicedesk-request"}
		}, true},
		{"the jira capability", func(m *Manifest) {
			m.Modules.Trigger = nil
			m.Permissions.Scopes = nil
			m.Permissions.Capabilities = []string{CapabilityJira}
		}, true},
		{"a Jira event trigger", func(m *Manifest) { m.Permissions.Scopes = nil }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := validManifest()
			tt.edit(m)
			if got := m.NeedsJiraSite(); got != tt.want {
				t.Fatalf("NeedsJiraSite = %v, want %v", got, tt.want)
			}
		})
	}
}
