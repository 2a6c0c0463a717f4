// Command egress is a test plugin whose code names an https host literally,
// so the audit can check it against the manifest's egress list.
package main

import (
	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func main() {}

func init() {
	sdk.Register(sdk.Handlers{WebTrigger: func(env *sdk.Env, _ *abi.WebTriggerRequest) (*abi.Response, error) {
		return env.Fetch.Fetch(&abi.Request{Method: "GET", URL: "https://api.telegram.org/bot{{secret:t}}/getMe"})
	}})
}
