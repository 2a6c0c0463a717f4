//go:build !stdhpke

package seal

import (
	"bytes"
	"crypto/hpke"
	"encoding/base64"
	"testing"
)

// In the default build the store wraps with circl, and
// TestWrappedKey_OpensWithGoCryptoHPKE opens its keys with crypto/hpke.
// This test checks the other direction and that both see one public key.
func TestCircl_InteroperatesWithGoCryptoHPKE(t *testing.T) {
	k := testKeys()
	seed, _ := base64.StdEncoding.DecodeString(k.Secret())
	priv, err := hpke.MLKEM768X25519().NewPrivateKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.kem.(circlKEM); !ok {
		t.Fatalf("built with the circl tag but the key uses %T", k.kem)
	}
	if !bytes.Equal(priv.PublicKey().Bytes(), k.kem.publicKey()) {
		t.Fatal("circl and crypto/hpke derive different X-Wing public keys from one seed")
	}
	info := []byte("chatbridge interop")
	secret := []byte("0123456789abcdef0123456789abcdef")

	blob, err := hpke.Seal(priv.PublicKey(), hpke.HKDFSHA256(), hpke.AES256GCM(), info, secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.unwrap(info, blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("circl cannot open what crypto/hpke sealed: %v", err)
	}

	blob, err = k.wrap(info, secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err = hpke.Open(priv, hpke.HKDFSHA256(), hpke.AES256GCM(), info, blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("crypto/hpke cannot open what circl sealed: %v", err)
	}
}
