package audit

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Unknown is what the report says for anything the module does not record.
const Unknown = "unknown"

// Provenance is where the module says it came from, and the command that
// rebuilds it byte for byte when the module records enough to tell.
type Provenance struct {
	// VCS, Commit, CommitTime and Modified come from Go's VCS stamp
	// (vcs, vcs.revision, vcs.time, vcs.modified); Unknown when the build
	// did not stamp one (-buildvcs=false, a git worktree, or no checkout).
	VCS        string `json:"vcs"`
	Commit     string `json:"commit"`
	CommitTime string `json:"commitTime"`
	Modified   string `json:"modified"` // "true", "false" or Unknown
	// Flags are the go build flags the module records (-buildmode,
	// -trimpath, -tags, -gcflags, ...), Env its build environment (GOOS,
	// GOARCH, CGO_ENABLED, ...), in the order recorded.
	Flags []string `json:"flags"`
	Env   []string `json:"env"`
	// LDFlags are the linker flags: as recorded, or, when Go did not record
	// them (it never does under -trimpath), what the module shows: no
	// go:buildid section means -buildid=, no name section means -s.
	LDFlags         string `json:"ldflags"`
	LDFlagsRecorded bool   `json:"ldflagsRecorded"`
	// Package is the main package, relative to the main module's root.
	Package string `json:"package"`
	// Reproduce is the build command, to run in a checkout of the main
	// module at Commit; ByteForByte says whether the module records
	// everything that command needs, and Caveats what it lacks.
	Reproduce   string   `json:"reproduce"`
	ByteForByte bool     `json:"byteForByte"`
	Caveats     []string `json:"caveats"`
}

// Settings that are not build flags or environment: Go derives them (or
// the VCS stamp) and the command need not, or must not, set them.
var derivedSettings = map[string]bool{"DefaultGODEBUG": true, "-compiler": true}

// envSettingRE matches the build environment settings Go records.
var envSettingRE = regexp.MustCompile(`^(CGO_[A-Z]+|GO[A-Z0-9]+)$`)

// flagSettings are the go build flags Go records, as "-name".
var flagSettings = map[string]bool{"-buildmode": true, "-trimpath": true, "-tags": true, "-gcflags": true,
	"-asmflags": true, "-ldflags": true, "-race": true, "-msan": true, "-asan": true, "-pgo": true, "-cover": true}

