// Package resolver is the way an administrator's call enters the module: a
// named function of the manifest's `function` modules (Forge's resolver),
// invoked with a JSON payload for one installation. The admin API and the
// dev console's project settings call it.
package resolver
