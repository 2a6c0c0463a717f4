package adminui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/host/adminapi"
	"github.com/chatbridge/chatbridge/host/queue"
)

// On a node of a cluster, the deliveries show every node's queue: the
// store's pending messages and lanes, each node's counters, and the
// installations' shares, from the admin API's own answer type.
func TestTheDeliveriesShowTheWholeClusterOnANodeOfOne(t *testing.T) {
	f := newFixture(t, false)
	v := adminapi.QueueView{
		Stats: queue.Stats{Pending: 1, Delivered: 7, DeadLetters: 1},
		DeadLetters: []queue.DeadLetter{{ID: "dl-b", Installation: "inst-1", Queue: "inbound", Attempts: 40,
			FailedAt: time.Date(2025, 1, 1, 3, 0, 0, 0, time.UTC), LastError: "timeout"}},
		Cluster: &adminapi.ClusterQueue{Pending: 5, Lanes: 3,
			Installations: []queue.InstallationView{{Installation: "inst-1", Pending: 5, Lanes: 3, DeadLetters: 1}},
			Nodes: []adminapi.NodeQueue{
				{Node: "node-a", Self: true, Stats: queue.Stats{Pending: 1, Delivered: 7}},
				{Node: "node-b", Stats: queue.Stats{Pending: 4, Delivered: 11, Retried: 2, DeadLettered: 1}},
			}},
	}
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	f.api.mu.Lock()
	f.api.queueAnswer = string(body)
	f.api.mu.Unlock()
	b := f.browser()
	b.signIn()
	p := b.get(Prefix)
	for _, want := range []string{
		`<span id="c-pending">5</span> messages waiting or in flight, in <span id="c-lanes">3</span> lanes`,
		`<tr><td><code>node-a</code> (this node)</td><td>1</td><td>7</td><td>0</td><td>0</td></tr>`,
		`<tr><td><code>node-b</code></td><td>4</td><td>11</td><td>2</td><td>1</td></tr>`,
		`<tr><td><code>inst-1</code></td><td>5</td><td>3</td><td>1</td></tr>`,
		`<code>dl-b</code>`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the home page lacks %s:\n%s", want, p.body)
		}
	}

	// A single node's answer has no cluster: no cluster section.
	f.api.mu.Lock()
	f.api.queueAnswer = ""
	f.api.mu.Unlock()
	if p := b.get(Prefix); strings.Contains(p.body, `id="cluster-nodes"`) || !strings.Contains(p.body, `id="q-pending"`) {
		t.Errorf("a single node's page shows a cluster, or no counters:\n%s", p.body)
	}
}
