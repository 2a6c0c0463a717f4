//go:build !stdhpke

package seal

import (
	"crypto/rand"
	"errors"

	"github.com/cloudflare/circl/hpke"
	"github.com/cloudflare/circl/kem"
)

// suite is circl's HPKE with the X-Wing KEM (hpke.KEM_XWING, 0x647a).
var suite = hpke.NewSuite(hpke.KEM_XWING, hpke.KDF_HKDF_SHA256, hpke.AEAD_AES256GCM)

// circlKEM is X-Wing HPKE from circl. Its private key is the 32-byte X-Wing
// seed, as in Go's crypto/hpke, so the same key file works with either.
type circlKEM struct {
	priv kem.PrivateKey
	pub  kem.PublicKey
	pb   []byte
}

func newKEMKey(seed []byte) (kemKey, error) {
	priv, err := hpke.KEM_XWING.Scheme().UnmarshalBinaryPrivateKey(seed)
	if err != nil {
		return nil, err
	}
	pub := priv.Public()
	pb, err := pub.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return circlKEM{priv: priv, pub: pub, pb: pb}, nil
}

func (k circlKEM) wrap(info, secret []byte) ([]byte, error) {
	sender, err := suite.NewSender(k.pub, info)
	if err != nil {
		return nil, err
	}
	enc, sealer, err := sender.Setup(rand.Reader)
	if err != nil {
		return nil, err
	}
	ct, err := sealer.Seal(secret, nil)
	if err != nil {
		return nil, err
	}
	return append(enc, ct...), nil
}

func (k circlKEM) unwrap(info, blob []byte) ([]byte, error) {
	encLen := hpke.KEM_XWING.Scheme().CiphertextSize()
	if len(blob) < encLen {
		return nil, errors.New("wrapped key too short")
	}
	r, err := suite.NewReceiver(k.priv, info)
	if err != nil {
		return nil, err
	}
	opener, err := r.Setup(blob[:encLen])
	if err != nil {
		return nil, err
	}
	return opener.Open(blob[encLen:], nil)
}

func (k circlKEM) publicKey() []byte { return k.pb }
