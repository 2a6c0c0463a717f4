// Command deps2 is the next version of the deps test plugin: it parses YAML
// (gopkg.in/yaml.v3) instead of JSON and forwards the name with fetch, so
// `chatbridge audit -diff` has a dependency and a capability that changed.
package main

import (
	"gopkg.in/yaml.v3"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func main() {}

func init() {
	sdk.Register(sdk.Handlers{WebTrigger: func(env *sdk.Env, req *abi.WebTriggerRequest) (*abi.Response, error) {
		var in struct{ Name string }
		if err := yaml.Unmarshal(req.Body, &in); err != nil {
			return &abi.Response{Status: 400}, nil
		}
		if err := env.Storage.Set("last-name", []byte(in.Name), 0); err != nil {
			return nil, err
		}
		return env.Fetch.Fetch(&abi.Request{Method: "POST", URL: "https://names.example.com:8443/seen", Body: []byte(in.Name)})
	}})
}
