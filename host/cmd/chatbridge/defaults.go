package main

import "github.com/chatbridge/chatbridge/proxy"

// The defaults, in one place. Production (`serve`, `keys`, and the
// commands that talk to a running host: `install`, `uninstall`,
// `installations`) share one set; the local emulator (`dev`, `sims`) has its
// own, under the working directory, so that `make run` never touches a
// production data directory. docs/operations.md has the table.
const (
	// defaultListen is serve's public HTTPS address.
	defaultListen = ":8443"
	// defaultAdminAddr is serve's admin listener (health, metrics, admin
	// API), on loopback.
	defaultAdminAddr = proxy.DefaultAdminAddr
	// defaultDataDir is serve's data directory: storage and admin.token.
	defaultDataDir = "/var/lib/chatbridge"

	// devListen, devAdminAddr and devDataDir are dev mode's.
	devListen    = "127.0.0.1:8443"
	devAdminAddr = "127.0.0.1:9090"
	devDataDir   = "data"
	// devSimsAddr is where `chatbridge sims` serves its control API.
	devSimsAddr = "127.0.0.1:9191"
)

// defaultAdminURL is the admin URL the CLI commands call: serve's.
const defaultAdminURL = "http://" + defaultAdminAddr
