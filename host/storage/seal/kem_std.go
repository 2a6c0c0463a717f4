//go:build stdhpke

package seal

import "crypto/hpke"

// stdKEM is X-Wing HPKE from Go's crypto/hpke (MLKEM768X25519 is X-Wing).
type stdKEM struct {
	priv hpke.PrivateKey
	pub  hpke.PublicKey
}

func newKEMKey(seed []byte) (kemKey, error) {
	priv, err := hpke.MLKEM768X25519().NewPrivateKey(seed)
	if err != nil {
		return nil, err
	}
	return stdKEM{priv: priv, pub: priv.PublicKey()}, nil
}

func (k stdKEM) wrap(info, secret []byte) ([]byte, error) {
	return hpke.Seal(k.pub, hpke.HKDFSHA256(), hpke.AES256GCM(), info, secret)
}

func (k stdKEM) unwrap(info, blob []byte) ([]byte, error) {
	return hpke.Open(k.priv, hpke.HKDFSHA256(), hpke.AES256GCM(), info, blob)
}

func (k stdKEM) publicKey() []byte { return k.pub.Bytes() }
