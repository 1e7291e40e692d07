#!/usr/bin/env bash
# Three nodes over net_memif (shared memory between processes; tools/lib/memif.sh),
# policy all, durability fsync: writes through shiplog-bench-dpdk, the DPDK client,
# then every acknowledged write is on every node and all WALs agree, and the leader
# sent record bytes by reference only (DESIGN.md §4, §9).
. "$(dirname "$0")/lib.sh"

# shellcheck source=../../tools/lib/memif.sh
. "$SL_TOOLS/lib/memif.sh"
SLM_WORK=$SL_DIR SLM_SOCKDIR=$SL_DIR/sock SLM_TAG=$SL_NAME SLM_CLUSTER=$SL_CLUSTER_ID
SLM_SEGMENT_MB=16
mkdir -p "$SLM_SOCKDIR"
eal="--no-pci --no-huge -m 512 --log-level=*:warning"

start_node() { # I
	local i=$1
	mkdir -p "$SL_DIR/n$i/data"
	slm_node_conf "$i" "all durability=fsync level=flushed" fsync >"$SL_DIR/n$i/shiplogd.ini"
	# shellcheck disable=SC2046,SC2086
	sl_proc_launch "$SL_DIR/n$i" "$SL_BUILD/dataplane/shiplogd" -l 0 $eal \
		--file-prefix "$SL_NAME-n$i" $(slm_vdevs "$i") -- --config "$SL_DIR/n$i/shiplogd.ini"
}

start_node 1
sl_wait_log 1 "role " 30 || fail "node 1 did not start"
start_node 2
start_node 3
sl_wait_log 2 "role " 30 || fail "node 2 did not start"
sl_wait_log 3 "role " 30 || fail "node 3 did not start"
healthy=0
for _ in $(seq 100); do
	sl_telemetry 1 /shiplog/peers 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)
sys.exit(0 if all(p.get(n, {}).get("healthy") for n in ("n2", "n3")) else 1)' 2>/dev/null &&
		{ healthy=1; break; }
	sleep 0.1
done
[ "$healthy" = 1 ] || { show_logs; fail "the followers are not healthy at the leader after 10 s"; }

# The bench polls its port on CPU 1; the nodes sleep when idle on CPU 0.
# shellcheck disable=SC2086
timeout 120 "$SL_BUILD/perf/shiplog-bench-dpdk" -l 1 $eal --file-prefix "$SL_NAME-b" \
	"$(slm_client_vdev)" -- --port net_memif0 --ip "$SLM_CLIENT_IP" \
	--server "$SLM_LEADER_SERVER" --cluster-id "$SL_CLUSTER_ID" --clients 16 \
	--ops 30000 --keys 10000 --duration 60 --acked "$SL_DIR/acked" ||
	{ show_logs; fail "the workload over memif did not complete"; }
acked=$(wc -l <"$SL_DIR/acked")
[ "$acked" -eq 30000 ] || fail "$acked writes acknowledged, expected 30000"
sl_telemetry 1 /shiplog/stats >"$SL_DIR/stats1.json" || fail "node 1: no /shiplog/stats"
python3 - "$SL_DIR/stats1.json" <<'PY' || fail "leader counters"
import json, sys
s = json.load(open(sys.argv[1]))
print(f"leader over memif: {s['client_writes']} writes, {s['bytes_zero_copy']} bytes by "
      f"reference, {s['bytes_copied']} copied")
assert s["bytes_copied"] == 0, "record bytes were copied on the hot path"
assert s["bytes_zero_copy"] > 0, "nothing was sent by reference"
assert s["no_mbuf"] == 0, f"mbuf allocations failed: {s['no_mbuf']}"
PY
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
