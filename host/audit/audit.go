package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/wit/abi"
	"github.com/chatbridge/chatbridge/wit/jirascopes"
)

// Severity of a finding.
type Severity string

const (
	// Fail makes the report fail.
	Fail Severity = "fail"
	// Warn is shown but does not fail the report.
	Warn Severity = "warn"
)

// Finding is one check's result.
type Finding struct {
	Severity Severity `json:"severity"`
	Check    string   `json:"check"`
	Message  string   `json:"message"`
}

// Signature is the signature part of a report.
type Signature struct {
	Signer     string `json:"signer"`     // the signing key's fingerprint
	SignerName string `json:"signerName"` // the trust entry's name for it; empty when none
	// SignedAt is the signing time (RFC 3339) the signature covers, once
	// verified; empty for a version 1 signature or an unverified one.
	SignedAt string `json:"signedAt"`
	Trusted  bool   `json:"trusted"`
	Revoked  bool   `json:"revoked"`
	Ed25519  string `json:"ed25519"`
	MLDSA65  string `json:"mldsa65"`
}

// Permissions are what the manifest declares.
type Permissions struct {
	AppID          string            `json:"appId"`
	Capabilities   []string          `json:"capabilities"`
	Egress         []string          `json:"egress"`      // addresses as the manifest writes them
	EgressPorts    []string          `json:"egressPorts"` // the same as host:port (443 unless written)
	Links          []string          `json:"links"`       // hosts the module writes as links for people: no egress
	Scopes         []string          `json:"scopes"`
	MemoryMiB      int               `json:"memoryMiB"`
	TimeoutSeconds map[string]int    `json:"timeoutSeconds"`
	Modules        map[string]string `json:"modules"` // module key -> kind
}

// Limits are the module's own declared limits, in 64 KiB pages and elements.
type Limits struct {
	MemoryMinPages uint32  `json:"memoryMinPages"`
	MemoryMaxPages *uint32 `json:"memoryMaxPages"`
	Tables         []Table `json:"tables"`
}

// Table is one table's limits.
type Table struct {
	Min uint32  `json:"min"`
	Max *uint32 `json:"max"`
}

// Build is what the module says it was built from.
type Build struct {
	GoVersion  string       `json:"goVersion"` // from the producers section; Unknown without one
	Path       string       `json:"path"`      // the main package
	Main       Dependency   `json:"main"`      // the main module
	Deps       []Dependency `json:"deps"`
	Settings   []string     `json:"settings"` // key=value, as recorded
	Provenance *Provenance  `json:"provenance"`
}

// Dependency is one module the plugin was built with.
type Dependency struct {
	Path    string      `json:"path"`
	Version string      `json:"version"`
	Sum     string      `json:"sum,omitempty"`
	Replace *Dependency `json:"replace,omitempty"` // the module used in its place
}

// Used is the module whose code the build used: the replacement if any.
func (d Dependency) Used() Dependency {
	if d.Replace != nil {
		return *d.Replace
	}
	return d
}

// String is "path version", with " => path version" for a replacement.
func (d Dependency) String() string {
	s := d.Path + " " + d.Version
	if d.Replace != nil {
		s += " => " + strings.TrimSpace(d.Replace.Path+" "+d.Replace.Version)
	}
	return s
}

// Report is the audit of one bundle.
type Report struct {
	Bundle       string              `json:"bundle"`
	BundleSHA256 string              `json:"bundleSha256"` // SHA-256 of the manifest's and the module's SHA-256
	ModuleSHA256 string              `json:"moduleSha256"`
	ModuleBytes  int                 `json:"moduleBytes"`
	Signature    Signature           `json:"signature"`
	Imports      map[string][]string `json:"imports"` // capability (or "wasi", "unknown") -> functions
	Exports      []string            `json:"exports"`
	Permissions  Permissions         `json:"permissions"`
	Limits       Limits              `json:"limits"`
	Build        *Build              `json:"build"`
	EgressUsed   []string            `json:"egressUsed"` // hosts of https URLs found in the module's data
	// LinksUsed are the hosts of https URLs in the module's data that the
	// manifest declares in permissions.external.links: text the module
	// writes for people to open, which grants no egress. A host goes here
	// or in EgressUsed, never both.
	LinksUsed []string `json:"linksUsed"`
	// EgressCannotTell is set when the module imports fetch: a URL it
	// builds at run time is invisible to the audit, so EgressUsed may be
	// incomplete (the host's allowlist still holds every call).
	EgressCannotTell bool `json:"egressCannotTell"`
	// VulnDB and Vulns are set by CheckVulns.
	VulnDB   *VulnDBInfo `json:"vulnDB,omitempty"`
	Vulns    []Vuln      `json:"vulns,omitempty"`
	Findings []Finding   `json:"findings"`
}

