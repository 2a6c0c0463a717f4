// Package jiraevent is the way Jira's admin webhooks enter the module: it
// checks a delivery's signature with the installation's webhook secret
// before the sandbox is entered, maps the Jira event to the Forge product
// event a manifest subscribes to, applies the trigger's filter.ignoreSelf,
// and runs every subscribed trigger on one bundle.
//
// Sign is the one implementation of Jira's signature; the Jira simulator and
// the tests sign with it too.
package jiraevent
