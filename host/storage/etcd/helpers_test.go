package etcd

import clientv3 "go.etcd.io/etcd/client/v3"

func clientRev(rev int64) clientv3.OpOption { return clientv3.WithRev(rev) }
