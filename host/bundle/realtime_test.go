package bundle

import (
	"errors"
	"strings"
	"testing"
)

func TestManifest_RealtimeLimitsDefaultAndRefuseOutOfRange(t *testing.T) {
	const head = "app:\n  id: \"ari:cloud:ecosystem::app/x\"\n"
	m, err := ParseManifest([]byte(head + "permissions: {capabilities: [realtime]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Realtime{PayloadBytes: 32768, OperationsPerSecond: 50, SubscribersPerInstallation: 2000, SubscribersPerAddress: 8}
	if got := m.RealtimeLimits(); got != want {
		t.Errorf("defaults: %+v, want %+v", got, want)
	}
	m, err = ParseManifest([]byte(head + "  realtime: {payloadBytes: 4096, operationsPerSecond: 5, subscribersPerInstallation: 10, subscribersPerAddress: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.RealtimeLimits(); got != (Realtime{4096, 5, 10, 2}) {
		t.Errorf("set: %+v", got)
	}
	for _, bad := range []string{
		"payloadBytes: 32769", "operationsPerSecond: 51", "subscribersPerInstallation: 20001",
		"subscribersPerAddress: 2001", "payloadBytes: -1", "surprise: 1",
	} {
		_, err := ParseManifest([]byte(head + "  realtime: {" + bad + "}\n"))
		if !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), "app.realtime") {
			t.Errorf("%s: err = %v, want an invalid manifest naming app.realtime", bad, err)
		}
	}
}
