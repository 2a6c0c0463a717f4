package bundle

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestManifest_WebTriggerPerAddressPacesAndRefusesOutOfRange(t *testing.T) {
	const head = "app:\n  id: \"ari:cloud:ecosystem::app/x\"\nmodules:\n  function: [{key: main, handler: index.handler}]\n  webtrigger:\n"
	m, err := ParseManifest([]byte(head + "    - {key: hook, function: main}\n    - {key: widget, function: main, perAddress: {requests: 60, per: 1m, burst: 20}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := m.Modules.WebTrigger[0].PerAddress.Pace(); ok {
		t.Error("a trigger without perAddress has a per-address pace")
	}
	every, burst, ok := m.Modules.WebTrigger[1].PerAddress.Pace()
	if !ok || every != time.Second || burst != 20 {
		t.Errorf("pace = %v, %d, %v; want 1s, 20, true", every, burst, ok)
	}
	for _, bad := range []string{
		"requests: 0, per: 1s", "requests: 5, per: 1s, burst: 6", "requests: 5", "requests: 5, per: soon",
		"requests: 5, per: 48h", "requests: 5, per: 1s, surprise: 1",
	} {
		_, err := ParseManifest([]byte(head + "    - {key: widget, function: main, perAddress: {" + bad + "}}\n"))
		if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), "perAddress") {
			t.Errorf("%s: err = %v, want an invalid manifest naming perAddress", bad, err)
		}
	}
}
