// Package apispec reads the pruned OpenAPI specifications under
// testdata/specs and answers whether a call (method and path) is one the
// service documents, and what that operation requires. Tests use it to hold
// the simulators and the bridge's clients against the services' own
// specifications: a route or call the specification lacks is a defect.
//
// # Format
//
// A pruned file keeps, for every path under its prefix, each method's
// summary, deprecated flag, parameters (name, place, required) and request
// body (required, content types, the schema's required top-level fields).
// Prune makes one from a full OpenAPI 3 document; RATIONALE.md ("The
// services' own specifications") says where each full document comes from.
package apispec
