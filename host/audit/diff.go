package audit

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// Diff is what changed from one bundle's report to the next's, in what a
// reviewer re-approves: capabilities, egress (host:port), link hosts, scopes, memory,
// imports, exports and dependencies, plus who signed and what it was built
// from.
type Diff struct {
	Old          Side       `json:"old"`
	New          Side       `json:"new"`
	Capabilities SetChange  `json:"capabilities"`
	Egress       SetChange  `json:"egress"`     // host:port from the manifests
	EgressUsed   SetChange  `json:"egressUsed"` // https hosts the modules name
	Links        SetChange  `json:"links"`      // link hosts from the manifests
	LinksUsed    SetChange  `json:"linksUsed"`  // declared link hosts the modules name
	Scopes       SetChange  `json:"scopes"`
	Imports      SetChange  `json:"imports"` // capability.function
	Exports      SetChange  `json:"exports"`
	Memory       []Change   `json:"memory"` // memoryMiB and the module's minimum pages, when changed
	Deps         DepsChange `json:"deps"`
	Other        []Change   `json:"other"` // Go version, commit, signer, app id, when changed
}

// Side names one of the two bundles.
type Side struct {
	Bundle       string `json:"bundle"`
	ModuleSHA256 string `json:"moduleSha256"`
}

// SetChange is what a set gained and lost.
type SetChange struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
}

