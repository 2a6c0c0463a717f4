package audit

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

// WriteText writes the report for a person. Every string it prints is
// escaped (printable), so that a name in the module or the manifest cannot
// move the cursor, recolour or redraw earlier lines such as the signer.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) {
		for i, a := range args {
			if s, ok := a.(string); ok {
				args[i] = printable(s)
			}
		}
		fmt.Fprintf(tw, format+"\n", args...)
	}
	p("bundle\t%s", r.Bundle)
	p("bundle sha256\t%s", r.BundleSHA256)
	p("module sha256\t%s (%d bytes)", r.ModuleSHA256, r.ModuleBytes)
	signer := orNone(r.Signature.Signer)
	if r.Signature.SignerName != "" {
		signer = r.Signature.SignerName + " " + signer
	}
	p("signer\t%s (trusted: %v, revoked: %v)", signer, r.Signature.Trusted, r.Signature.Revoked)
	signedAt := r.Signature.SignedAt
	if signedAt == "" {
		signedAt = "unknown (a version 1 signature records no time, and an unverified one's is not shown)"
	} else {
		signedAt += " (the signer's clock, covered by the signature)"
	}
	p("signed at\t%s", signedAt)
	p("signature ed25519\t%s", r.Signature.Ed25519)
	p("signature ml-dsa-65\t%s", r.Signature.MLDSA65)
	p("")
	p("app\t%s", r.Permissions.AppID)
	p("capabilities\t%s", orNone(trimmed(r.Permissions.Capabilities)))
	p("egress\t%s", orNone(trimmed(r.Permissions.Egress)))
	switch used := trimmed(r.EgressUsed); {
	case r.EgressCannotTell && used == "":
		p("egress used\t%s", "cannot tell: the module imports fetch and names no https host; URLs it builds at run time are invisible to the audit")
	case r.EgressCannotTell:
		p("egress used\t%s (cannot tell whether it builds others at run time)", used)
	default:
		p("egress used\t%s", orNone(used))
	}
	p("links\t%s", orNone(trimmed(r.Permissions.Links)))
	p("links used\t%s", orNone(trimmed(r.LinksUsed)))
	p("scopes\t%s", orNone(trimmed(r.Permissions.Scopes)))
	p("memory\t%d MiB", r.Permissions.MemoryMiB)
	var kinds []string
	for k, s := range r.Permissions.TimeoutSeconds {
		kinds = append(kinds, fmt.Sprintf("%s %ds", k, s))
	}
	sort.Strings(kinds)
	p("timeouts\t%s", strings.Join(kinds, ", "))
	var mods []string
	for k, v := range r.Permissions.Modules {
		mods = append(mods, k+" ("+v+")")
	}
	sort.Strings(mods)
	p("modules\t%s", trimmed(mods))
	p("")
	max := "none"
	if r.Limits.MemoryMaxPages != nil {
		max = fmt.Sprint(*r.Limits.MemoryMaxPages)
	}
	p("module memory\tmin %d pages, max %s", r.Limits.MemoryMinPages, max)
	for i, t := range r.Limits.Tables {
		tmax := "none"
		if t.Max != nil {
			tmax = fmt.Sprint(*t.Max)
		}
		p("module table %d\tmin %d, max %s", i, t.Min, tmax)
	}
	var groups []string
	for g := range r.Imports {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		p("imports %s\t%s", g, trimmed(r.Imports[g]))
	}
	p("exports\t%s", trimmed(r.Exports))
	p("")
	if b := r.Build; b != nil {
		p("go\t%s", b.GoVersion)
		p("main\t%s (module %s)", b.Path, b.Main.String())
		for _, d := range b.Deps {
			p("dependency\t%s %s", d.String(), d.Used().Sum)
		}
		if len(b.Deps) == 0 {
			p("dependency\t%s", "none")
		}
		p("build\t%s", trimmed(b.Settings))
		if v := b.Provenance; v != nil {
			commit := v.Commit
			switch {
			case v.Commit == Unknown:
				commit = "unknown (the module records no VCS stamp)"
			case v.Modified == "true":
				commit += " (" + v.VCS + ", " + v.CommitTime + ", with uncommitted changes)"
			default:
				commit += " (" + v.VCS + ", " + v.CommitTime + ", modified: " + v.Modified + ")"
			}
			p("commit\t%s", commit)
			p("build flags\t%s", strings.Join(v.Flags, " "))
			p("build env\t%s", strings.Join(v.Env, " "))
			ld := orNone(v.LDFlags)
			if !v.LDFlagsRecorded {
				ld += " (read from the module's sections, not recorded)"
			}
			p("ldflags\t%s", ld)
			where := "in a checkout of " + b.Main.Path + " at commit " + v.Commit
			if v.Commit == Unknown {
				where = "in a copy of the same sources of " + b.Main.Path + " (the module does not name a commit)"
			}
			p("reproduce\t%s:", where)
			p("reproduce\t%s", v.Reproduce)
			p("reproduce\tthen sha256sum plugin.wasm must print %s", r.ModuleSHA256)
			if v.ByteForByte {
				p("reproducible\t%s", "byte for byte: the module records the toolchain, commit and flags")
			} else {
				p("reproducible\t%s", "not proven byte for byte: see the caveats")
			}
			for _, c := range v.Caveats {
				p("caveat\t%s", c)
			}
		}
	} else {
		p("go\tunknown (no build information in the module)")
	}
	if db := r.VulnDB; db != nil {
		p("vulnerabilities\t%d found in %s (%d OSV records, newest modified %s)", len(r.Vulns), db.Dir, db.Records, orNone(db.Newest))
	} else {
		p("vulnerabilities\t%s", "not checked (no -vulndb)")
	}
	p("")
	if len(r.Findings) == 0 {
		p("checks\tall passed")
	}
	for _, f := range r.Findings {
		p("%s\t%s: %s", strings.ToUpper(string(f.Severity)), f.Check, f.Message)
	}
	if r.Failed() {
		p("result\tFAIL")
	} else {
		p("result\tPASS")
	}
	return tw.Flush()
}

// printable writes control characters, bidirectional controls and invalid
// UTF-8 in s as Go escapes (\x1b, \u202e); everything else is kept.
func printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unprintable) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unprintable(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
