#!/usr/bin/env bash
# usage: async-failover.sh BUILD SOURCE
# Failover under `async` (DESIGN.md §6): the leader acknowledges writes on its own
# durability, so a failover may lose some, and the controller must say how many. The
# followers are cut off the data network (the controller still hears everyone, so it
# does not fail over), the leader goes on acknowledging alone, then it is killed
# (SIGKILL) and the links come back. The controller promotes a follower (the lag is
# allowed: max_lag_on_failover is large) with an `async_loss` event, and the old leader,
# restarted, truncates what it alone had, which the controller records (`truncated`).
#
# Passes when the client history agrees with those events: every write acknowledged at
# the old epoch and missing afterwards lies in the truncated LSN range; the range holds
# those writes plus at most one unanswered write per client (16: each has one write in
# flight; the leader may have made a write durable and died before answering); every
# other acknowledged write is on every node; the lost ones are on none.
. "$(dirname "$0")/lib.sh"

SL_CTL_EXTRA_CONF="max_lag_on_failover = 100000000"
controller_cluster async
br=$(sl_ns br)

bench_bg 9
sleep 1.5
for i in 1 2 3; do [ "$i" = "$old" ] || ip -n "$br" link set "n$i" down; done
echo "followers cut off the data network; node $old acknowledges alone"
sleep 1.5
t_kill=$(sl_mono_ns)
sl_stop "$old" KILL
for i in 1 2 3; do ip -n "$br" link set "n$i" up; done
echo "node $old killed, links restored"
failed_over
rejoined_after_kill "$t_kill"
sl_admin events --limit 30 || true
sl_admin --json events --limit 1000 >"$SL_DIR/events.json" ||
	fail "the controller's events could not be read"

# Client history against the controller's events.
python3 - "$SL_DIR/acked" "$SL_DIR/events.json" "$old" "$old_epoch" "$SL_DIR" <<'PY' ||
import json, sys
acked_path, events_path, old, old_epoch, d = sys.argv[1:6]
old, old_epoch = int(old), int(old_epoch)
events = json.load(open(events_path))["events"]
loss = [e for e in events if e["kind"] == "async_loss"]
trunc = [e for e in events if e["kind"] == "truncated" and e["node"] == old]
promoted = [e for e in events if e["kind"] == "promoted" and e["a"] > old_epoch]
if not loss or not trunc or not promoted:
    sys.exit(f"missing events: async_loss {len(loss)}, truncated by n{old} {len(trunc)}, "
             f"promoted {len(promoted)}")
start = promoted[0]["b"]  # the new leader's log ended here
first, count = trunc[0]["a"], trunc[0]["b"]
if first != start + 1:
    sys.exit(f"n{old} truncated from LSN {first}, the new leader's log ended at {start}")
acked = [l.split() for l in open(acked_path)]
lost = [a for a in acked if int(a[2]) == old_epoch and int(a[1]) > start]
kept = [a for a in acked if not (int(a[2]) == old_epoch and int(a[1]) > start)]
print(f"controller: async_loss estimated {loss[0]['b']} committed records lost from LSN "
      f"{loss[0]['a']}; n{old} truncated {count} records, LSN {first}-{first + count - 1}")
print(f"clients: {len(lost)} writes acknowledged at epoch {old_epoch} past LSN {start} "
      f"(lost), {len(kept)} other writes acknowledged")
if not lost:
    sys.exit("no acknowledged write was lost: the test did not exercise an async loss")
outside = [a for a in lost if not first <= int(a[1]) < first + count]
if outside:
    sys.exit(f"{len(outside)} lost writes lie outside the truncated range, e.g. {outside[0]}")
if len({a[1] for a in lost}) != len(lost):
    sys.exit("two lost writes were acknowledged at the same LSN")
if not len(lost) <= count <= len(lost) + 16:
    sys.exit(f"the truncated count {count} does not match the {len(lost)} lost writes "
             "(plus at most 16 made durable but not answered)")
open(f"{d}/acked.kept", "w").writelines(" ".join(a) + "\n" for a in kept)
open(f"{d}/acked.lost", "w").writelines(" ".join(a) + "\n" for a in lost)
PY
	{ show_logs; fail "the controller's account of the loss disagrees with the clients"; }

# The rest is on every node; the lost writes are on none.
stop_all_and_verify "$SL_DIR/acked.kept" "$SL_DIR/acked.lost"
echo "PASS"