// Change is one value that changed.
type Change struct {
	What string `json:"what"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// DepsChange is what changed in the modules the build used.
type DepsChange struct {
	Added   []Dependency `json:"added"`
	Removed []Dependency `json:"removed"`
	Changed []Change     `json:"changed"` // What is the module path; Old and New its versions
}

// Empty reports whether nothing changed.
func (d *Diff) Empty() bool {
	for _, s := range []SetChange{d.Capabilities, d.Egress, d.EgressUsed, d.Links, d.LinksUsed, d.Scopes, d.Imports, d.Exports} {
		if len(s.Added)+len(s.Removed) > 0 {
			return false
		}
	}
	return len(d.Memory)+len(d.Deps.Added)+len(d.Deps.Removed)+len(d.Deps.Changed)+len(d.Other) == 0
}

// Compare returns what changed from old to new.
func Compare(old, new *Report) *Diff {
	d := &Diff{
		Old:          Side{old.Bundle, old.ModuleSHA256},
		New:          Side{new.Bundle, new.ModuleSHA256},
		Capabilities: setChange(old.Permissions.Capabilities, new.Permissions.Capabilities),
		Egress:       setChange(old.Permissions.EgressPorts, new.Permissions.EgressPorts),
		EgressUsed:   setChange(old.EgressUsed, new.EgressUsed),
		Links:        setChange(old.Permissions.Links, new.Permissions.Links),
		LinksUsed:    setChange(old.LinksUsed, new.LinksUsed),
		Scopes:       setChange(old.Permissions.Scopes, new.Permissions.Scopes),
		Imports:      setChange(importList(old), importList(new)),
		Exports:      setChange(old.Exports, new.Exports),
	}
	change := func(list *[]Change, what, o, n string) {
		if o != n {
			*list = append(*list, Change{what, o, n})
		}
	}
	change(&d.Memory, "memoryMiB", fmt.Sprint(old.Permissions.MemoryMiB), fmt.Sprint(new.Permissions.MemoryMiB))
	change(&d.Memory, "module minimum pages", fmt.Sprint(old.Limits.MemoryMinPages), fmt.Sprint(new.Limits.MemoryMinPages))
	change(&d.Other, "app", old.Permissions.AppID, new.Permissions.AppID)
	change(&d.Other, "signer", signerOf(old), signerOf(new))
	ob, nb := old.Build, new.Build
	if ob == nil {
		ob = &Build{GoVersion: Unknown}
	}
	if nb == nil {
		nb = &Build{GoVersion: Unknown}
	}
	change(&d.Other, "go", ob.GoVersion, nb.GoVersion)
	change(&d.Other, "main package", ob.Path, nb.Path)
	change(&d.Other, "commit", commitOf(ob), commitOf(nb))
	oldDeps := map[string]Dependency{}
	for _, dep := range ob.Deps {
		oldDeps[dep.Path] = dep
	}
	newDeps := map[string]bool{}
	for _, dep := range nb.Deps {
		newDeps[dep.Path] = true
		was, ok := oldDeps[dep.Path]
		switch {
		case !ok:
			d.Deps.Added = append(d.Deps.Added, dep)
		case was.String() != dep.String() || was.Used().Sum != dep.Used().Sum:
			d.Deps.Changed = append(d.Deps.Changed, Change{dep.Path, depVersion(was), depVersion(dep)})
		}
	}
	for _, dep := range ob.Deps {
		if !newDeps[dep.Path] {
			d.Deps.Removed = append(d.Deps.Removed, dep)
		}
	}
	return d
}

func depVersion(d Dependency) string {
	return strings.TrimPrefix(d.String(), d.Path+" ") + " " + d.Used().Sum
}

func signerOf(r *Report) string {
	return strings.TrimSpace(r.Signature.SignerName + " " + r.Signature.Signer)
}

func commitOf(b *Build) string {
	if b.Provenance == nil {
		return Unknown
	}
	if b.Provenance.Modified == "true" {
		return b.Provenance.Commit + " (modified)"
	}
	return b.Provenance.Commit
}

func importList(r *Report) []string {
	var out []string
	for g, fns := range r.Imports {
		for _, f := range fns {
			out = append(out, g+"."+f)
		}
	}
	return out
}

func setChange(old, new []string) SetChange {
	c := SetChange{Added: []string{}, Removed: []string{}}
	for _, s := range new {
		if !slices.Contains(old, s) && !slices.Contains(c.Added, s) {
			c.Added = append(c.Added, s)
		}
	}
	for _, s := range old {
		if !slices.Contains(new, s) && !slices.Contains(c.Removed, s) {
			c.Removed = append(c.Removed, s)
		}
	}
	sort.Strings(c.Added)
	sort.Strings(c.Removed)
	return c
}

// WriteText writes the diff for a person: "+" added, "-" removed, "~"
// changed; every string escaped as in Report.WriteText.
func (d *Diff) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) {
		for i, a := range args {
			if s, ok := a.(string); ok {
				args[i] = printable(s)
			}
		}
		fmt.Fprintf(tw, format+"\n", args...)
	}
	p("old\t%s (module sha256 %s)", d.Old.Bundle, d.Old.ModuleSHA256)
	p("new\t%s (module sha256 %s)", d.New.Bundle, d.New.ModuleSHA256)
	var unchanged []string
	for _, s := range []struct {
		name string
		c    SetChange
	}{{"capabilities", d.Capabilities}, {"egress", d.Egress}, {"egress used", d.EgressUsed}, {"links", d.Links}, {"links used", d.LinksUsed}, {"scopes", d.Scopes}, {"imports", d.Imports}, {"exports", d.Exports}} {
		for _, a := range s.c.Added {
			p("%s\t+ %s", s.name, a)
		}
		for _, r := range s.c.Removed {
			p("%s\t- %s", s.name, r)
		}
		if len(s.c.Added)+len(s.c.Removed) == 0 {
			unchanged = append(unchanged, s.name)
		}
	}
	for _, c := range d.Memory {
		p("memory\t~ %s %s -> %s", c.What, c.Old, c.New)
	}
	if len(d.Memory) == 0 {
		unchanged = append(unchanged, "memory")
	}
	for _, dep := range d.Deps.Added {
		p("dependency\t+ %s %s", dep.String(), dep.Used().Sum)
	}
	for _, dep := range d.Deps.Removed {
		p("dependency\t- %s %s", dep.String(), dep.Used().Sum)
	}
	for _, c := range d.Deps.Changed {
		p("dependency\t~ %s %s -> %s", c.What, c.Old, c.New)
	}
	if len(d.Deps.Added)+len(d.Deps.Removed)+len(d.Deps.Changed) == 0 {
		unchanged = append(unchanged, "dependencies")
	}
	for _, c := range d.Other {
		p("%s\t~ %s -> %s", c.What, c.Old, c.New)
	}
	p("unchanged\t%s", orNone(strings.Join(unchanged, ", ")))
	return tw.Flush()
}
