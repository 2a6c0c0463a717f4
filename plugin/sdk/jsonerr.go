package sdk

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// JSONError restates a failed decode of JSON from outside (a webhook, an
// API's answer) without quoting the input: encoding/json's errors may hold
// pieces of it ("cannot unmarshal number 12345678901234567890123 into ..."),
// a custom decoder's anything, and errors end up in logs. What remains is
// where it failed and which type was wanted, the words of the program.
func JSONError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		return errors.New("json: invalid JSON at byte " + strconv.FormatInt(syntax.Offset, 10))
	case errors.As(err, &typ):
		field := typ.Field
		if !plainField(field) {
			field = "a field" // a map key from the input
		}
		return errors.New("json: " + field + " is not " + typ.Type.String())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("json: unexpected end of JSON input")
	}
	return errors.New("json: malformed value")
}

// plainField reports whether s is a field path of the program's own JSON
// names: dot-separated segments each starting with a lower-case letter,
// then letters, digits and '_', at most 128 bytes. A map key from the input
// (a chat id, an issue key) rarely passes, and never one of those.
func plainField(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	start := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !start:
			start = true
		case start && 'a' <= c && c <= 'z':
			start = false
		case !start && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return !start
}
