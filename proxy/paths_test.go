package proxy

// The public paths of a route id, for the tests that request them.
func WebTriggerPath(routeID string) string { return webTriggerPrefix + routeID }
func JiraPath(routeID string) string       { return jiraPrefix + routeID }
func DownloadPath(token string) string     { return downloadPrefix + token }
