package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/host/trigger/resolver"
)

// Reconfigure switches the dev project to another channel through the
// bridge's own admin resolver, as an admin would.
func (s *Stack) Reconfigure(t *testing.T, channel, token string) {
	t.Helper()
	var in tenant.Installation
	for _, i := range s.Node.Host.Registry().List() {
		if i.SiteURL == stack.Site {
			in = i
		}
	}
	payload, _ := json.Marshal(map[string]any{
		"projectKey": stack.Project, "enabled": true, "channel": channel,
		"botToken": token, "serviceDeskId": "1", "requestTypeId": "10",
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := resolver.Call(ctx, s.Node.Host, in.ID, "config.set", payload)
	if err != nil {
		t.Fatalf("config.set %s: %v", channel, err)
	}
	var a struct {
		OK bool `json:"ok"`
	}
	if json.Unmarshal(out, &a) != nil || !a.OK {
		t.Fatalf("config.set %s: %s", channel, out)
	}
}
