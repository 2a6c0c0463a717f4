package abi

import "strconv"

// Code is the WIT enum error-code. Zero is success.
type Code uint32

// The error codes, in the order of the WIT enum.
const (
	OK Code = iota
	NotFound
	AccessDenied
	InvalidArgument
	LimitExceeded
	Unavailable
	Timeout
	Integrity
	Internal
)

var codeNames = [...]string{
	OK:              "ok",
	NotFound:        "not-found",
	AccessDenied:    "access-denied",
	InvalidArgument: "invalid-argument",
	LimitExceeded:   "limit-exceeded",
	Unavailable:     "unavailable",
	Timeout:         "timeout",
	Integrity:       "integrity",
	Internal:        "internal",
}

// CodeNames lists the enum's case names in order, for the WIT check.
func CodeNames() []string { return append([]string(nil), codeNames[:]...) }

// String returns the WIT case name.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "error-code(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// Error makes a Code usable as an error on either side.
func (c Code) Error() string { return "abi: " + c.String() }

// Result packs a capability's outcome into an import's int64 return value.
func Result(c Code, n uint32) int64 {
	if c != OK {
		return -int64(c)
	}
	return int64(n)
}

// SplitResult is the inverse of Result.
func SplitResult(r int64) (Code, uint32) {
	if r < 0 {
		if -r > int64(^uint32(0)) {
			return Internal, 0
		}
		return Code(-r), 0
	}
	if r > int64(^uint32(0)) {
		return Internal, 0
	}
	return OK, uint32(r)
}
