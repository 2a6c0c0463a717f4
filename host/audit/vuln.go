package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrVulnDB: the vulnerability database folder cannot be used.
var ErrVulnDB = errors.New("audit: vulnerability database")

// maxOSVRecord bounds one record file; real ones are a few KiB.
const maxOSVRecord = 4 << 20

// OSV is one vulnerability record in the OSV schema, with the members the
// check reads (https://ossf.github.io/osv-schema/).
type OSV struct {
	ID        string        `json:"id"`
	Modified  string        `json:"modified"`
	Withdrawn string        `json:"withdrawn"`
	Aliases   []string      `json:"aliases"`
	Summary   string        `json:"summary"`
	Affected  []OSVAffected `json:"affected"`
}

// OSVAffected is one affected package and its version ranges.
type OSVAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges   []OSVRange `json:"ranges"`
	Versions []string   `json:"versions"`
}

// OSVRange is one range; only SEMVER (and, for Go, ECOSYSTEM, which is
// the same version syntax) ranges are read.
type OSVRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced   string `json:"introduced,omitempty"`
		Fixed        string `json:"fixed,omitempty"`
		LastAffected string `json:"last_affected,omitempty"`
		Limit        string `json:"limit,omitempty"`
	} `json:"events"`
}

// VulnDB is a set of OSV records read from a local folder.
type VulnDB struct {
	Dir     string
	Records []OSV
	Newest  string // the latest "modified" of any record, for the report
}

// Vuln is one record that affects a module of the plugin.
type Vuln struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	Module  string   `json:"module"` // module path, or "stdlib" for the Go version
	Version string   `json:"version"`
	Fixed   string   `json:"fixed,omitempty"` // the first fixed version after Version, if any
	Summary string   `json:"summary,omitempty"`
}

// LoadVulnDB reads every *.json file under dir (recursively; an "index"
// folder, where vuln.go.dev's layout keeps its indexes, is skipped). Each
// must be an OSV record with an id: a file that is not fails the load, since
// skipping it would hide what it reports. A folder without records fails
// too, so that a wrong path cannot pass as "no known vulnerabilities".
func LoadVulnDB(dir string) (*VulnDB, error) {
	db := &VulnDB{Dir: dir}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && d.Name() == "index" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() || info.Size() > maxOSVRecord {
			return fmt.Errorf("%w: %s is not a regular file of at most %d bytes", ErrVulnDB, path, maxOSVRecord)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var rec OSV
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("%w: %s is not an OSV record: %w", ErrVulnDB, path, err)
		}
		if rec.ID == "" {
			return fmt.Errorf("%w: %s is not an OSV record: no id", ErrVulnDB, path)
		}
		db.Records = append(db.Records, rec)
		if rec.Modified > db.Newest {
			db.Newest = rec.Modified
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrVulnDB) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrVulnDB, err)
	}
	if len(db.Records) == 0 {
		return nil, fmt.Errorf("%w: %s holds no OSV records (*.json)", ErrVulnDB, dir)
	}
	sort.Slice(db.Records, func(i, j int) bool { return db.Records[i].ID < db.Records[j].ID })
	return db, nil
}

// Check returns the records that affect a module of b at the version the
// build used (a replacement's, when replaced), and the standard library at
// b's Go version ("stdlib", as the Go vulnerability database names it).
// The check is by module version, not by symbol: a record may name code the
// plugin never calls (govulncheck tells those apart; it needs the source).
func (db *VulnDB) Check(b *Build) []Vuln {
	type mod struct{ path, version string }
	var mods []mod
	for _, d := range b.Deps {
		u := d.Used()
		mods = append(mods, mod{u.Path, u.Version})
	}
	if v, ok := strings.CutPrefix(b.GoVersion, "go"); ok {
		mods = append(mods, mod{"stdlib", v})
	}
	var out []Vuln
	for _, rec := range db.Records {
		if rec.Withdrawn != "" {
			continue
		}
		for _, m := range mods {
			for _, a := range rec.Affected {
				if a.Package.Ecosystem != "Go" || a.Package.Name != m.path {
					continue
				}
				if hit, fixed := affects(a, m.version); hit {
					out = append(out, Vuln{ID: rec.ID, Aliases: rec.Aliases, Module: m.path, Version: m.version, Fixed: fixed, Summary: rec.Summary})
					break
				}
			}
		}
	}
	return out
}

