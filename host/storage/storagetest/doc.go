// Package storagetest checks that a storage.Backend keeps the Backend
// contract: the same suite runs against every backend (BuntDB, etcd).
package storagetest
