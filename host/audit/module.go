package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/chatbridge/chatbridge/host/bundle"
)

// maxModule bounds what the audit reads, like the host does.
const maxModule = 128 << 20

func readModule(dir string) ([]byte, error) {
	path := filepath.Join(dir, bundle.ModuleFile)
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if st.Size() > maxModule {
		return nil, fmt.Errorf("audit: %s is %d bytes, over %d", path, st.Size(), maxModule)
	}
	return os.ReadFile(path)
}

// The sentinels the go command puts around runtime.modinfo
// (cmd/go/internal/modload.infoStart and infoEnd). The Go linker's wasm
// output has no "\xff Go buildinf:" blob, so debug/buildinfo (and `go
// version -m`) cannot read a wasm module; the modinfo string itself sits in
// the data section between these (RATIONALE.md).
var (
	modinfoStart = []byte("0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6")
	modinfoEnd   = []byte("\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2")
)

// buildInfo reads the module's embedded build information, or nil.
func buildInfo(module []byte) *Build {
	i := bytes.Index(module, modinfoStart)
	if i < 0 {
		return nil
	}
	rest := module[i+len(modinfoStart):]
	j := bytes.Index(rest, modinfoEnd)
	if j < 0 {
		return nil
	}
	bi, err := debug.ParseBuildInfo(string(rest[:j]))
	if err != nil {
		return nil
	}
	// runtime.modinfo has no "go" line: the version lives in the module's
	// producers section.
	b := &Build{GoVersion: goVersion(module), Path: bi.Path, Main: dependency(&bi.Main)}
	for _, d := range bi.Deps {
		b.Deps = append(b.Deps, dependency(d))
	}
	var settings [][2]string
	for _, s := range bi.Settings {
		b.Settings = append(b.Settings, s.Key+"="+s.Value)
		settings = append(settings, [2]string{s.Key, s.Value})
	}
	b.Provenance = provenance(b, settings, module)
	return b
}

// dependency is m as the report and the SBOM show it; a replaced module
// keeps the version the build asked for and names what it used instead.
func dependency(m *debug.Module) Dependency {
	d := Dependency{Path: m.Path, Version: m.Version, Sum: m.Sum}
	if r := m.Replace; r != nil {
		d.Replace = &Dependency{Path: r.Path, Version: r.Version, Sum: r.Sum}
	}
	return d
}

var errSection = errors.New("malformed section")

// limits reads the memory and table limits from the import, table and
// memory sections.
func limits(module []byte) (Limits, error) {
	var l Limits
	if len(module) < 8 || !bytes.Equal(module[:4], []byte("\x00asm")) {
		return l, errSection
	}
	r := sectionReader{b: module[8:]}
	for len(r.b) > 0 {
		id, body, err := r.section()
		if err != nil {
			return l, err
		}
		s := sectionReader{b: body}
		switch id {
		case 2: // imports: memories and tables may be imported
			n, err := s.u32()
			if err != nil {
				return l, err
			}
			for range n {
				if _, err := s.name(); err != nil {
					return l, err
				}
				if _, err := s.name(); err != nil {
					return l, err
				}
				kind, err := s.byte()
				if err != nil {
					return l, err
				}
				switch kind {
				case 0: // func: type index
					_, err = s.u32()
				case 1: // table: reftype, limits
					if _, err = s.byte(); err == nil {
						var t Table
						t.Min, t.Max, err = s.limits()
						l.Tables = append(l.Tables, t)
					}
				case 2: // memory
					l.MemoryMinPages, l.MemoryMaxPages, err = s.limits()
				case 3: // global: valtype, mutability
					if _, err = s.byte(); err == nil {
						_, err = s.byte()
					}
				default:
					err = errSection
				}
				if err != nil {
					return l, err
				}
			}
		case 4: // tables
			n, err := s.u32()
			if err != nil {
				return l, err
			}
			for range n {
				if _, err := s.byte(); err != nil {
					return l, err
				}
				var t Table
				if t.Min, t.Max, err = s.limits(); err != nil {
					return l, err
				}
				l.Tables = append(l.Tables, t)
			}
		case 5: // memories
			n, err := s.u32()
			if err != nil || n == 0 {
				return l, err
			}
			if l.MemoryMinPages, l.MemoryMaxPages, err = s.limits(); err != nil {
				return l, err
			}
		}
	}
	return l, nil
}

type sectionReader struct{ b []byte }

func (r *sectionReader) byte() (byte, error) {
	if len(r.b) == 0 {
		return 0, errSection
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *sectionReader) u32() (uint32, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<32-1 {
		return 0, errSection
	}
	r.b = r.b[n:]
	return uint32(v), nil
}

func (r *sectionReader) name() (string, error) {
	n, err := r.u32()
	if err != nil || uint64(n) > uint64(len(r.b)) {
		return "", errSection
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s, nil
}

func (r *sectionReader) limits() (uint32, *uint32, error) {
	flag, err := r.byte()
	if err != nil {
		return 0, nil, err
	}
	min, err := r.u32()
	if err != nil {
		return 0, nil, err
	}
	if flag&1 == 0 {
		return min, nil, nil
	}
	max, err := r.u32()
	return min, &max, err
}

func (r *sectionReader) section() (byte, []byte, error) {
	id, err := r.byte()
	if err != nil {
		return 0, nil, err
	}
	n, err := r.u32()
	if err != nil || uint64(n) > uint64(len(r.b)) {
		return 0, nil, errSection
	}
	body := r.b[:n]
	r.b = r.b[n:]
	return id, body, nil
}

// trimmed is used by the text report to keep long lists readable.
func trimmed(list []string) string { return strings.Join(list, ", ") }
