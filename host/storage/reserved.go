package storage

// HostSecretPrefix begins the names of secrets the host keeps in an
// installation's secret keyspace (its Jira credentials, webhook secrets).
// The module's secrets capability refuses every name with this prefix.
const HostSecretPrefix = "chatbridge.host."

// SchedulePrefix begins the keys of the schedule's records
// (host/trigger/schedule: the last firing of each scheduled trigger) in
// each installation's Dedupe keyspace, which the module cannot reach.
// Nothing else of the host keeps records there under this prefix.
const SchedulePrefix = "schedule:"
