package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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

// The sentinels the Go linker puts around runtime.modinfo.
var (
	modinfoStart = []byte("0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6")
	modinfoEnd   = []byte("\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2")
	goVersionRE  = regexp.MustCompile(`\bgo1\.[0-9]+(\.[0-9]+)?\b`)
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
	b := &Build{GoVersion: bi.GoVersion, Path: bi.Path, Main: bi.Main.Path + " " + bi.Main.Version}
	if b.GoVersion == "" {
		// The version string lives beside modinfo, as runtime.buildVersion.
		b.GoVersion = string(goVersionRE.Find(module))
	}
	for _, d := range bi.Deps {
		dep := Dependency{Path: d.Path, Version: d.Version, Sum: d.Sum}
		if d.Replace != nil {
			dep.Version += " => " + d.Replace.Path + " " + d.Replace.Version
		}
		b.Deps = append(b.Deps, dep)
	}
	for _, s := range bi.Settings {
		b.Settings = append(b.Settings, s.Key+"="+s.Value)
	}
	return b
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
