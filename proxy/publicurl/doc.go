// Package publicurl is the edge's public URL scheme in one place: the path
// prefixes the edge routes and the URLs the host hands out for them. It
// imports nothing of the project, so the edge and the host both depend on it
// without depending on each other.
package publicurl
