// Command deps is a test plugin that depends on modules outside this one
// (github.com/tidwall/gjson and what it needs), so the audit's SBOM,
// vulnerability check and diff have real dependencies to report.
package main

import (
	"github.com/tidwall/gjson"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func main() {}

func init() {
	sdk.Register(sdk.Handlers{WebTrigger: func(env *sdk.Env, req *abi.WebTriggerRequest) (*abi.Response, error) {
		name := gjson.GetBytes(req.Body, "name").String()
		if err := env.Storage.Set("last-name", []byte(name), 0); err != nil {
			return nil, err
		}
		return &abi.Response{Status: 200, Body: []byte(name)}, nil
	}})
}
