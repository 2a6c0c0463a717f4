package console

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/chatbridge/chatbridge/proxy/publicurl"
)

// demoPage is the widget demo: a page of the console's origin that embeds
// the website widget with its one script tag.
var demoPage = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ChatBridge widget demo</title></head>
<body><main><h1>A page with the ChatBridge widget</h1>
<p>This page's origin is <code>{{.Origin}}</code>. The widget answers it once project
<code>{{.Project}}</code> uses the website widget and allows this origin:
<code>config.set {"projectKey": "{{.Project}}", "channel": "web", "allowedOrigins": ["{{.Origin}}"], ...}</code>.
Then open the chat button at the bottom right; agents reply in the Jira simulator.</p>
</main>
<script src="{{.Script}}" async data-endpoint="{{.Endpoint}}"></script>
</body></html>
`))

// demo serves GET /demo/widget?project=KEY[&installation=ID]: the page
// loads the widget from the edge, so its policy allows the edge's origin
// for scripts, requests and the widget's own styles, and nothing else. Only
// the console's own pages may frame it (its messenger pane does).
func (c *Console) demo(w http.ResponseWriter, r *http.Request) {
	h, _ := c.attached()
	if h == nil {
		writeError(w, http.StatusServiceUnavailable, "no host attached yet")
		return
	}
	project := r.URL.Query().Get("project")
	edge := h.PublicURL()
	if project == "" || edge == "" {
		writeError(w, http.StatusBadRequest, "name the project: /demo/widget?project=KEY (and the host needs a public URL)")
		return
	}
	var route string
	for _, in := range h.Registry().List() {
		if id := r.URL.Query().Get("installation"); id == "" || id == in.ID {
			if route = in.Routes["web-widget"]; route != "" {
				break
			}
		}
	}
	if route == "" {
		writeError(w, http.StatusNotFound, "no installation with a web-widget trigger")
		return
	}
	origin := "http://" + r.Host
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src "+edge+"; connect-src "+edge+
		"; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = demoPage.Execute(w, map[string]string{
		"Origin": origin, "Project": strings.ToUpper(project), "Script": publicurl.Widget(edge),
		"Endpoint": publicurl.WebTrigger(edge, route) + "?project=" + strings.ToUpper(project),
	})
}
