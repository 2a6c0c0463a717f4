package abi

import (
	"errors"
	"testing"
)

func TestSecretRefsExpandToTheirValuesAndNothingElse(t *testing.T) {
	values := map[string]string{"tg": "123:ABC", "wa.phone": "555"}
	value := func(name string) ([]byte, error) {
		v, ok := values[name]
		if !ok {
			return nil, NotFound
		}
		return []byte(v), nil
	}
	for _, c := range []struct {
		in, want string
		err      error
	}{
		{"https://api.telegram.org/bot" + SecretRef("tg") + "/getMe", "https://api.telegram.org/bot123:ABC/getMe", nil},
		{"/v23.0/" + SecretRef("wa.phone") + "/messages?x=" + SecretRef("tg"), "/v23.0/555/messages?x=123:ABC", nil},
		{"no reference", "no reference", nil},
		{"{{secret:tg", "", InvalidArgument},
		{SecretRef("missing"), "", NotFound},
	} {
		got, err := ExpandSecretRefs(c.in, value)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("%q: got %q, %v; want %q, %v", c.in, got, err, c.want, c.err)
		}
	}
}
