package audit

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

// ErrNoBuildInfo: the module carries no Go build information, so there is
// nothing to write an SBOM from.
var ErrNoBuildInfo = errors.New("audit: the module carries no Go build information")

// SBOM is a CycloneDX 1.5 bill of materials (JSON), with only the members
// this audit fills. RATIONALE.md says why CycloneDX.
type SBOM struct {
	BOMFormat    string          `json:"bomFormat"`   // "CycloneDX"
	SpecVersion  string          `json:"specVersion"` // "1.5"
	Version      int             `json:"version"`     // 1
	Metadata     SBOMMetadata    `json:"metadata"`
	Components   []SBOMComponent `json:"components"`
	Dependencies []SBOMDepends   `json:"dependencies"`
}

// SBOMMetadata names the plugin the bill describes and the tool.
type SBOMMetadata struct {
	Tools     SBOMTools     `json:"tools"`
	Component SBOMComponent `json:"component"`
}

// SBOMTools lists the tool that wrote the bill (CycloneDX 1.5 form).
type SBOMTools struct {
	Components []SBOMComponent `json:"components"`
}

// SBOMComponent is one module (or the plugin, or the tool).
type SBOMComponent struct {
	Type       string         `json:"type"` // "application" or "library"
	BOMRef     string         `json:"bom-ref,omitempty"`
	Name       string         `json:"name"`
	Version    string         `json:"version,omitempty"`
	PURL       string         `json:"purl,omitempty"`
	Hashes     []SBOMHash     `json:"hashes,omitempty"`
	Properties []SBOMProperty `json:"properties,omitempty"`
}

// SBOMHash is a hash of the component's own bytes.
type SBOMHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// SBOMProperty is a name/value pair: the cdx:gomod taxonomy's where it has
// one, else this project's chatbridge: namespace.
type SBOMProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SBOMDepends is one edge list of the dependency graph.
type SBOMDepends struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// Property names outside the cdx:gomod taxonomy (which has none for them).
const (
	propModuleSum  = "chatbridge:gomod:sum"     // the go.sum hash ("h1:..."), a hash of the module's file tree, not of one file
	propReplacedBy = "chatbridge:gomod:replace" // the module used in place of this one: "path version"
	propPackage    = "chatbridge:gomod:package" // the plugin's main package
	propCommit     = "chatbridge:vcs:revision"
	propModified   = "chatbridge:vcs:modified"
)

// SBOM returns the report's bill of materials: the plugin (the main module,
// with plugin.wasm's SHA-256) and every module the build used, each with
// version and go.sum hash. The bill holds nothing that varies between runs
// (no serial number or timestamp), so one bundle always gives the same
// bytes.
func (r *Report) SBOM() (*SBOM, error) {
	b := r.Build
	if b == nil {
		return nil, ErrNoBuildInfo
	}
	main := SBOMComponent{
		Type:    "application",
		BOMRef:  purl(b.Main.Path, b.Main.Version),
		Name:    b.Main.Path,
		Version: b.Main.Version,
		PURL:    purl(b.Main.Path, b.Main.Version),
		Hashes:  []SBOMHash{{Alg: "SHA-256", Content: r.ModuleSHA256}},
		Properties: []SBOMProperty{
			{"cdx:gomod:binary:name", "plugin.wasm"},
			{"cdx:gomod:binary:hash:SHA-256", r.ModuleSHA256},
			{"cdx:gomod:build:env:GOVERSION", b.GoVersion},
			{propPackage, b.Path},
		},
	}
	for _, s := range b.Settings {
		k, v, _ := strings.Cut(s, "=")
		switch k {
		case "GOOS", "GOARCH", "CGO_ENABLED":
			main.Properties = append(main.Properties, SBOMProperty{"cdx:gomod:build:env:" + k, v})
		case "-tags":
			main.Properties = append(main.Properties, SBOMProperty{"cdx:gomod:build:tag", v})
		}
	}
	if p := b.Provenance; p != nil {
		main.Properties = append(main.Properties, SBOMProperty{propCommit, p.Commit}, SBOMProperty{propModified, p.Modified})
	}
	bom := &SBOM{
		BOMFormat:   "CycloneDX",
		SpecVersion: "1.5",
		Version:     1,
		Metadata: SBOMMetadata{
			Tools:     SBOMTools{Components: []SBOMComponent{{Type: "application", Name: "chatbridge audit"}}},
			Component: main,
		},
		Components:   []SBOMComponent{},
		Dependencies: []SBOMDepends{{Ref: main.BOMRef, DependsOn: []string{}}},
	}
	for _, d := range b.Deps {
		c := SBOMComponent{
			Type:    "library",
			BOMRef:  purl(d.Path, d.Version),
			Name:    d.Path,
			Version: d.Version,
			PURL:    purl(d.Path, d.Version),
		}
		if sum := d.Used().Sum; sum != "" {
			c.Properties = append(c.Properties, SBOMProperty{propModuleSum, sum})
		}
		if d.Replace != nil {
			c.Properties = append(c.Properties, SBOMProperty{propReplacedBy, strings.TrimSpace(d.Replace.Path + " " + d.Replace.Version)})
		}
		bom.Components = append(bom.Components, c)
		bom.Dependencies[0].DependsOn = append(bom.Dependencies[0].DependsOn, c.BOMRef)
		bom.Dependencies = append(bom.Dependencies, SBOMDepends{Ref: c.BOMRef, DependsOn: []string{}})
	}
	return bom, nil
}

// Marshal writes the bill as indented JSON with a final newline.
func (s *SBOM) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// purl is the package URL of a Go module (purl-spec's golang type): the
// path's segments as namespace and name, the version percent-encoded
// ("(devel)" becomes "%28devel%29").
func purl(path, version string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	p := "pkg:golang/" + strings.Join(segs, "/")
	if version != "" {
		p += "@" + strings.NewReplacer("(", "%28", ")", "%29").Replace(url.PathEscape(version))
	}
	return p + "?type=module"
}
