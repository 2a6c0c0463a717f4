package abi

import "strings"

// A secret reference stands for a stored secret's value in a fetch's URL or
// headers: the module writes SecretRef(name), the host replaces it with the
// value on the way out, and the value never enters the sandbox.
const (
	secretRefOpen  = "{{secret:"
	secretRefClose = "}}"
)

// SecretRef is the reference to the secret called name, "{{secret:NAME}}".
func SecretRef(name string) string { return secretRefOpen + name + secretRefClose }

// HasSecretRef reports whether s holds a secret reference.
func HasSecretRef(s string) bool { return strings.Contains(s, secretRefOpen) }

// ExpandSecretRefs replaces every secret reference in s with value(name).
// An unterminated reference is InvalidArgument; value's error is returned
// as it is.
func ExpandSecretRefs(s string, value func(name string) ([]byte, error)) (string, error) {
	if !HasSecretRef(s) {
		return s, nil
	}
	var out strings.Builder
	for {
		before, rest, found := strings.Cut(s, secretRefOpen)
		out.WriteString(before)
		if !found {
			return out.String(), nil
		}
		name, after, closed := strings.Cut(rest, secretRefClose)
		if !closed {
			return "", InvalidArgument
		}
		v, err := value(name)
		if err != nil {
			return "", err
		}
		out.Write(v)
		s = after
	}
}
