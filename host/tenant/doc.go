// Package tenant keeps the host's installations: one per Jira site, each
// with its own data key (in the store), its own Jira credentials and webhook
// secret (host-reserved secrets), and its own unguessable route ids.
//
// # Records
//
// An installation's record lives in the store's registry keyspace of the
// host installation; its credentials live in the installation's own secret
// keyspace under storage.HostSecretPrefix, which the module cannot reach.
// Removing an installation purges every record it has.
package tenant
