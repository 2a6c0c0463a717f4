// Package abi holds what the host and the plugin must agree on: the import
// module and function names of wit/chatbridge.wit, its error codes, and the
// binary encoding of the records that cross the boundary.
//
// It depends on nothing but the standard library so that the host, the guest
// and the proxy can all import it without cycles.
//
// # Calling convention
//
// Strings and lists travel as (pointer, length) pairs of guest memory. An
// import returns an int64: a negative value is the negated [Code]; a
// non-negative one is the length of a pending result the guest collects with
// the result-read import. Exports take the length of their input, which the
// guest reads with input-read, and return a [Code]; their output is handed
// over with output-write.
//
// # Encoding
//
// Records are encoded field by field in declaration order: unsigned integers
// and lengths as uvarints, strings and byte lists as a length then the bytes,
// lists as a count then the elements. There are no field tags: both sides are
// built from the same WIT, and a version bump of the WIT package changes the
// import module names, so a stale module fails to link rather than misread.
package abi
