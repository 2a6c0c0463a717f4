package main

// Issue #20: the nodes of a cluster read a project's configuration from a
// cache kept coherent by an etcd watch (host/storage/etcd, "Read cache").
// A change saved through one node's admin API must be what the other node
// uses for the next message.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/emulator/stack"
	"github.com/chatbridge/chatbridge/emulator/stack/stacktest"
)

// configSet saves settings of the dev project (config.set) through node
// i's admin API.
func (c *clusterStack) configSet(i int, settings map[string]any) {
	t := c.t
	t.Helper()
	var list []struct {
		ID string `json:"id"`
	}
	if code := stacktest.AdminCall(t, c.nodes[i].adminURL, c.token, "GET", "/admin/installations", &list); code != http.StatusOK || len(list) != 1 {
		t.Fatalf("node %d: installations: %d %+v", i+1, code, list)
	}
	payload, _ := json.Marshal(settings)
	req, _ := http.NewRequest("POST", c.nodes[i].adminURL+"/admin/installations/"+list[0].ID+"/resolve/config.set", bytes.NewReader(payload))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"ok":true`) {
		t.Fatalf("node %d: config.set: %d %s", i+1, resp.StatusCode, raw)
	}
}

// delivered is node i's chatbridge_queue_delivered_total: the queue
// deliveries it consumed.
func (c *clusterStack) delivered(i int) int64 {
	t := c.t
	t.Helper()
	req, _ := http.NewRequest("GET", c.nodes[i].adminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "chatbridge_queue_delivered_total "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("node %d: metrics line %q", i+1, line)
			}
			return n
		}
	}
	t.Fatalf("node %d: no chatbridge_queue_delivered_total in /metrics (%d): %s", i+1, resp.StatusCode, stacktest.Tail(string(raw), 2000))
	return 0
}

// TestE2E_ClusterAConfigChangeOnOneNodeIsSeenByTheOther changes the
// project's summary template through each node's admin API in turn; after
// each change, new chats' first messages (their lanes spread over both
// nodes) open requests whose summaries follow the new template, whichever
// node consumed them. A node serving its cached configuration after the
// other node's change would open a request under the old template.
func TestE2E_ClusterAConfigChangeOnOneNodeIsSeenByTheOther(t *testing.T) {
	c := startCluster(t, 2)
	const rounds, chats = 4, 4
	crossed := 0
	for round := range rounds {
		admin, other := round%2, 1-round%2
		prefix := fmt.Sprintf("cachee2e round %d:", round)
		c.configSet(admin, map[string]any{"projectKey": stack.Project, "summaryTemplate": prefix + " {text}"})
		before := c.delivered(other)
		for chat := range chats {
			text := fmt.Sprintf("cachee2e r%d c%d", round, chat)
			c.Say(t, stacktest.NewChat(), text)
			if req := c.WaitRequest(t, text); !strings.HasPrefix(req.Summary, prefix) {
				t.Errorf("round %d (config saved through node %d): request %s summary %q, want the prefix %q",
					round, admin+1, req.Key, req.Summary, prefix)
			}
		}
		if c.delivered(other) > before {
			crossed++
		}
	}
	// Each chat's lane lands on either node; with lanes shared out evenly,
	// that none of the 16 reached the node that did not save the change in
	// its round has odds of (1/2)^16.
	if crossed == 0 {
		t.Fatal("no message was consumed by the node that did not save the change: the scenario proved nothing")
	}
	t.Logf("%d of %d rounds had messages consumed by the other node", crossed, rounds)
}