// affects evaluates a's ranges for version as the OSV schema says
// (events sorted by version; introduced opens, fixed and limit close at
// their version, last_affected closes after its version), and a's explicit
// versions list. It returns the fixed version that closes the hit range.
func affects(a OSVAffected, version string) (bool, string) {
	v, ok := parseSemver(version)
	if !ok {
		return false, ""
	}
	for _, listed := range a.Versions {
		if l, ok := parseSemver(listed); ok && compareSemver(l, v) == 0 {
			return true, ""
		}
	}
	for _, r := range a.Ranges {
		if r.Type != "SEMVER" && r.Type != "ECOSYSTEM" {
			continue
		}
		type event struct {
			kind string
			at   semver
		}
		var events []event
		for _, e := range r.Events {
			for kind, s := range map[string]string{"introduced": e.Introduced, "fixed": e.Fixed, "last_affected": e.LastAffected, "limit": e.Limit} {
				if s == "" {
					continue
				}
				at, ok := parseSemver(s)
				if !ok {
					continue
				}
				events = append(events, event{kind, at})
			}
		}
		sort.SliceStable(events, func(i, j int) bool { return compareSemver(events[i].at, events[j].at) < 0 })
		affected := false
		for i, e := range events {
			c := compareSemver(v, e.at)
			switch {
			case e.kind == "introduced" && c >= 0:
				affected = true
			case (e.kind == "fixed" || e.kind == "limit") && c >= 0:
				affected = false
			case e.kind == "last_affected" && c > 0:
				affected = false
			}
			if c < 0 {
				if affected {
					fixed := ""
					for _, later := range events[i:] {
						if later.kind == "fixed" {
							fixed = later.at.raw
							break
						}
					}
					return true, fixed
				}
				break
			}
		}
		if affected {
			return true, ""
		}
	}
	return false, ""
}

// semver is a parsed semantic version (a leading "v" allowed, as Go
// module versions have it; "0" is the OSV's "since the beginning").
type semver struct {
	raw   string
	major []int // major, minor, patch
	pre   []string
	zero  bool // "0": below every version, pre-releases and pseudo-versions included
}

func parseSemver(s string) (semver, bool) {
	raw := s
	s = strings.TrimPrefix(s, "v")
	if s == "0" {
		return semver{raw: raw, major: []int{0, 0, 0}, zero: true}, true
	}
	s, _, _ = strings.Cut(s, "+") // build metadata does not order
	core, pre, hasPre := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return semver{}, false
	}
	v := semver{raw: raw}
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return semver{}, false
		}
		v.major = append(v.major, n)
	}
	if hasPre {
		v.pre = strings.Split(pre, ".")
	}
	return v, true
}

// compareSemver orders as semver 2.0.0 §11.
func compareSemver(a, b semver) int {
	switch {
	case a.zero && b.zero:
		return 0
	case a.zero:
		return -1
	case b.zero:
		return 1
	}
	for i := range 3 {
		if a.major[i] != b.major[i] {
			return cmpInt(a.major[i], b.major[i])
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		xn, xerr := strconv.Atoi(x)
		yn, yerr := strconv.Atoi(y)
		switch {
		case xerr == nil && yerr == nil:
			if xn != yn {
				return cmpInt(xn, yn)
			}
		case xerr == nil:
			return -1
		case yerr == nil:
			return 1
		case x != y:
			return strings.Compare(x, y)
		}
	}
	return cmpInt(len(a.pre), len(b.pre))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CheckVulns checks the report's modules against db: each record that
// affects one is a failure naming its OSV id. A report without build
// information cannot be checked, which is a failure too.
func (r *Report) CheckVulns(db *VulnDB) {
	r.VulnDB = &VulnDBInfo{Dir: db.Dir, Records: len(db.Records), Newest: db.Newest}
	if r.Build == nil {
		r.add(Fail, "vulns", "the module carries no build information: its modules cannot be checked against %s", db.Dir)
		return
	}
	r.Vulns = db.Check(r.Build)
	for _, v := range r.Vulns {
		fixed := "no fixed version"
		if v.Fixed != "" {
			fixed = "fixed in " + v.Fixed
		}
		id := v.ID
		if len(v.Aliases) > 0 {
			id += " (" + strings.Join(v.Aliases, ", ") + ")"
		}
		r.add(Fail, "vulns", "%s %s is affected by %s, %s: %s", v.Module, v.Version, id, fixed, v.Summary)
	}
}

// VulnDBInfo says which database a report was checked against.
type VulnDBInfo struct {
	Dir     string `json:"dir"`
	Records int    `json:"records"`
	Newest  string `json:"newest"` // the latest "modified" of its records
}
