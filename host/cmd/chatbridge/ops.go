package main

import (
	"os"

	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/storage/seal"
)

// adminNode is what the admin API's node-wide operations (backup, master
// key rotation, bundle reload) need: the store, the key file its master
// keys came from (none when they came from the environment, which
// seal.LoadMasterKeys prefers), and the bundle directory.
func adminNode(c serveConfig, store *seal.Store, dev bool) adminapi.Node {
	n := adminapi.Node{Store: store, BundleDir: c.bundleDir}
	switch {
	case dev:
		n.MasterKeyFile = devMasterKeyFile(c.data)
	case os.Getenv(masterKeyEnv) == "":
		n.MasterKeyFile = c.masterKeyFile
	}
	return n
}
