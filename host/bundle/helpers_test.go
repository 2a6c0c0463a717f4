package bundle

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// exampleManifestPath is the example plugin's manifest, shared with the host.
var exampleManifestPath = filepath.Join("..", "..", "testdata", "bundle", "manifest.yml")

// testModule stands in for plugin.wasm: a wasm header and some bytes.
var testModule = append([]byte("\x00asm\x01\x00\x00\x00"), make([]byte, 4096)...)

// testKey returns a deterministic key; different n give different keys.
func testKey(tb testing.TB, n byte) *PrivateKey {
	tb.Helper()
	k, err := GenerateKey(rand.NewChaCha8([32]byte{n}))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func exampleManifest(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile(exampleManifestPath)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// writeBundle writes an unsigned bundle into a fresh directory.
func writeBundle(tb testing.TB, manifest, module []byte) string {
	tb.Helper()
	dir := tb.TempDir()
	writeFile(tb, filepath.Join(dir, ManifestFile), manifest)
	writeFile(tb, filepath.Join(dir, ModuleFile), module)
	return dir
}

// signedBundle writes the example bundle signed by k.
func signedBundle(tb testing.TB, k *PrivateKey) string {
	tb.Helper()
	dir := writeBundle(tb, exampleManifest(tb), testModule)
	if err := Sign(dir, k); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// flipByte inverts one bit of the byte at i (negative i counts from the end).
func flipByte(tb testing.TB, path string, i int) {
	tb.Helper()
	data := readFile(tb, path)
	if i < 0 {
		i += len(data)
	}
	data[i] ^= 0x01
	writeFile(tb, path, data)
}

// editSignature rewrites signature.json in dir through edit.
func editSignature(tb testing.TB, dir string, edit func(*signatureJSON)) {
	tb.Helper()
	path := filepath.Join(dir, SignatureFile)
	var s signatureJSON
	if err := json.Unmarshal(readFile(tb, path), &s); err != nil {
		tb.Fatal(err)
	}
	edit(&s)
	data, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	writeFile(tb, path, data)
}
