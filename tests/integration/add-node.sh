#!/usr/bin/env bash
# usage: add-node.sh BUILD SOURCE
# A node added under load (DESIGN.md §6), with shiplog-controller: nodes 1-3 are the
# members under policy `all` and know nothing of node 4 (their files name only each
# other, the controller has no spare). While clients write, node 4 starts (its file
# names nodes 1-3): the controller refuses it, a stranger. `shiplogctl add-node 4`
# makes it a learner: the controller tells nodes 1-3 its address (ADD_PEER) and it
# takes the log from the leader (the records behind the leader's ring come from its
# WAL) without holding up `all`; the controller makes it a member once it is within
# learner_catchup_records. Passes when node 4 became a member under load, every write
# was acknowledged, and every acknowledged write is on all four nodes.
. "$(dirname "$0")/lib.sh"

SL_N=4 SL_CTL_MEMBERS=1,2,3 SL_UP_NODES="1 2 3" SL_CONF_PEERS="1 2 3"
controller_cluster all

bench_bg 10
sleep 2
sl_start 4
sl_wait_log 4 "neither a member nor a spare" 20 ||
	{ show_logs; fail "the controller did not refuse node 4 before add-node"; }
t_add=$(sl_mono_ns)
sl_admin add-node 4 || { show_logs; fail "add-node 4 refused"; }
echo "node 4 added as a learner under load"
sl_wait_until 30 member 4 || { show_logs; fail "node 4 did not become a member"; }
t_member=$(sl_mono_ns)
echo "node 4 is a member $(((t_member - t_add) / 1000000)) ms after add-node," \
	"$(acked_between "$t_add" "$t_member") writes acknowledged meanwhile"
[ "$(acked_between "$t_add" "$t_member")" -gt 0 ] ||
	fail "no write was acknowledged while node 4 caught up: not under load"
sl_wait_until 10 follows 4 || { show_logs; fail "node 4 is a member but not a follower"; }
bench_wait
sl_wait_until 30 caught-up || { show_logs; fail "the cluster did not settle"; }
sl_admin members || true
sl_admin --json events --limit 1000 >"$SL_DIR/events.json" || fail "no events"
python3 - "$SL_DIR/events.json" <<'PY' || fail "the controller did not record node 4 joining"
import json, sys
ev = [e for e in json.load(open(sys.argv[1]))["events"] if e["kind"] == "member" and e["node"] == 4]
for e in ev:
    print(f"event {e['seq']}: {e['text']}")
sys.exit(0 if [e["a"] for e in ev] == [1, 0] else 1)  # joined as a learner, then a member
PY
[ "$(tele 4 /shiplog/stats records_appended)" -gt 0 ] || fail "node 4 appended nothing"
for i in 1 2 3; do
	grep -q "command add_peer, epoch [0-9]*, node 4" "$SL_DIR/n$i/log" ||
		fail "node $i was not told node 4's address (add_peer)"
done
# Node 4 started thousands of records behind the 4096 of the leader's ring.
reads=$(tele "$old" /shiplog/stats wal_reads) || fail "node $old: no telemetry"
echo "leader node $old: $reads WAL reads"
[ "$reads" -gt 0 ] || fail "the leader never read its WAL: node 4 was not caught up from it"
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
