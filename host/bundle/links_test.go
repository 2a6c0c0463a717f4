package bundle

import (
	"errors"
	"strings"
	"testing"
)

// permissions.external.links names hosts the module writes as links for
// people; it is checked as strictly as a backend address, and more: one
// host, no port, not also a backend.
func TestValidate_LinksAreHostNames(t *testing.T) {
	ok := validManifest()
	ok.Permissions.External.Links = []string{"www.openstreetmap.org", "maps.example.com"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("two link hosts: %v", err)
	}
	tests := []struct {
		name  string
		links []string
		want  string
	}{
		{"not empty", []string{""}, `permissions.external.links[0] "" is empty`},
		{"without scheme", []string{"https://www.openstreetmap.org"}, "without a scheme"},
		{"without path", []string{"www.openstreetmap.org/"}, "without a path"},
		{"without query", []string{"www.openstreetmap.org?mlat=1"}, "without a path"},
		{"without user", []string{"me@www.openstreetmap.org"}, "without user information"},
		{"not IPv4", []string{"10.0.0.1"}, "not an IP address"},
		{"not short IPv4", []string{"127.1"}, "not an IP address"},
		{"not IPv6", []string{"[::1]"}, "not an IP address"},
		{"ASCII", []string{"karte.bücher.example"}, "use the xn-- form"},
		{"two labels", []string{"localhost"}, "at least two labels"},
		{"without trailing dot", []string{"www.openstreetmap.org."}, "without a trailing dot"},
		{"no wildcard", []string{"*.openstreetmap.org"}, `permissions.external.links[0] "*.openstreetmap.org" must name one host`},
		{"no port", []string{"www.openstreetmap.org:443"}, "must be a host name without a port"},
		{"listed once", []string{"www.openstreetmap.org", "WWW.openstreetmap.org"}, `permissions.external.links[1] "WWW.openstreetmap.org" is listed twice`},
		{"not also a backend", []string{"API.telegram.org"}, `permissions.external.links[0] "API.telegram.org" is an egress host of permissions.external.fetch.backend`},
		{"not under a backend wildcard", []string{"jira.atlassian.net"}, "is an egress host of permissions.external.fetch.backend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validManifest()
			m.Permissions.External.Links = tt.links
			err := m.Validate()
			if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v\nwant ErrInvalidManifest containing %q", err, tt.want)
			}
		})
	}
}

// A link host is declared, case-insensitively, and grants no egress on
// any port: the host's fetch check (EgressAllowedAt) still refuses it.
func TestLinks_GrantNoEgress(t *testing.T) {
	m, err := ParseManifest([]byte(`app: {id: "ari:cloud:ecosystem::app/x"}
permissions:
  capabilities: [fetch]
  external:
    fetch:
      backend: [{address: api.telegram.org}]
    links: [www.openstreetmap.org]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"www.openstreetmap.org", "WWW.OpenStreetMap.org", "www.openstreetmap.org."} {
		if !m.LinkDeclared(h) {
			t.Errorf("LinkDeclared(%q) = false", h)
		}
		if m.EgressAllowed(h) {
			t.Errorf("EgressAllowed(%q) = true for a links-only host", h)
		}
		for _, port := range []int{443, 80, 8443} {
			if m.EgressAllowedAt(h, port) {
				t.Errorf("EgressAllowedAt(%q, %d) = true for a links-only host", h, port)
			}
		}
	}
	for _, h := range []string{"openstreetmap.org", "tile.openstreetmap.org", "api.telegram.org", "www.openstreetmap.org:443", ""} {
		if m.LinkDeclared(h) {
			t.Errorf("LinkDeclared(%q) = true", h)
		}
	}
	if !m.EgressAllowedAt("api.telegram.org", 443) {
		t.Error("the backend is no longer allowed beside a links list")
	}
}

func TestParseManifest_LinksDecodeStrictly(t *testing.T) {
	const head = "app: {id: \"ari:cloud:ecosystem::app/x\"}\npermissions:\n  external:\n"
	if _, err := ParseManifest([]byte(head + "    links: [{host: www.openstreetmap.org}]\n")); !errors.Is(err, ErrInvalidManifest) {
		t.Errorf("a links entry that is not a string: %v", err)
	}
	if _, err := ParseManifest([]byte(head + "    navigation: [www.openstreetmap.org]\n")); err == nil || !strings.Contains(err.Error(), `unknown field "navigation" in permissions.external`) {
		t.Errorf("an unknown key beside links: %v", err)
	}
	m, err := ParseManifest([]byte(head + "    links: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Permissions.External.Links != nil {
		t.Errorf("an empty links list decoded as %#v, want nil", m.Permissions.External.Links)
	}
}
