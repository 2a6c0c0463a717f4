package schedule

import (
	"context"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/cluster"
	"github.com/chatbridge/chatbridge/host/storage/etcd"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	"github.com/chatbridge/chatbridge/host/storage/seal"
	"github.com/chatbridge/chatbridge/internal/waitfor"
)

// Two host nodes on a three-member etcd cluster, each with its own
// connection, sealed store, session and schedule, fire each installation's
// trigger once per interval in total.
func TestSchedule_TwoNodesOverEtcdFireOncePerInterval(t *testing.T) {
	const period = time.Second
	ec := etcdtest.Start(t, 3)
	key := masterKey(t)
	seen := &firings{}
	join := func(name string) *node {
		ctx := context.Background()
		db, err := etcd.Open(ctx, etcd.Config{Endpoints: ec.Endpoints, Prefix: "t/data/"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := seal.Open(ctx, db, []*seal.MasterKey{key}, seal.Config{})
		if err != nil {
			_ = db.Close()
			t.Fatal(err)
		}
		cn, err := cluster.Join(ctx, db.Client(), cluster.Config{Prefix: "t/cluster/", TTL: 2 * time.Second, Logger: quiet})
		if err != nil {
			_ = st.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cn.Close()
			_ = st.Close() // closes db
		})
		// Registered after the store's cleanup, so it runs before it.
		return startNode(t, name, st, host.Config{Claims: cn, RegistryRefresh: 100 * time.Millisecond}, period, seen)
	}
	a, b := join("a"), join("b")
	ids := []string{
		a.install(t, "https://one.atlassian.net"),
		a.install(t, "https://two.atlassian.net"),
		b.install(t, "https://three.atlassian.net"),
	}
	const want = 4
	waitfor.Until(t, 0, "four firings of every installation", waitfor.True(func() bool {
		for _, id := range ids {
			if count(t, a.store, id) < want {
				return false
			}
		}
		return true
	}))

	a.stop()
	b.stop()
	byNode := map[string]int{}
	for _, id := range ids {
		checkOncePerInterval(t, a.store, seen, id, period)
		for _, f := range seen.of(id) {
			byNode[f.node]++
		}
	}
	sa, sb := a.sched.Stats(), b.sched.Stats()
	t.Logf("firings by node %v; node a %+v, node b %+v", byNode, sa, sb)
	if sa.Busy+sa.NotDue+sb.Busy+sb.NotDue == 0 {
		t.Error("neither node ever found a trigger claimed or fired by the other: the two did not share the schedule")
	}
}
