#!/bin/sh
# A local three-member etcd cluster on 127.0.0.1 for development, in the
# foreground (`make run-cluster`); Ctrl-C stops it. Data stays under
# $ETCD_CLUSTER_DATA (default data/etcd-cluster), so a restart keeps the
# records; delete the folder to start empty.
#
# Client URLs: http://127.0.0.1:12379, :22379, :32379 (peers on :12380,
# :22380, :32380). Plain HTTP on loopback only: for development, never for
# records that matter.
set -eu

command -v etcd >/dev/null || { echo "no etcd on PATH: run 'make etcd' (Debian's etcd-server)" >&2; exit 1; }
data=${ETCD_CLUSTER_DATA:-data/etcd-cluster}
mkdir -p "$data"
chmod 700 "$data"

# etcd reads ETCD_* variables as flags: start the members without any.
for v in $(env | sed -n 's/^\(ETCD_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

cluster=m1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380
pids=
stop() {
	trap - INT TERM EXIT
	[ -n "$pids" ] && kill $pids 2>/dev/null
	wait
}
trap stop INT TERM EXIT

for i in 1 2 3; do
	# A data directory that exists already makes etcd ignore the
	# --initial-cluster* flags and rejoin with what it holds.
	etcd --name "m$i" --data-dir "$data/m$i" \
		--listen-client-urls "http://127.0.0.1:${i}2379" --advertise-client-urls "http://127.0.0.1:${i}2379" \
		--listen-peer-urls "http://127.0.0.1:${i}2380" --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
		--initial-cluster "$cluster" --initial-cluster-token chatbridge-dev --initial-cluster-state new \
		--logger zap --log-outputs "$data/m$i.log" &
	pids="$pids $!"
done

endpoints=http://127.0.0.1:12379,http://127.0.0.1:22379,http://127.0.0.1:32379
healthy() {
	if command -v etcdctl >/dev/null; then
		etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1
	else
		sleep 3 # no etcdctl (Debian's etcd-client): give the election time
	fi
}
for i in $(seq 1 100); do
	if healthy; then
		echo "ready etcd cluster: $endpoints (logs in $data/m*.log)"
		echo "host nodes: chatbridge serve -storage etcd -etcd-endpoints $endpoints ... (README, Cluster (development))"
		wait
		exit 0
	fi
	sleep 0.2
done
echo "the cluster did not become healthy; see $data/m*.log" >&2
exit 1
