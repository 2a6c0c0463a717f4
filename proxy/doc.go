// Package proxy is the internet-facing edge: a fasthttp server that
// terminates HTTPS, applies limits, and routes bot and Jira webhooks to the
// host's installations through the Backend interface.
package proxy
