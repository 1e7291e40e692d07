#!/usr/bin/env bash
# usage: snapshot.sh BUILD SOURCE [lossy]
# A learner from a snapshot plus a log position (DESIGN.md §5, §6). Nodes 1-3 run under
# policy `all` with 1 MiB WAL segments while clients write. `shiplogctl snapshot all`
# makes every node save the image of its applied state; with its followers caught up,
# the leader then deletes the WAL segments below it, so LSN 1 is gone. Node 4 is added:
# the leader's WAL read for it comes back "below retention", so it ships its snapshot in
# chunks, node 4 installs it (its WAL restarts after the snapshot's LSN) and takes the
# log from there, under load, until it is a member. Node 4 is then restarted: it
# recovers from its own snapshot plus its WAL. Passes when every write was
# acknowledged, every acknowledged write is on every node (in its WAL, or below its
# snapshot) and the four nodes' key-value states agree. With `lossy`, every node drops,
# duplicates and reorders 2% of the datagrams it receives (the [fault] knobs): chunks
# and their acknowledgements are lost and overtaken, and the transfer must still end.
. "$(dirname "$0")/lib.sh"

SL_N=4 SL_CTL_MEMBERS=1,2,3 SL_UP_NODES="1 2 3" SL_CONF_PEERS="1 2 3" SL_SEGMENT_MB=1
SL_EXTRA_CONF="batch_kb = 256"
if [ "${3:-}" = lossy ]; then
	SL_EXTRA_CONF="$SL_EXTRA_CONF
[fault]
loss_ppm = 20000
dup_ppm = 20000
reorder_ppm = 20000"
fi
controller_cluster all

bench_bg 14
sleep 4
sl_admin snapshot all || { show_logs; fail "snapshot refused"; }
sl_wait_log "$old" "snapshot at lsn [0-9]* (epoch [0-9]*, [0-9]* bytes) saved; [1-9][0-9]* WAL segments deleted" 20 ||
	{ show_logs; fail "the leader saved no snapshot that let WAL segments go"; }
grep "snapshot at lsn" "$SL_DIR/n$old/log"
first=$(tele "$old" /shiplog/stats wal_first_lsn) || fail "node $old: no telemetry"
echo "leader node $old: its WAL now starts at lsn $first"
[ "$first" -gt 1 ] || fail "the leader's WAL still holds lsn 1"
for i in 1 2 3; do
	sl_wait_log "$i" "snapshot at lsn [0-9]* .* saved" 10 || fail "node $i saved no snapshot"
done

sl_start 4
sl_admin add-node 4 || { show_logs; fail "add-node 4 refused"; }
sl_wait_log 4 "installed the leader's snapshot at lsn" 30 ||
	{ show_logs; fail "node 4 did not install the leader's snapshot"; }
grep "installed the leader's snapshot" "$SL_DIR/n4/log"
grep "node 4 needs records the WAL no longer holds" "$SL_DIR/n$old/log" ||
	fail "the leader did not say it sent node 4 its snapshot"
sl_wait_until 40 member 4 || { show_logs; fail "node 4 did not become a member"; }
sl_wait_until 10 follows 4 || { show_logs; fail "node 4 is a member but not a follower"; }
bench_wait
sl_wait_until 30 caught-up || { show_logs; fail "the cluster did not settle"; }
[ "$(tele "$old" /shiplog/stats snapshots_sent)" -ge 1 ] || fail "the leader counted no snapshot sent"
[ "$(tele 4 /shiplog/stats snapshots_installed)" -eq 1 ] || fail "node 4 counted no install"

# Node 4 again, from its own snapshot and the WAL after it.
sl_stop 4 TERM || fail "node 4 did not stop cleanly"
sl_start 4
sl_wait_log 4 "waiting for the controller" 20 || { show_logs; fail "node 4 did not restart"; }
sl_wait_until 30 caught-up || { show_logs; fail "node 4 did not catch up after its restart"; }
installed=
for _ in $(seq 50); do
	installed=$(tele 4 /shiplog/stats snapshots_installed) && break
	sleep 0.2
done
[ "$installed" = 0 ] || fail "node 4 needed the leader's snapshot again after a restart"
echo "node 4 restarted from its own snapshot and its WAL"
sl_admin status || true
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
