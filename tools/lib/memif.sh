# Sourced by perf/memif.sh and tests/integration/memif.sh: a 3-node shiplogd cluster on
# net_memif (DESIGN.md §9), in a star around the leader.
#
# Node 1 (leader) is the memif server of three links: port 0 to the client (a bench),
# port 1 to node 2, port 2 to node 3; nodes 2 and 3 have one port (memif client) to
# node 1. Every memif has a fixed MAC (vdev mac=), every peer a static neighbour: no ARP
# on the data path. Sockets are files under SLM_SOCKDIR (socket-abstract=no).
#
# The caller sets: SLM_WORK (node directories), SLM_SOCKDIR, SLM_TAG (prefix of sockets
# and DPDK file prefixes), SLM_CLUSTER (cluster id); optionally SLM_LEADER_IDLE,
# SLM_FOLLOWER_IDLE (sleep), SLM_IDLE_SLEEP_US (100), SLM_LCORES (1), SLM_RING_RECORDS
# (16384), SLM_SEGMENT_MB (256).

SLM_CLIENT_IP=10.88.0.100
SLM_CLIENT_MAC=02:00:00:00:00:64
SLM_LEADER_SERVER=1=10.88.0.1,02:00:00:00:00:01

# slm_vdev INDEX ROLE NAME MAC: the EAL --vdev argument of one memif port.
slm_vdev() {
	echo "--vdev=net_memif$1,role=$2,id=0,socket=$SLM_SOCKDIR/$SLM_TAG-$3.sock,socket-abstract=no,mac=$4"
}

# slm_vdevs NODE: every --vdev argument of that node, one per line.
slm_vdevs() {
	if [ "$1" = 1 ]; then
		slm_vdev 0 server c 02:00:00:00:00:01
		slm_vdev 1 server n2 02:00:00:00:01:02
		slm_vdev 2 server n3 02:00:00:00:01:03
	else
		slm_vdev 0 client "n$1" "02:00:00:00:00:0$1"
	fi
}

# slm_client_vdev: the client's (bench's) port to the leader.
slm_client_vdev() { slm_vdev 0 client c "$SLM_CLIENT_MAC"; }

# slm_node_conf NODE POLICY DURABILITY: node NODE's shiplogd.ini on stdout.
slm_node_conf() {
	local i=$1 j idle=${SLM_FOLLOWER_IDLE:-sleep}
	[ "$i" = 1 ] && idle=${SLM_LEADER_IDLE:-sleep}
	cat <<CONF
[node]
id = $i
data_dir = $SLM_WORK/n$i/data
CONF
	if [ "$i" = 1 ]; then
		printf 'port = net_memif0\nport = net_memif1\nport = net_memif2\n'
	else
		printf 'port = net_memif0\n'
	fi
	cat <<CONF
ip = 10.88.0.$i
idle = $idle
idle_sleep_us = ${SLM_IDLE_SLEEP_US:-100}
lcores = ${SLM_LCORES:-1}

[cluster]
id = $SLM_CLUSTER
role = $([ "$i" = 1 ] && echo leader || echo follower)
leader = 1
policy = $2
durability = $3
CONF
	for j in 1 2 3; do
		[ "$j" = "$i" ] && continue
		if [ "$i" = 1 ]; then
			echo "peer = $j 10.88.0.$j 02:00:00:00:00:0$j port=$((j - 1))"
		elif [ "$j" = 1 ]; then
			echo "peer = 1 10.88.0.1 02:00:00:00:01:0$i port=0"
		else # never sent to: only the leader talks to followers
			echo "peer = $j 10.88.0.$j 02:00:00:00:00:0$j port=0"
		fi
	done
	cat <<CONF

[wal]
mode = direct
segment_mb = ${SLM_SEGMENT_MB:-256}
queue_records = 16384

[limits]
ring_records = ${SLM_RING_RECORDS:-16384}
CONF
}
