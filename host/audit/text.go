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
	p("signer\t%s (trusted: %v, revoked: %v)", orNone(r.Signature.Signer), r.Signature.Trusted, r.Signature.Revoked)
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
		p("main\t%s (%s)", b.Path, b.Main)
		for _, d := range b.Deps {
			p("dependency\t%s %s", d.Path, d.Version)
		}
		p("build\t%s", trimmed(b.Settings))
	} else {
		p("go\tunknown (no build information in the module)")
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