// Failed reports whether any finding is a failure.
func (r *Report) Failed() bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Severity == Fail })
}

func (r *Report) add(s Severity, check, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{s, check, fmt.Sprintf(format, args...)})
}

// urlRE finds https URLs with a literal host in module data.
var urlRE = regexp.MustCompile(`https://([a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+)`)

// toolchainHosts appear in the Go runtime's and standard library's own
// messages (links to issues and docs) in every Go module; they are not
// egress the module performs.
var toolchainHosts = map[string]bool{"go.dev": true, "golang.org": true, "pkg.go.dev": true}

// The egress check is a heuristic: it sees URLs the module's code names
// literally (https://api.telegram.org/bot...), not hosts it assembles at run
// time; the host's allowlist still refuses those at call time.

// Run audits the bundle in dir against trust. It fails only when the bundle
// cannot be read at all; everything else is a finding.
func Run(ctx context.Context, dir string, trust *bundle.Trust) (*Report, error) {
	in, err := bundle.Inspect(dir, trust)
	if err != nil {
		return nil, err
	}
	r := &Report{
		Bundle:       dir,
		ModuleSHA256: in.ModuleSHA256,
		ModuleBytes:  in.ModuleSize,
		Signature: Signature{Signer: in.Signer, SignerName: in.SignerName, Trusted: in.Trusted, Revoked: in.Revoked,
			Ed25519: string(in.Ed25519), MLDSA65: string(in.MLDSA65)},
		Imports: map[string][]string{},
	}
	if !in.SignedAt.IsZero() {
		r.Signature.SignedAt = in.SignedAt.UTC().Format(time.RFC3339)
	}
	sum := sha256.Sum256([]byte(in.ManifestSHA256 + in.ModuleSHA256))
	r.BundleSHA256 = hex.EncodeToString(sum[:])
	if in.Err != nil {
		r.add(Fail, "signature", "the host would refuse this bundle: %v", in.Err)
	}
	if in.Manifest == nil {
		r.add(Fail, "manifest", "the manifest does not decode: %v", in.ManifestErr)
		return r, nil
	}
	m := in.Manifest
	r.Permissions = permissions(m)
	for _, b := range m.Permissions.External.Fetch.Backend {
		if b.Wildcard() {
			r.add(Warn, "egress", "egress host %s is a wildcard", b.Address)
		}
	}

	module, err := readModule(dir)
	if err != nil {
		return nil, err
	}
	r.Build = buildInfo(module)
	if r.Build == nil {
		r.add(Warn, "build", "the module carries no Go build information")
	}
	r.Limits, err = limits(module)
	if err != nil {
		r.add(Fail, "module", "the module's sections do not decode: %v", err)
	} else if need, allowed := r.Limits.MemoryMinPages, m.MemoryPages(); need > allowed {
		// The host caps memory at memoryMiB and would fail every start.
		r.add(Fail, "memory", "the module needs %d pages (%.1f MiB) of memory to start but the manifest allows %d MiB (app.runtime.memoryMiB)",
			need, float64(need)/16, allowed/16)
	}
	// The interpreter only decodes and validates: the audit runs nothing.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, module)
	if err != nil {
		r.add(Fail, "module", "the module does not compile: %v", err)
		return r, nil
	}
	imported := map[string]bool{}
	for _, fd := range cm.ImportedFunctions() {
		mod, name, _ := fd.Import()
		group := abi.CapabilityOf(mod)
		switch {
		case mod == "wasi_snapshot_preview1":
			group = "wasi"
		case mod == abi.ModuleABI:
			group = "abi"
		case group == "":
			group = "unknown"
			r.add(Fail, "imports", "%s.%s is not provided by the host", mod, name)
		default:
			imported[group] = true
		}
		r.Imports[group] = append(r.Imports[group], name)
	}
	for g := range r.Imports {
		sort.Strings(r.Imports[g])
		r.Imports[g] = slices.Compact(r.Imports[g])
	}
	for name := range cm.ExportedFunctions() {
		r.Exports = append(r.Exports, name)
	}
	sort.Strings(r.Exports)
	for c := range imported {
		if !m.HasCapability(c) {
			r.add(Fail, "capabilities", "the module imports %s but the manifest does not declare it", c)
		}
	}
	for _, c := range m.Permissions.Capabilities {
		if !imported[c] {
			r.add(Warn, "capabilities", "the manifest declares %s but the module never imports it", c)
		}
	}
	seen := map[string]bool{}
	for _, match := range urlRE.FindAllSubmatch(module, -1) {
		host := strings.ToLower(string(match[1]))
		if seen[host] {
			continue
		}
		seen[host] = true
		if toolchainHosts[host] {
			continue
		}
		switch {
		case m.EgressAllowed(host):
			r.EgressUsed = append(r.EgressUsed, host)
		case m.LinkDeclared(host):
			// Declared as text for people; fetch still refuses it.
			r.LinksUsed = append(r.LinksUsed, host)
		default:
			r.EgressUsed = append(r.EgressUsed, host)
			r.add(Fail, "egress", "the module contains https://%s but the manifest does not allow egress to it (a host the module only writes as a link for people belongs in permissions.external.links)", host)
		}
	}
	sort.Strings(r.EgressUsed)
	sort.Strings(r.LinksUsed)
	for _, l := range m.Permissions.External.Links {
		if !seen[strings.ToLower(l)] {
			r.add(Warn, "links", "the manifest declares %s as a link but the module never contains https://%s", l, l)
		}
	}
	r.EgressCannotTell = imported[bundle.CapabilityFetch]
	r.checkScopes(m, imported)
	return r, nil
}

