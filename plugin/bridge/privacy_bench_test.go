package bridge

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/chatbridge/chatbridge/plugin/sdk/sdktest"
)

// BenchmarkForgetAmong10000Mappings measures a forget's scan of a project
// with 10,000 mappings and 10,000 delivery records (no index by chat).
func BenchmarkForgetAmong10000Mappings(b *testing.B) {
	env := sdktest.NewEnv()
	st := store{env.Storage}
	for i := 0; i < 10000; i++ {
		rec, _ := json.Marshal(issueRecord{Project: testProject, Channel: "telegram", Chat: strconv.Itoa(1000 + i)})
		_ = env.Store.Set(issueKey("SUP-"+strconv.Itoa(i)), rec, 0)
		p, _ := json.Marshal(progress{Owner: "x", Issue: "SUP-" + strconv.Itoa(i)})
		_ = env.Store.Set(inboundDedupeKey("tg", testProject, strconv.Itoa(i)), p, 0)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := forgetChat(st, testProject, "telegram", "none", builtin); err != nil {
			b.Fatal(err)
		}
	}
}
