#!/usr/bin/env bash
# Three nodes over net_af_packet, policy all, durability fsync: 100,000 writes, then
# every acknowledged write is on every node and all WALs agree (DESIGN.md §4, §5).
# Also: telemetry answers, and the binary carries its USDT probes (DESIGN.md §8).
. "$(dirname "$0")/lib.sh"

SL_POLICY=all SL_DURABILITY=fsync
sl_up || { show_logs; fail "cluster did not start"; }
bench --ops 100000 --keys 50000 --clients 32 --value-size 64 --acked "$SL_DIR/acked" ||
	{ show_logs; fail "the workload did not complete"; }
for i in 1 2 3; do
	sl_telemetry "$i" /shiplog/lsn >"$SL_DIR/lsn$i.json" || fail "node $i: no telemetry"
	echo "node $i: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["role"], "epoch", d["epoch"], "commit", d["commit_lsn"], "applied", d["applied_lsn"])' "$SL_DIR/lsn$i.json")"
done
sl_telemetry 1 /shiplog/stats >"$SL_DIR/stats1.json" || fail "node 1: no /shiplog/stats"
python3 - "$SL_DIR/stats1.json" <<'PY' || fail "leader counters"
import json, sys
s = json.load(open(sys.argv[1]))
print(f"leader: {s['client_writes']} writes, {s['bytes_zero_copy']} bytes by reference, "
      f"{s['bytes_copied']} copied, wal batches {s['wal_batches']} syncs {s['wal_syncs']}")
assert s["client_writes"] >= 100000, "fewer writes than sent"
assert s["bytes_copied"] == 0, "record bytes were copied on the hot path"
assert s["bytes_zero_copy"] > 0, "nothing was sent by reference"
# The pools are sized from the configuration: none may run dry under this load.
assert s["no_mbuf"] == 0, f"mbuf allocations failed: {s['no_mbuf']}"
PY
probes=$(readelf -n "$SL_BUILD/dataplane/shiplogd" | grep -c 'Name: ')
for p in request persisted follower_ack commit reply; do
	readelf -n "$SL_BUILD/dataplane/shiplogd" | grep -q "Name: $p\$" || fail "USDT probe $p missing"
done
echo "USDT probes in shiplogd: $probes"
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
