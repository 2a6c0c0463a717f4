// Package tenant keeps the host's installations: one per Jira site, each
// with its own data key (in the store), its own Jira credentials and webhook
// secret (host-reserved secrets), and its own unguessable route ids.
//
// # Records
//
// The host installation's registry keyspace holds an index record per
// installation (its id only); the installation's own record (site URL, app
// account, routes) lives in its own registry keyspace and its credentials
// in its own secret keyspace under storage.HostSecretPrefix, which the
// module cannot reach: all sealed under its own keys. Removing an
// installation purges every record it has and, with a storage.Shredder,
// destroys its keys and reports them; Open drops the index records of
// installations whose keys were destroyed (a backup restored after their
// uninstall) and moves index records of the older format, which held the
// whole installation.
package tenant
