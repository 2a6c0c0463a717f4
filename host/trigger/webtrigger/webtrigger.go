package webtrigger

import (
	"context"
	"fmt"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/host/tenant"
	"github.com/chatbridge/chatbridge/proxy/publicurl"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// Invoke runs the web trigger named trigger of installation id with req.
func Invoke(ctx context.Context, h *host.Host, id, trigger string, req *abi.WebTriggerRequest) (*abi.Response, error) {
	out, err := h.Invoke(ctx, host.Invocation{
		Installation: id, Kind: bundle.KindWebTrigger, Export: abi.ExportHandleWebTrigger, Op: "webtrigger " + trigger,
		Encode: func(c abi.Context) []byte {
			req.Context, req.Trigger = c, trigger
			return req.Append(nil)
		},
	})
	if err != nil {
		return nil, err
	}
	var resp abi.Response
	if err := resp.Decode(out); err != nil {
		return nil, fmt.Errorf("webtrigger: answer of %s: %w", trigger, err)
	}
	return &resp, nil
}

// URL is the public URL of an installation's web trigger key.
func URL(h *host.Host, in tenant.Installation, key string) string {
	return publicurl.WebTrigger(h.PublicURL(), in.Routes[key])
}
