package bundle

import (
	"fmt"
	"testing"
)

var benchSizes = []int{64 << 10, 8 << 20}

// BenchmarkOpen measures what the host pays to load a bundle: reading the
// three files, hashing, verifying both signatures, parsing the manifest.
func BenchmarkOpen(b *testing.B) {
	k := testKey(b, 1)
	trust := NewTrust([]*PublicKey{k.Public()}, nil)
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("module=%dKiB", size>>10), func(b *testing.B) {
			dir := writeBundle(b, exampleManifest(b), make([]byte, size))
			if err := Sign(dir, k); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Open(dir, trust); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSign measures what a vendor pays to sign a bundle, including the
// self-check of the fresh signatures.
func BenchmarkSign(b *testing.B) {
	k := testKey(b, 1)
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("module=%dKiB", size>>10), func(b *testing.B) {
			dir := writeBundle(b, exampleManifest(b), make([]byte, size))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := Sign(dir, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify isolates the signature check from file I/O and hashing.
func BenchmarkVerify(b *testing.B) {
	k := testKey(b, 1)
	msg := message([32]byte{1}, [32]byte{2})
	ed, ml, err := k.sign(msg, mldsaContext)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Ed25519", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !k.pub.verifyEd25519(msg, ed) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("ML-DSA-65", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !k.pub.verifyMLDSA65(msg, mldsaContext, ml) {
				b.Fatal("invalid")
			}
		}
	})
}
