package main

import (
	"runtime/debug"

	"github.com/chatbridge/chatbridge/plugin/bridge"
	"github.com/chatbridge/chatbridge/plugin/sdk"
)

func main() {}

func init() {
	// Attachments up to 20 MB pass through memory, copied a few times on
	// the way; a soft limit below the manifest's 128 MiB makes the
	// collector work harder before the host's cap is reached.
	debug.SetMemoryLimit(96 << 20)
	sdk.Register(bridge.Handlers())
}
