package cluster

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Publish stores value as this node's report (its queue's counters, say)
// on the node's session lease, so that it goes when the node does. A node
// publishes every few seconds, not per message; a node that joined again
// after its session lapsed publishes under its new id.
func (n *Node) Publish(ctx context.Context, value []byte) error {
	s, id, err := n.current()
	if err != nil {
		return err
	}
	if _, err := n.client.Put(ctx, n.key("reports", id), string(value), clientv3.WithLease(s.Lease())); err != nil {
		return fmt.Errorf("cluster: publish: %w", err)
	}
	return nil
}

// Published reads every live node's last report, by node id, with one
// request.
func (n *Node) Published(ctx context.Context) (map[string][]byte, error) {
	prefix := n.key("reports", "")
	resp, err := n.client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cluster: reports: %w", err)
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), prefix)] = kv.Value
	}
	return out, nil
}
