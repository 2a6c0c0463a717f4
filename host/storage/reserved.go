package storage

// HostSecretPrefix begins the names of secrets the host keeps in an
// installation's secret keyspace (its Jira credentials, webhook secrets).
// The module's secrets capability refuses every name with this prefix.
const HostSecretPrefix = "chatbridge.host."
