// Command links is a test plugin whose code names two https hosts
// literally: one it fetches, and one it only writes into a reply as a map
// link for a person to open, so the audit can tell egress from links.
package main

import (
	"fmt"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func main() {}

func init() {
	sdk.Register(sdk.Handlers{WebTrigger: func(env *sdk.Env, _ *abi.WebTriggerRequest) (*abi.Response, error) {
		if _, err := env.Fetch.Fetch(&abi.Request{Method: "GET", URL: "https://api.telegram.org/bot{{secret:t}}/getMe"}); err != nil {
			return nil, err
		}
		link := fmt.Sprintf("https://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f", 48.85837, 2.294481)
		return &abi.Response{Status: 200, Body: []byte(link)}, nil
	}})
}
