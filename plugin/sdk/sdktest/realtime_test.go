package sdktest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/plugin/sdk"
	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
	"github.com/chatbridge/chatbridge/wit/abi"
)

func TestRealtimeFakeAppliesTheContractAndRecords(t *testing.T) {
	e := sdktest.NewEnv()
	if err := e.Realtime.Publish("web:s1", []byte(`{"t":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	tok, err := e.Realtime.SignToken("web:s1", "https://shop.example", 0)
	if err != nil || tok == "" {
		t.Fatalf("SignToken = %q, %v", tok, err)
	}
	if p := e.Live.Published(); len(p) != 1 || p[0].Channel != "web:s1" || string(p[0].Payload) != `{"t":"hi"}` {
		t.Errorf("Published = %+v", p)
	}
	if tk := e.Live.Tokens(); len(tk) != 1 || tk[0].TTL != abi.DefaultRealtimeTokenTTL*time.Second || tk[0].Origin != "https://shop.example" {
		t.Errorf("Tokens = %+v", tk)
	}
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"a channel with a space", e.Realtime.Publish("web s1", nil), sdk.ErrInvalidArgument},
		{"a payload over 32 KiB", e.Realtime.Publish("web:s1", make([]byte, abi.MaxRealtimePayloadLen+1)), sdk.ErrLimitExceeded},
		{"an origin with a path", func() error { _, err := e.Realtime.SignToken("web:s1", "https://a.example/x", 0); return err }(), sdk.ErrInvalidArgument},
		{"over an hour", func() error { _, err := e.Realtime.SignToken("web:s1", "", 2*time.Hour); return err }(), sdk.ErrInvalidArgument},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
}

func TestNewEnvForHoldsRealtimeToTheManifest(t *testing.T) {
	without, err := sdktest.ParseManifest([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := sdktest.NewEnvFor(without).Realtime.Publish("web:s1", nil); !errors.Is(err, sdk.ErrAccessDenied) {
		t.Errorf("without the capability: %v, want access-denied", err)
	}
	with, err := sdktest.ParseManifest([]byte(strings.Replace(manifest, "  id: \"ari:cloud:ecosystem::app/t\"\n",
		"  id: \"ari:cloud:ecosystem::app/t\"\n  realtime: {payloadBytes: 8}\n", 1) + ""))
	if err != nil {
		t.Fatal(err)
	}
	with.Capabilities = append(with.Capabilities, abi.CapabilityRealtime)
	e := sdktest.NewEnvFor(with)
	if err := e.Realtime.Publish("web:s1", make([]byte, 8)); err != nil {
		t.Errorf("at app.realtime.payloadBytes: %v", err)
	}
	if err := e.Realtime.Publish("web:s1", make([]byte, 9)); !errors.Is(err, sdk.ErrLimitExceeded) {
		t.Errorf("over app.realtime.payloadBytes: %v, want limit-exceeded", err)
	}
}
