#!/bin/sh
# A local cluster for development, in the foreground (`make run-cluster`);
# Ctrl-C stops it all. Three etcd members on 127.0.0.1; with CHATBRIDGE set
# (the binary) and BUNDLE (a bundle directory), also the simulators, two
# `chatbridge dev` host nodes on the etcd cluster, and a balancer in front
# of them that the simulators deliver to. Data stays under
# $ETCD_CLUSTER_DATA (default data/etcd-cluster) and data/cluster (the
# nodes' shared dev keys), so a restart keeps the records; delete both to
# start empty.
#
# etcd client URLs: http://127.0.0.1:12379, :22379, :32379 (peers on
# :12380, :22380, :32380). Nodes: public 127.0.0.1:18441 and :18442, admin
# and dev console http://127.0.0.1:19091/ and :19092/; the balancer:
# https://127.0.0.1:8443; the simulators' control API:
# http://127.0.0.1:9191/_sim/. Plain HTTP to etcd on loopback only: for
# development, never for records that matter.
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
ready=
for i in $(seq 1 100); do
	if healthy; then
		ready=1
		break
	fi
	sleep 0.2
done
if [ -z "$ready" ]; then
	echo "the cluster did not become healthy; see $data/m*.log" >&2
	exit 1
fi
echo "ready etcd cluster: $endpoints (logs in $data/m*.log)"
if [ -z "${CHATBRIDGE:-}" ]; then
	echo "host nodes: chatbridge serve -storage etcd -etcd-endpoints $endpoints ... (README, Cluster (development))"
	wait
	exit 0
fi

# The host nodes share one data directory: its dev master key, signing key
# and certificate are what the nodes of a cluster must agree on.
nodes=data/cluster
mkdir -p "$nodes"
"$CHATBRIDGE" sims -data "$nodes" -listen 127.0.0.1:9191 >"$nodes/sims.log" 2>&1 &
pids="$pids $!"
sleep 1
for n in 1 2; do
	# Each node signs a copy of the bundle: two nodes never write one file.
	rm -rf "$nodes/bundle$n" && cp -r "$BUNDLE" "$nodes/bundle$n"
	"$CHATBRIDGE" dev -sims http://127.0.0.1:9191 -data "$nodes" -bundle "$nodes/bundle$n" \
		-listen 127.0.0.1:1844$n -admin 127.0.0.1:1909$n -public-url https://127.0.0.1:8443 \
		-storage etcd -etcd-endpoints "$endpoints" >"$nodes/node$n.log" 2>&1 &
	pids="$pids $!"
	# One at a time: the first installs the dev site, the second finds it.
	for i in $(seq 1 300); do
		grep -q "dev console:" "$nodes/node$n.log" && break
		sleep 0.2
	done
	grep -q "dev console:" "$nodes/node$n.log" || { echo "node $n did not start; see $nodes/node$n.log" >&2; exit 1; }
done
"$CHATBRIDGE" balance -listen 127.0.0.1:8443 -to 127.0.0.1:18441,127.0.0.1:18442 >"$nodes/balance.log" 2>&1 &
pids="$pids $!"
echo "ready host nodes behind https://127.0.0.1:8443; dev consoles http://127.0.0.1:19091/ and :19092/ (logs in $nodes/)"
echo "chat as a customer: curl -s -X POST -H \"Authorization: Bearer \$(cat $nodes/admin.token)\" http://127.0.0.1:9191/_sim/telegram/send -d '{\"chat_id\":1001,\"text\":\"Hello\"}'"
echo "kill a node (kill -9) and keep chatting: the other takes over its queued messages"
wait
