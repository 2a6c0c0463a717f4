package bundle

import (
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzDecodeManifest: decoding never panics, every failure wraps
// ErrInvalidManifest, and a manifest that decodes and validates re-encodes to
// YAML that decodes to the same value and allows the egress it declares.
func FuzzDecodeManifest(f *testing.F) {
	f.Add(exampleManifest(f))
	f.Add(readFile(f, filepath.Join("..", "..", "plugin", "manifest.yml"))) // pacing rules
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "bundle", "invalid", "*.yml"))
	for _, file := range files {
		f.Add(readFile(f, file))
	}
	f.Add([]byte("app: {id: \"ari:cloud:ecosystem::app/x\"}\npermissions: {external: {fetch: {backend: [{address: \"*.Example.com\"}]}}}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	// Names that YAML could read as something other than a string.
	for _, name := range []string{"yes", "null", "~", "1e3", "0x10", " lead", "#x", "- a: b", "'q'", "\u00e9t\u00e9", "a: b", "!!binary x"} {
		f.Add([]byte("app: {id: \"ari:cloud:ecosystem::app/x\", name: " + strconv.Quote(name) + "}\nmodules: {function: [{key: f, handler: " + strconv.Quote(name) + "}]}\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidManifest) {
				t.Fatalf("error does not wrap ErrInvalidManifest: %v", err)
			}
			return
		}
		out, err := yaml.Marshal(m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("re-encoded manifest does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed the manifest\nbefore %#v\nafter  %#v\nyaml:\n%s", m, again, out)
		}
		for _, b := range m.Permissions.External.Fetch.Backend {
			name := b.Host()
			if parent, ok := strings.CutPrefix(name, "*."); ok {
				name = "x." + parent
			}
			if !m.EgressAllowedAt(name, b.Port()) {
				t.Errorf("declared address %q does not allow %s on its port %d", b.Address, name, b.Port())
			}
			if parent, ok := strings.CutPrefix(b.Host(), "*."); ok {
				if !m.EgressAllowed("x." + parent) {
					t.Errorf("wildcard %q does not allow x.%s", b.Address, parent)
				}
				if m.EgressAllowed(parent) && !declared(m, parent) {
					t.Errorf("wildcard %q allows its parent", b.Address)
				}
			} else if !m.EgressAllowed(b.Host()) {
				t.Errorf("declared address %q is not allowed", b.Address)
			}
		}
	})
}

// declared reports whether host is itself covered by some other backend.
func declared(m *Manifest, host string) bool {
	for _, b := range m.Permissions.External.Fetch.Backend {
		if strings.EqualFold(b.Address, host) {
			return true
		}
		if parent, ok := strings.CutPrefix(strings.ToLower(b.Address), "*."); ok {
			if _, rest, _ := strings.Cut(strings.ToLower(host), "."); rest == parent {
				return true
			}
		}
	}
	return false
}

// FuzzDecodeSignature: decoding never panics, every failure wraps
// ErrMalformedSignature, and a decoded signature re-encodes to one that
// decodes to the same value.
func FuzzDecodeSignature(f *testing.F) {
	k := testKey(f, 1)
	dir := signedBundle(f, k)
	good := readFile(f, filepath.Join(dir, SignatureFile))
	f.Add(good)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"keyId":"sha256:","ed25519":"","mldsa65":"","manifestSha256":"","moduleSha256":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSignature(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedSignature) {
				t.Fatalf("error does not wrap ErrMalformedSignature: %v", err)
			}
			return
		}
		out, err := encodeSignature(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeSignature(out)
		if err != nil {
			t.Fatalf("re-encoded signature does not decode: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("round trip changed the signature")
		}
	})
}