// provenance reads the VCS stamp and build settings of b and the module's
// custom sections, and writes the command that rebuilds it.
func provenance(b *Build, settings [][2]string, module []byte) *Provenance {
	p := &Provenance{VCS: Unknown, Commit: Unknown, CommitTime: Unknown, Modified: Unknown}
	trimpath := false
	for _, s := range settings {
		k, v := s[0], s[1]
		switch {
		case k == "vcs":
			p.VCS = v
		case k == "vcs.revision":
			p.Commit = v
		case k == "vcs.time":
			p.CommitTime = v
		case k == "vcs.modified":
			p.Modified = v
		case derivedSettings[k]:
		case k == "-ldflags":
			p.LDFlags, p.LDFlagsRecorded = v, true
		case k == "-trimpath":
			trimpath = v == "true"
			if trimpath {
				p.Flags = append(p.Flags, "-trimpath")
			}
		case k == "-race" || k == "-msan" || k == "-asan" || k == "-cover":
			if v == "true" {
				p.Flags = append(p.Flags, k)
			}
		case flagSettings[k]:
			p.Flags = append(p.Flags, k+"="+shellQuote(v))
		case envSettingRE.MatchString(k):
			p.Env = append(p.Env, k+"="+shellQuote(v))
		default:
			p.Caveats = append(p.Caveats, fmt.Sprintf("the module records a build setting this audit does not know (%s=%s); the rebuild may differ", k, v))
		}
	}
	if !p.LDFlagsRecorded {
		sections := customSections(module)
		var inferred []string
		if _, ok := sections["name"]; !ok {
			inferred = append(inferred, "-s")
		}
		if _, ok := sections["go:buildid"]; !ok {
			inferred = append(inferred, "-buildid=")
		}
		p.LDFlags = strings.Join(inferred, " ")
		if trimpath {
			p.Caveats = append(p.Caveats, "Go does not record -ldflags under -trimpath (go.dev/issue/52372); "+
				"the ones above are read from the module (no go:buildid section: -buildid=; no name section: -s), and a -X it was built with is invisible")
		}
	}
	if p.LDFlags != "" {
		p.Flags = append(p.Flags, "-ldflags="+shellQuote(p.LDFlags))
	}
	p.Package = "."
	if rest, ok := strings.CutPrefix(b.Path, b.Main.Path); ok && b.Main.Path != "" && (rest == "" || rest[0] == '/') {
		p.Package = "." + rest
	} else {
		p.Package = b.Path
	}

	buildvcs := "-buildvcs=false"
	switch {
	case p.Commit == Unknown:
		p.Caveats = append(p.Caveats, "the module records no commit (built with -buildvcs=false, in a git worktree, or outside a git checkout): "+
			"rebuild from the same sources, outside a git checkout or with -buildvcs=false as below")
	case p.Modified == "true":
		p.Caveats = append(p.Caveats, "the module was built from a tree with uncommitted changes (vcs.modified=true): no checkout of the commit rebuilds it")
		buildvcs = "-buildvcs=true"
	default:
		buildvcs = "-buildvcs=true"
	}
	if b.GoVersion == Unknown {
		p.Caveats = append(p.Caveats, "the module does not name its Go version (no producers section): the toolchain cannot be pinned")
	}
	var cmd []string
	if b.GoVersion != Unknown {
		cmd = append(cmd, "GOTOOLCHAIN="+shellQuote(b.GoVersion))
	}
	cmd = append(cmd, p.Env...)
	// GOFLAGS is set whole, so that the reviewer's own (a go env file's
	// -buildvcs=false, say) cannot change the stamp.
	cmd = append(cmd, "GOFLAGS="+buildvcs, "go", "build")
	cmd = append(cmd, p.Flags...)
	cmd = append(cmd, "-o", "plugin.wasm", shellQuote(p.Package))
	p.Reproduce = strings.Join(cmd, " ")
	p.ByteForByte = b.GoVersion != Unknown && p.Commit != Unknown && p.Modified == "false" && p.onlyLDFlagsCaveat()
	return p
}

// onlyLDFlagsCaveat reports whether the only caveat is the unrecorded
// -ldflags, which the module's sections answer for the flags this project's
// builds use (-buildid=, -s).
func (p *Provenance) onlyLDFlagsCaveat() bool {
	for _, c := range p.Caveats {
		if !strings.HasPrefix(c, "Go does not record -ldflags") {
			return false
		}
	}
	return true
}

// shellQuote returns s as one POSIX shell word: unchanged when it holds only
// characters no shell interprets, else in single quotes. A module's build
// settings are the vendor's text; a reviewer may paste the command.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// customSections returns the payload of each custom section of module by
// name (the first of each name); nil when the sections do not decode.
func customSections(module []byte) map[string][]byte {
	if len(module) < 8 || !bytes.Equal(module[:4], []byte("\x00asm")) {
		return nil
	}
	out := map[string][]byte{}
	r := sectionReader{b: module[8:]}
	for len(r.b) > 0 {
		id, body, err := r.section()
		if err != nil {
			return nil
		}
		if id != 0 {
			continue
		}
		s := sectionReader{b: body}
		name, err := s.name()
		if err != nil {
			return nil
		}
		if _, ok := out[name]; !ok {
			out[name] = s.b
		}
	}
	return out
}

// goVersion reads the toolchain version from the producers section the Go
// linker writes (processed-by "Go cmd/compile" go1.26.8; the WebAssembly
// tool-conventions' producers format); Unknown without one.
func goVersion(module []byte) string {
	body, ok := customSections(module)["producers"]
	if !ok {
		return Unknown
	}
	r := sectionReader{b: body}
	fields, err := r.u32()
	if err != nil {
		return Unknown
	}
	var language string
	for range fields {
		field, err := r.name()
		if err != nil {
			return Unknown
		}
		n, err := r.u32()
		if err != nil {
			return Unknown
		}
		for range n {
			name, err := r.name()
			if err != nil {
				return Unknown
			}
			version, err := r.name()
			if err != nil {
				return Unknown
			}
			switch {
			case field == "processed-by" && name == "Go cmd/compile":
				return version
			case field == "language" && name == "Go":
				language = version
			}
		}
	}
	if language == "" {
		return Unknown
	}
	return language
}
