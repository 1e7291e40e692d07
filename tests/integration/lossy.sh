#!/usr/bin/env bash
# 5% loss, 5% duplication and 5% reordering of every datagram each node receives
# (the dataplane's [fault] knobs: this kernel may lack tc netem), policy all: the run
# converges and nothing acknowledged is lost (DESIGN.md §4 loss).
. "$(dirname "$0")/lib.sh"

SL_POLICY=all SL_DURABILITY=fsync
SL_EXTRA_CONF="[fault]
loss_ppm = 50000
dup_ppm = 50000
reorder_ppm = 50000"
sl_up || { show_logs; fail "cluster did not start"; }
bench --ops 20000 --clients 16 --retry-ms 50 --acked "$SL_DIR/acked" ||
	{ show_logs; fail "the workload did not complete"; }
for i in 1 2 3; do
	sl_telemetry "$i" /shiplog/stats >"$SL_DIR/stats$i.json" || fail "node $i: no telemetry"
	python3 - "$SL_DIR/stats$i.json" "$i" <<'PY' || fail "node $i: the fault knobs did not act"
import json, sys
s = json.load(open(sys.argv[1]))
print(f"node {sys.argv[2]}: faults dropped {s['fault_dropped']} duplicated "
      f"{s['fault_duplicated']} reordered {s['fault_reordered']}, "
      f"retransmits {s['retransmits']}, nacks {s['nacks_sent']}, reordered {s['reordered']}")
assert s["fault_dropped"] > 0 and s["fault_duplicated"] > 0 and s["fault_reordered"] > 0
PY
done
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
