// Package adminapi is the host's management API on the admin listener:
// installations (install, list, uninstall), the module's admin resolvers,
// the service desks and request types a project's settings pick by name,
// the queue's dead letters, and the node-wide operations of a Node:
// backups, master key rotation and bundle reload while serving.
// JSON in and out; every request carries the admin bearer token, compared in
// constant time.
//
// # Endpoints
//
//	GET    /admin/installations                        list
//	POST   /admin/installations                        {"siteUrl","appAccountId","authorization"} -> installation, webhook URLs and secret
//	DELETE /admin/installations/{id}                   uninstall and purge
//	POST   /admin/installations/{id}/resolve/{function} raw payload -> the resolver's answer
//	GET    /admin/queue                                counters and dead letters (no payloads); on a cluster, the whole cluster's (queue.go)
//	POST   /admin/queue/dead/{id}/replay               queue a dead letter again
//	DELETE /admin/queue/dead/{id}                      discard a dead letter
//	GET    /admin/installations/{id}/servicedesks      the service desks the installation's account sees
//	GET    /admin/installations/{id}/servicedesks/{sd}/requesttypes  a service desk's request types
//	GET    /admin/installations/{id}/health            Jira webhook registered / manual, last Jira delivery, credentials
//	GET    /admin/installations/{id}/webhook-secret    the Jira webhook's URL and secret, again
//	POST   /admin/installations/{id}/webhook-secret/rotate  a new secret; the old one verifies for a day more
//	GET    /admin/backup                               a consistent snapshot of the store, still sealed
//	POST   /admin/keys/rotate                          {"key"?} -> a new primary master key, every wrapped key re-wrapped
//	GET    /admin/bundle                               the running bundle's app, signer and hashes
//	POST   /admin/bundle/reload                        load the bundle now in -bundle (signatures first)
//	POST   /admin/installations/{id}/schedule/{key}/fire  run a scheduled trigger now (fire.go)
//	POST   /admin/installations/{id}/events/{type}     a product event (avi:...) to its subscribed triggers, the body its JSON payload
package adminapi
