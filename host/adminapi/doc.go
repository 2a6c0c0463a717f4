// Package adminapi is the host's management API on the admin listener:
// installations (install, list, uninstall) and the module's admin resolvers.
// JSON in and out; every request carries the admin bearer token, compared in
// constant time.
//
// # Endpoints
//
//	GET    /admin/installations                        list
//	POST   /admin/installations                        {"siteUrl","appAccountId","authorization"} -> installation, webhook URLs and secret
//	DELETE /admin/installations/{id}                   uninstall and purge
//	POST   /admin/installations/{id}/resolve/{function} raw payload -> the resolver's answer
package adminapi
