package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/queue"
	"github.com/chatbridge/chatbridge/host/storage/etcd/etcdtest"
	"github.com/chatbridge/chatbridge/host/trigger/webtrigger"
	"github.com/chatbridge/chatbridge/internal/waitfor"
	"github.com/chatbridge/chatbridge/wit/abi"
)

// startEtcdNode starts a node of the probe plugin on the etcd cluster.
// Nodes of one test share c's data directory: its dev master key and
// admin token are what the nodes of a cluster share.
func startEtcdNode(t *testing.T, c Config) *Node {
	t.Helper()
	n, err := Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	return n
}

func adminQueue(t *testing.T, n *Node) adminapi.QueueView {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.AdminURL+"/admin/queue", nil)
	req.Header.Set("Authorization", "Bearer "+n.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/queue: %s", resp.Status)
	}
	var v adminapi.QueueView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func push(t *testing.T, n *Node, installation, value, order string, delay int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"op": "queue.push", "key": "deliveries", "value": value, "order": order, "ttl": delay})
	resp, err := webtrigger.Invoke(t.Context(), n.Host, installation, "probe", &abi.WebTriggerRequest{Method: "POST", Path: "/", Body: body})
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("push through a node: %v, %+v", err, resp)
	}
	var r struct{ OK bool }
	if err := json.Unmarshal(resp.Body, &r); err != nil || !r.OK {
		t.Fatalf("push through a node: %s", resp.Body)
	}
}

// Two nodes on one etcd cluster: messages queued and dead-lettered through
// either node show in both nodes' GET /admin/queue, with each node's
// counters, and a dead letter one node buried is discarded through the
// other at once.
func TestAdminQueue_TwoNodesOnOneEtcdShowTheWholeCluster(t *testing.T) {
	members := etcdtest.Start(t, 1)
	c := config(t)
	c.Store = Store{Backend: "etcd", Endpoints: members.Endpoints, Prefix: "t/"}
	c.ClusterTTL = 2 * time.Second
	c.Queue = queue.Config{MaxAttempts: 1} // the probe's "retry-once" is a dead letter at once
	a := startEtcdNode(t, c)
	b := startEtcdNode(t, c)
	in, err := a.Host.Registry().CreateWithoutSite(t.Context(), []string{"probe"})
	if err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 0, "b knows the installation", func() string {
		if _, ok := b.Host.Registry().Get(in.ID); !ok {
			return "not yet"
		}
		return ""
	})

	// Through a: one message due in ten minutes. Through b: another, on a lane
	// of its own, and one its consumer asks to retry: with one attempt, a
	// dead letter, buried by b.
	push(t, a, in.ID, "later-a", "chat-a", 600)
	push(t, b, in.ID, "later-b", "chat-b", 600)
	push(t, b, in.ID, "retry-once", "chat-c", 0)

	for name, n := range map[string]*Node{"a": a, "b": b} {
		waitfor.Until(t, 0, "node "+name+" shows the whole cluster's queue", func() string {
			v := adminQueue(t, n)
			cq := v.Cluster
			switch {
			case cq == nil:
				return "no cluster view"
			case cq.Pending != 2 || cq.Lanes != 2:
				return fmt.Sprintf("pending %d in %d lanes, want 2 in 2", cq.Pending, cq.Lanes)
			case len(v.DeadLetters) != 1 || v.DeadLetters[0].Installation != in.ID || v.Stats.DeadLetters != 1:
				return fmt.Sprintf("dead letters %+v (stats %d), want the one b buried", v.DeadLetters, v.Stats.DeadLetters)
			case len(cq.Installations) != 1 || cq.Installations[0] != (queue.InstallationView{Installation: in.ID, Pending: 2, Lanes: 2, DeadLetters: 1}):
				return fmt.Sprintf("installations %+v", cq.Installations)
			case len(cq.Nodes) != 2 || !cq.Nodes[0].Self || cq.Nodes[0].Node != n.Cluster.ID():
				return fmt.Sprintf("nodes %+v, want this one first and the other", cq.Nodes)
			}
			var deadLettered, pending int64
			for _, nq := range cq.Nodes {
				deadLettered += nq.Stats.DeadLettered
				pending += nq.Stats.Pending
			}
			if deadLettered != 1 || pending != 2 {
				return fmt.Sprintf("the nodes' counters say %d dead-lettered, %d pending; want 1 and 2", deadLettered, pending)
			}
			return ""
		})
	}
	bNode := slices.IndexFunc(adminQueue(t, a).Cluster.Nodes, func(nq adminapi.NodeQueue) bool { return nq.Node == b.Cluster.ID() })
	if bNode < 0 || adminQueue(t, a).Cluster.Nodes[bNode].Stats.DeadLettered != 1 {
		t.Fatalf("a does not show b burying the dead letter: %+v", adminQueue(t, a).Cluster.Nodes)
	}

	// a discards a letter b buried just now, which a has neither swept nor
	// viewed: it finds it in the store.
	first := adminQueue(t, a).DeadLetters[0].ID
	if err := a.Host.Queue().Discard(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	push(t, b, in.ID, "retry-once", "chat-d", 0)
	var id string
	waitfor.Until(t, 0, "b buries the second letter", func() string {
		for _, d := range b.Host.Queue().DeadLetters() { // b's memory: the first one too, until its sweep
			if d.ID != first {
				id = d.ID
				return ""
			}
		}
		return "not yet"
	})
	if err := a.Host.Queue().Discard(t.Context(), id); err != nil {
		t.Fatalf("a discards the dead letter b buried: %v", err)
	}
	for name, n := range map[string]*Node{"a": a, "b": b} {
		if v := adminQueue(t, n); len(v.DeadLetters) != 0 {
			t.Fatalf("node %s still lists %+v", name, v.DeadLetters)
		}
	}
	if err := b.Host.Queue().Discard(t.Context(), "no-such-letter"); err != queue.ErrNotFound {
		t.Fatalf("a made-up id: %v, want queue.ErrNotFound", err)
	}
}
