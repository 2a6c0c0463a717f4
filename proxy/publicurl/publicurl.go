package publicurl

import "strings"

// The public path prefixes of the edge. The edge routes them; the host
// builds the URLs it hands out (to the module, to Jira's webhook settings,
// to a messenger fetching a download link) from the same constants.
const (
	// WebTriggerPrefix leads to a module's web trigger: GET and POST.
	WebTriggerPrefix = "/x/"
	// JiraEventsPrefix leads to an installation's Jira webhook: POST.
	JiraEventsPrefix = "/jira/"
	// DownloadPrefix leads to a single-use download link: GET and HEAD.
	DownloadPrefix = "/dl/"
	// RealtimePrefix leads to a realtime subscription (Server-Sent
	// Events): GET.
	RealtimePrefix = "/rt/"
	// UploadPrefix leads to a single-use upload link: POST.
	UploadPrefix = "/ul/"
	// WidgetScript is the website chat widget's script: GET and HEAD.
	WidgetScript = "/w/widget.js"
)

// WebTrigger is the public URL of a web trigger's route id under base, the
// edge's public URL (e.g. https://bridge.example.com; a trailing slash is
// ignored).
func WebTrigger(base, routeID string) string { return join(base, WebTriggerPrefix, routeID) }

// JiraEvents is the public URL Jira's webhooks for a route id go to.
func JiraEvents(base, routeID string) string { return join(base, JiraEventsPrefix, routeID) }

// Download is the public URL of a download link's token.
func Download(base, token string) string { return join(base, DownloadPrefix, token) }

// Upload is the public URL of an upload link's token.
func Upload(base, token string) string { return join(base, UploadPrefix, token) }

// Realtime is the public URL a browser subscribes at with a realtime token.
func Realtime(base, token string) string { return join(base, RealtimePrefix, token) }

// Widget is the URL of the widget's script under base.
func Widget(base string) string { return strings.TrimSuffix(base, "/") + WidgetScript }

func join(base, prefix, id string) string { return strings.TrimSuffix(base, "/") + prefix + id }
