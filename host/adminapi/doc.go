// Package adminapi is the host's management API on the admin listener:
// installations (install, list, uninstall), the module's admin resolvers,
// and the queue's dead letters.
// JSON in and out; every request carries the admin bearer token, compared in
// constant time.
//
// # Endpoints
//
//	GET    /admin/installations                        list
//	POST   /admin/installations                        {"siteUrl","appAccountId","authorization"} -> installation, webhook URLs and secret
//	DELETE /admin/installations/{id}                   uninstall and purge
//	POST   /admin/installations/{id}/resolve/{function} raw payload -> the resolver's answer
//	GET    /admin/queue                                counters and dead letters (no payloads)
//	POST   /admin/queue/dead/{id}/replay               queue a dead letter again
//	DELETE /admin/queue/dead/{id}                      discard a dead letter
package adminapi
