#!/usr/bin/env bash
# usage: failover.sh BUILD SOURCE POLICY
# Failover under a synchronous policy (DESIGN.md §6), with shiplog-controller: the
# leader is killed (SIGKILL) while clients write; the controller confirms the loss with
# the followers, fences, promotes the most up-to-date follower, and the clients carry
# on there; the old leader is restarted at once and rejoins as a follower. Passes when
# every client write was acknowledged and every acknowledged write is on every node
# afterwards, and prints the failover time: from the kill to the first write the new
# leader acknowledged (under `all` that includes the old leader's restart: nothing
# commits without every follower).
. "$(dirname "$0")/lib.sh"

SL_CONTROLLER=1 SL_POLICY=${3:?policy} SL_DURABILITY=fsync
SL_FAILURE_TIMEOUT_MS=1000
sl_up || { show_logs; fail "cluster did not start"; }
wait_until 20 has-leader || { show_logs; fail "no leader elected"; }
old=$(st leader) old_epoch=$(st epoch)
echo "leader: node $old at epoch $old_epoch, policy $SL_POLICY"

bench --ops 1000000 --duration 8 --keys 20000 --clients 16 --value-size 64 \
	--deadline-ms 30000 --acked "$SL_DIR/acked" >"$SL_DIR/bench.out" 2>&1 &
bpid=$!
sleep 2
t_kill=$(mono_ns)
sl_stop "$old" KILL
echo "node $old killed"
wait_until 20 leader-changed "$old" "$old_epoch" || { show_logs; fail "no failover"; }
new=$(st leader)
echo "new leader: node $new at epoch $(st epoch)"
# Under `all` nothing commits until every follower acknowledges, the old leader too:
# it comes back at once (a restarted leader never resumes its epoch: it follows).
sl_start "$old"
wait "$bpid" || { cat "$SL_DIR/bench.out"; show_logs; fail "clients lost writes"; }
cat "$SL_DIR/bench.out"
python3 - "$SL_DIR/acked" "$old_epoch" "$t_kill" <<'PY' || fail "no write acknowledged after the failover"
import sys
path, old_epoch, t_kill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
after = [int(l.split()[3]) for l in open(path) if int(l.split()[2]) > old_epoch]
assert after, "no acknowledged write from a later epoch"
print(f"failover time: {(min(after) - t_kill) / 1e6:.0f} ms from the kill to the first "
      f"write acknowledged by the new leader ({len(after)} writes acknowledged after it)")
PY

# The old leader follows the new one and has dropped what it alone had.
wait_until 30 caught-up || { show_logs; fail "the old leader did not catch up"; }
sl_admin status || true
sl_admin events --limit 20 || true
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
