#!/usr/bin/env bash
# Failover time under shiplog-controller (DESIGN.md §6): leader death to the first write
# the new leader acknowledged, over ROUNDS induced failures, with 0 acknowledged writes
# lost under a synchronous policy. Results: perf/results/failover.md.
#
# usage: perf/failover.sh [OUT]   (as root; OUT defaults to perf/results/failover.md)
# Environment: BUILD (build), ROUNDS (50), FAILURE_TIMEOUT_MS (500: the controller's
# failure_timeout_ms; the nodes report every 100 ms, lease_ms 500, the default),
# POLICY ("first 1 (2,3)"; under `all` nothing commits while a node is down, so the
# time would include the restart), RATE (2000 writes/s, open loop, 16 clients), ROUND_S (4: the bench's
# run per round; the kill comes KILL_AT_S (1.5) into it).
#
# One 3-node cluster on net_af_packet in namespaces (tools/lib/cluster.sh), every node
# idle=sleep with 2 lcores on the same 2 CPUs, the controller and the bench beside them.
# Each round: the bench writes for ROUND_S at RATE; the leader gets SIGKILL at
# KILL_AT_S; once another node leads, the killed one is restarted; the bench must get
# every write acknowledged (retrying at the new leader); the round ends when the
# restarted node has caught up. At the end
# every node stops and every acknowledged write of every round is checked on every WAL.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
out_md=${1:-$here/perf/results/failover.md}
build=${BUILD:-build}
[ "${build#/}" != "$build" ] || build=$here/$build
rounds=${ROUNDS:-50}
ft_ms=${FAILURE_TIMEOUT_MS:-500}
rate=${RATE:-2000}
round_s=${ROUND_S:-4}
kill_at=${KILL_AT_S:-1.5}

# The integration suite's library: cluster, status questions, verification.
set -- "$build" "$here"
# shellcheck source=../tests/integration/lib.sh
. "$here/tests/integration/lib.sh"
SL_WHO=failover.sh
SL_CONTROLLER=1 SL_POLICY=${POLICY:-"first 1 (2,3)"} SL_DURABILITY=fsync
SL_FAILURE_TIMEOUT_MS=$ft_ms
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
t0=$(date +%s)
results=$SL_DIR/rounds.txt
: >"$results"

sl_up || { show_logs; fail "cluster did not start"; }
sl_wait_until 30 has-leader || { show_logs; fail "no leader elected"; }
for r in $(seq 1 "$rounds"); do
	old=$(sl_st leader) old_epoch=$(sl_st epoch)
	bench --ops $((rate * round_s)) --rate "$rate" --duration "$round_s" --clients 16 \
		--keys 5000 --deadline-ms 30000 --acked "$SL_DIR/acked.$r" >"$SL_DIR/bench.$r" 2>&1 &
	bpid=$!
	sleep "$kill_at"
	t_kill=$(sl_mono_ns)
	sl_stop "$old" KILL
	sl_wait_until 30 leader-changed "$old" "$old_epoch" || { show_logs; fail "round $r: no failover"; }
	sl_start "$old"
	wait "$bpid" || { cat "$SL_DIR/bench.$r"; show_logs; fail "round $r: writes not acknowledged"; }
	ms=$(sl_first_ack "$SL_DIR/acked.$r" "$old_epoch" "$t_kill") ||
		fail "round $r: nothing acknowledged after the failover"
	ms=${ms%% *}
	echo "$r $old $(sl_st leader) $old_epoch $(sl_st epoch) $ms" >>"$results"
	sl_log "round $r: node $old killed, node $(sl_st leader) leads epoch $(sl_st epoch): $ms ms"
	sl_wait_until 60 caught-up || { show_logs; fail "round $r: node $old did not catch up"; }
done
cat "$SL_DIR"/acked.* >"$SL_DIR/acked"
sl_admin --json events --limit 1000 >"$SL_DIR/events.json" 2>/dev/null || true
stop_all_and_verify "$SL_DIR/acked"
elapsed=$(($(date +%s) - t0))

python3 - "$results" "$out_md" "$SL_DIR/acked" <<PY
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
ms = sorted(float(r[5]) for r in rows)
def pct(p):
    return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))]
acked = sum(1 for _ in open(sys.argv[3]))
with open(sys.argv[2], "w") as f:
    f.write("# Failover time: leader death to the first write acknowledged by the new leader\n\n")
    f.write("- Command: \`BUILD='$build' ROUNDS=$rounds FAILURE_TIMEOUT_MS=$ft_ms POLICY='$SL_POLICY' "
            "RATE=$rate perf/failover.sh\` (as root), $elapsed s.\n")
    f.write("- Date: $started; commit \`$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)\`.\n")
    f.write("- Machine: \`nproc\` = $(nproc), \`$(lscpu | sed -n 's/^Model name: *//p' | head -1)\`, "
            "kernel \`$(uname -r)\`.\n")
    f.write("- Cluster: 3 shiplogd on net_af_packet (veth, namespaces), idle=sleep, lcores=2 each, "
            "all on the same 2 CPUs with shiplog-controller and the bench; policy \`$SL_POLICY\`, "
            "durability fsync; controller failure_timeout_ms = $ft_ms, reports every 100 ms, "
            "leader lease_ms = 500.\n")
    f.write("- Each round: shiplog-bench open loop, $rate writes/s from 16 clients for $round_s s; "
            "SIGKILL to the leader at $kill_at s; the killed node restarted once another led, and "
            "caught up before the next round. Time: from just before the kill to the first answer carrying the new "
            "epoch (the bench's CLOCK_MONOTONIC).\n\n")
    f.write(f"| failures | p50 ms | p90 ms | p99 ms | max ms | p99 / failure_timeout | writes acknowledged | acknowledged writes lost |\n")
    f.write("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    f.write(f"| {len(ms)} | {statistics.median(ms):.0f} | {pct(90):.0f} | {pct(99):.0f} | {ms[-1]:.0f} | "
            f"{pct(99) / $ft_ms:.2f} | {acked:,} | 0 (every one on every WAL: verify.py) |\n\n")
    f.write("Per round (node killed, new leader, epochs, ms):\n\n\`\`\`\n")
    for r in rows:
        f.write(" ".join(r) + "\n")
    f.write("\`\`\`\n")
print(f"failover.sh: p50 {statistics.median(ms):.0f} ms, p99 {pct(99):.0f} ms over {len(ms)} failures; wrote {sys.argv[2]}")
PY