// checkScopes fails a scope no Jira or JSM operation accepts: the host
// grants nothing for it, so it is a promise the host cannot keep (or a
// misspelling that leaves every call needing the real scope denied).
// storage:app is Forge's scope for the storage API, which a Forge app
// declares; this host gates storage by the storage capability, so the
// scope is accepted and promises nothing more.
func (r *Report) checkScopes(m *bundle.Manifest, imported map[string]bool) {
	jiraScopes := 0
	for _, s := range m.Permissions.Scopes {
		if s == bundle.ScopeStorage {
			continue
		}
		jiraScopes++
		if !jirascopes.Known(s) {
			r.add(Fail, "scopes", "permissions.scopes declares %s, which no Jira or JSM operation in the specifications accepts: the host grants nothing for it", s)
		}
	}
	if jiraScopes > 0 && !imported[bundle.CapabilityJira] {
		r.add(Warn, "scopes", "the manifest declares scopes but the module never imports jira")
	}
}

func permissions(m *bundle.Manifest) Permissions {
	p := Permissions{
		AppID:          m.App.ID,
		Capabilities:   m.Permissions.Capabilities,
		Scopes:         m.Permissions.Scopes,
		MemoryMiB:      int(m.MemoryPages() / 16),
		TimeoutSeconds: map[string]int{},
		Modules:        map[string]string{},
	}
	for _, b := range m.Permissions.External.Fetch.Backend {
		p.Egress = append(p.Egress, b.Address)
		p.EgressPorts = append(p.EgressPorts, fmt.Sprintf("%s:%d", strings.ToLower(b.Host()), b.Port()))
	}
	for _, l := range m.Permissions.External.Links {
		p.Links = append(p.Links, strings.ToLower(l))
	}
	for _, k := range []bundle.Kind{bundle.KindWebTrigger, bundle.KindTrigger, bundle.KindConsumer, bundle.KindScheduledTrigger, bundle.KindFunction} {
		p.TimeoutSeconds[string(k)] = int(m.Timeout(k).Seconds())
	}
	for _, w := range m.Modules.WebTrigger {
		p.Modules[w.Key] = string(bundle.KindWebTrigger)
	}
	for _, t := range m.Modules.Trigger {
		p.Modules[t.Key] = string(bundle.KindTrigger) + " " + strings.Join(t.Events, ",")
	}
	for _, c := range m.Modules.Consumer {
		p.Modules[c.Key] = string(bundle.KindConsumer) + " queue " + c.Queue
	}
	for _, s := range m.Modules.ScheduledTrigger {
		p.Modules[s.Key] = string(bundle.KindScheduledTrigger) + " " + s.Interval
	}
	for _, f := range m.Modules.Function {
		p.Modules[f.Key] = string(bundle.KindFunction)
	}
	return p
}
