// Package jirascopes is the jira capability's rule: which Jira and JSM REST
// operations a module may call with the OAuth 2.0 scopes its manifest
// declares.
//
// The table of operations and their scope sets (jirascopes.go) is generated
// from the services' own specifications in testdata/specs by
// gen_jirascopes.go (go generate ./wit/jirascopes);
// TestJiraScopesMatchTheSpecifications fails when it drifts. It lives in the
// contract so that both sides hold it: the host enforces it (host/capability)
// and plugin/sdk/sdktest refuses a unit test the same calls, through the one
// function Decide.
package jirascopes
