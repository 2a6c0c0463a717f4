package adminapi

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/chatbridge/chatbridge/host"
	"github.com/chatbridge/chatbridge/host/queue"
)

// Reports are the nodes' reports of a cluster (host/cluster.Node): each
// node publishes its queue's counters as JSON (queue.Stats) every few
// seconds.
type Reports interface {
	// ID names this node.
	ID() string
	// Published reads every live node's last report, by node id.
	Published(ctx context.Context) (map[string][]byte, error)
}

// ClusterQueue is the whole cluster's queue in GET /admin/queue: what the
// store holds, and each live node's counters.
type ClusterQueue struct {
	// Pending, Lanes and Installations are read from the store: every
	// node's messages.
	Pending       int64                    `json:"pending"`
	Lanes         int                      `json:"lanes"`
	Installations []queue.InstallationView `json:"installations"`
	// Nodes are the live nodes' counters, this node's first.
	Nodes []NodeQueue `json:"nodes"`
}

// NodeQueue is one node's queue: Stats.Pending counts the messages of the
// lanes it consumes; the others count since it started.
type NodeQueue struct {
	Node  string      `json:"node"`
	Self  bool        `json:"self,omitempty"`
	Stats queue.Stats `json:"stats"`
}

// clusterQueue reads the queue of the whole cluster: the records from the
// store, the counters from the nodes' reports. This node's own counters
// are its live ones, not its last report.
func clusterQueue(ctx context.Context, h *host.Host, c Reports) (QueueView, error) {
	v, err := h.QueueView(ctx)
	if err != nil {
		return QueueView{}, err
	}
	reports, err := c.Published(ctx)
	if err != nil {
		return QueueView{}, err
	}
	self := c.ID()
	stats := h.Queue().Stats()
	nodes := []NodeQueue{{Node: self, Self: true, Stats: stats}}
	for id, raw := range reports {
		var s queue.Stats
		if id == self || json.Unmarshal(raw, &s) != nil {
			continue
		}
		nodes = append(nodes, NodeQueue{Node: id, Stats: s})
	}
	slices.SortFunc(nodes[1:], func(a, b NodeQueue) int { return strings.Compare(a.Node, b.Node) })
	stats.DeadLetters = int64(len(v.DeadLetters))
	return QueueView{Stats: stats, DeadLetters: v.DeadLetters,
		Cluster: &ClusterQueue{Pending: v.Pending, Lanes: v.Lanes, Installations: v.Installations, Nodes: nodes}}, nil
}
