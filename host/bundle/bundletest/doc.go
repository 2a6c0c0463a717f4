// Package bundletest builds plugin modules from source and signs them into
// bundles for tests, the way a vendor would: GOOS=wasip1 reactor build,
// manifest beside it, composite signature. Built modules are cached per
// process and never committed.
package bundletest
