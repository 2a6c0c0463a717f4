// Package medialink hands out short-lived, single-use download links for
// Jira attachments and serves them by streaming the attachment from the
// installation's site, and single-use upload links that stream a browser's
// file to the site's service desk.
//
// Messengers such as Viber take media by URL only. A link is
// PublicURL + "/dl/" + token, the token 32 random bytes in URL-safe base64.
// The store keeps only SHA-256(token) (sealed, in the host's own records,
// keyspace storage.Dedupe) with the installation, the attachment id and the
// expiry, and a time to live equal to the link's; the token itself is
// nowhere but in the URL handed to the module.
//
// # Redeeming
//
// Open with consume set looks the record up and deletes it before anything
// is fetched, so a link works once, even when two requests race (one lock
// guards the look-up and the delete). It then asks the site for the
// attachment's content with the installation's credentials and hands back
// the response body to be copied to the client: nothing is written to disk
// or to storage. Jira Cloud answers with a redirect to its media host;
// redirects are followed over https only, and the credentials never go to
// another host. Open without consume (for HEAD) leaves the link usable.
// A missing, used or expired link, an uninstalled installation and an
// attachment the site no longer has are all ErrNotFound.
//
// # Upload links
//
// An upload link is PublicURL + "/ul/" + token, minted for an
// installation, a service desk, the page origin allowed to use it, a size
// limit (at most Config.MaxUploadBytes, 100 MiB by default; the capability
// holds a link to the bundle's app.uploads.maxBytes, 10 MiB by default), a
// subject the
// module chose and a lifetime of at most 15 minutes. The store keeps only
// SHA-256(token) with those (sealed, keyspace storage.Dedupe, the link's
// lifetime). Receive uses the link up before anything else, as Open does,
// refuses a page of another origin, then streams the file part of the
// browser's multipart body into the service desk's attachTemporaryFile
// through a pipe: the file is never held whole, never on disk, never in
// the store or a log. A file over the link's limit cuts the site's request
// short, so the site keeps nothing of it. The temporary attachment ids and
// the subject are kept ResultTTL (10 minutes), under SHA-256(token) too,
// for Result: the module that minted the link reads them, checks the
// subject and attaches them to its request.
package medialink
