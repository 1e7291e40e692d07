#!/usr/bin/env bash
# usage: sigstop.sh BUILD SOURCE
# A leader that freezes (SIGSTOP) rather than dies, under `first 1 (2,3)`, with
# shiplog-controller (DESIGN.md §6): while clients write, the leader is stopped and kept
# stopped until another node leads a later epoch, then woken (SIGCONT). It must not
# lead its old epoch any more: it steps down (lease) or is fenced, what it sends at
# the old epoch is dropped by the others (their stale_epoch counters grow), it rejoins
# as a follower of the new epoch after truncating what it alone had (printed: may be
# 0), every client write is acknowledged and every acknowledged write is on every node.
. "$(dirname "$0")/lib.sh"

controller_cluster "first 1 (2,3)"
others=$(seq 1 "$SL_N" | grep -vx "$old" | tr '\n' ' ')

bench_bg 8
sleep 2
declare -A stale0 rej0
for i in $others; do
	stale0[$i]=$(tele "$i" /shiplog/stats stale_epoch) || fail "node $i: no telemetry"
	rej0[$i]=$(tele "$i" /shiplog/stats rejects.stale_epoch) || fail "node $i: no telemetry"
done
trunc0=$(tele "$old" /shiplog/stats truncated_records) || fail "node $old: no telemetry"
t_stop=$(sl_mono_ns)
kill -STOP "$(sl_pid "$old")" || fail "cannot stop node $old"
echo "node $old stopped (SIGSTOP)"
sl_wait_until 20 leader-changed "$old" "$old_epoch" ||
	{ kill -CONT "$(sl_pid "$old")"; show_logs; fail "no failover"; }
new=$(sl_st leader) new_epoch=$(sl_st epoch)
t_new=$(sl_mono_ns)
echo "new leader: node $new at epoch $new_epoch, $(((t_new - t_stop) / 1000000)) ms after the stop"
sleep 0.5 # the new leader at work while the old one still sleeps
log_at=$(stat -c %s "$SL_DIR/n$old/log")
kill -CONT "$(sl_pid "$old")" || fail "cannot wake node $old"
echo "node $old woken (SIGCONT)"

# The old leader no longer leads its epoch: it follows the new leader at the new epoch.
t=100
while [ $t -gt 0 ]; do
	lsn=$(sl_telemetry "$old" /shiplog/lsn 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["role"], d["epoch"], d["leader"])') && [ "$lsn" = "follower $new_epoch $new" ] && break
	sleep 0.1
	t=$((t - 1))
done
[ $t -gt 0 ] || { sl_admin status; show_logs; fail "node $old does not follow node $new at epoch $new_epoch (it says: $lsn)"; }
echo "node $old now: role, epoch, leader = $lsn"
sl_wait_until 20 follows "$old" || { sl_admin status; show_logs; fail "the controller does not see node $old follow"; }

bench_wait
failover_time "$t_stop" stop
sl_wait_until 30 caught-up || { show_logs; fail "the old leader did not catch up"; }

# No client was told OK at the old epoch once the new one had a leader.
late=$(awk -v e="$old_epoch" -v t="$t_new" '$3 == e && $4 + 0 > t + 0 { n++ } END { print n + 0 }' \
	"$SL_DIR/acked")
echo "writes acknowledged at epoch $old_epoch after node $new led epoch $new_epoch: $late"
[ "$late" -eq 0 ] || { show_logs; fail "the old leader acknowledged writes after the failover"; }

# Whatever the old leader sent at its old epoch on waking, the others dropped: their
# stale-epoch counters grew, or it sent nothing because the first thing it did was
# learn the new epoch (frames or commands of epoch E+1 waiting for it) or lose its
# lease (its first role change after waking, from its log).
grew=0
for i in $others; do
	s=$(tele "$i" /shiplog/stats stale_epoch) || fail "node $i: no telemetry"
	r=$(tele "$i" /shiplog/stats rejects.stale_epoch) || fail "node $i: no telemetry"
	echo "node $i: stale_epoch ${stale0[$i]} -> $s, wire rejects.stale_epoch ${rej0[$i]} -> $r"
	[ "$s" -gt "${stale0[$i]}" ] || [ "$r" -gt "${rej0[$i]}" ] && grew=1
done
first=$(tail -c +$((log_at + 1)) "$SL_DIR/n$old/log" | grep -m1 '^shiplogd\[[0-9]*\]: role ' |
	sed 's/^shiplogd\[[0-9]*\]: //')
echo "node $old's first role change after waking: ${first:-none}"
if [ "$grew" = 1 ]; then
	echo "the followers dropped frames of epoch $old_epoch"
elif [ "$first" = "role fenced, epoch $new_epoch" ] || [ "$first" = "role follower, epoch $new_epoch" ] ||
	[ "$first" = "role fenced, epoch $old_epoch" ]; then
	echo "no frame of epoch $old_epoch reached the followers: node $old stood down first"
else
	show_logs
	fail "no follower dropped a frame of epoch $old_epoch, and node $old did not stand down first"
fi
trunc=$(tele "$old" /shiplog/stats truncated_records) || fail "node $old: no telemetry"
echo "node $old: truncated_records $trunc0 -> $trunc"
ev=$(sl_admin --json events --limit 200 | python3 -c '
import json, sys
old = int(sys.argv[1])
evs = [e for e in json.load(sys.stdin)["events"] if e["kind"] == "truncated" and e["node"] == old]
print(" | ".join(e["text"] for e in evs) if evs else "none")' "$old") || ev="(events unreadable)"
if [ "$trunc" -eq "$trunc0" ] && [ "$ev" = none ]; then
	echo "node $old had no divergent suffix: nothing truncated (no 'truncated' event)"
else
	echo "truncated events for node $old: $ev"
fi
sl_admin status || true
sl_admin events --limit 20 || true
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
