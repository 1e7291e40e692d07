#!/usr/bin/env bash
# A follower killed (SIGKILL) mid-run and restarted catches up from the leader's
# ring and WAL, and ends with the same log as the others (DESIGN.md §4 catch-up, §5).
# Policy first 1 (2,3): commits go on with node 2 while node 3 is down. Every node
# takes a snapshot each 3,000 records (snapshot_records): node 3 restarts from its
# newest one plus the WAL after it.
. "$(dirname "$0")/lib.sh"

SL_POLICY="first 1 (2,3)" SL_DURABILITY=fsync SL_EXTRA_CONF="snapshot_records = 3000"
sl_up || { show_logs; fail "cluster did not start"; }
bench --ops 60000 --clients 16 --acked "$SL_DIR/acked" >"$SL_DIR/bench.out" 2>&1 &
bench_pid=$!
sl_wait_log 3 "snapshot at lsn [0-9]* .* saved" 20 || { show_logs; fail "node 3 took no snapshot"; }
sl_stop 3 KILL
echo "node 3 killed"
sleep 1
sl_start 3
sl_wait_log 3 "role " 30 || { show_logs; fail "node 3 did not restart"; }
echo "node 3 restarted: $(grep ': WAL ' "$SL_DIR/n3/log" | tail -n 1)"
grep -q 'WAL .*: lsn [0-9]*\.\.0,' <(grep ': WAL ' "$SL_DIR/n3/log" | tail -n 1) &&
	fail "node 3 recovered nothing from its WAL"
grep "state from the snapshot at lsn" "$SL_DIR/n3/log" ||
	fail "node 3 did not start from its snapshot"
wait $bench_pid || { cat "$SL_DIR/bench.out"; show_logs; fail "the workload did not complete"; }
cat "$SL_DIR/bench.out"
# Caught up: node 3 holds what the leader holds, within a bounded wait.
lsn() {
	sl_telemetry "$1" /shiplog/lsn 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["last_lsn"])' 2>/dev/null
}
for t in $(seq 1 300); do
	l1=$(lsn 1) && l3=$(lsn 3) && [ "$l1" = "$l3" ] && break
	sleep 0.1
done
[ "$l1" = "$l3" ] || { show_logs; fail "node 3 at lsn $l3, leader at $l1 after 30 s"; }
echo "node 3 caught up to lsn $l3"
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
