package schedule

import (
	"context"
	"fmt"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/bundle"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// ForHost returns the Runtime of a host: the running bundle's scheduled
// triggers, the installations the host knows, and the scheduled-trigger
// invocation.
func ForHost(h *host.Host) Runtime { return hostRuntime{h} }

type hostRuntime struct{ h *host.Host }

var _ Runtime = hostRuntime{}

func (r hostRuntime) Triggers() []bundle.ScheduledTrigger {
	b := r.h.Bundle()
	if b == nil {
		return nil
	}
	return b.Manifest.Modules.ScheduledTrigger
}

func (r hostRuntime) Installations() []string {
	list := r.h.Registry().List()
	ids := make([]string, len(list))
	for i, in := range list {
		ids[i] = in.ID
	}
	return ids
}

// Scheduled invokes the trigger if the running bundle still declares it: a
// reload may have dropped it since the last scan. The check and the call
// run on one held bundle.
func (r hostRuntime) Scheduled(ctx context.Context, installation, trigger string) error {
	run, err := r.h.Acquire()
	if err != nil {
		return err
	}
	defer run.Release()
	declared := false
	for _, t := range run.Manifest().Modules.ScheduledTrigger {
		declared = declared || t.Key == trigger
	}
	if !declared {
		return fmt.Errorf("%w: scheduled trigger %q", host.ErrNoTrigger, trigger)
	}
	_, err = run.Invoke(ctx, host.Invocation{
		Installation: installation, Kind: bundle.KindScheduledTrigger, Export: abi.ExportHandleScheduled, Op: "scheduled " + trigger,
		Encode: func(c abi.Context) []byte {
			sc := abi.ScheduledCall{Context: c, Trigger: trigger}
			return sc.Append(nil)
		},
	})
	return err
}
