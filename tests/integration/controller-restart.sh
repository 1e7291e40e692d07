#!/usr/bin/env bash
# usage: controller-restart.sh BUILD SOURCE
# The controller dies (SIGKILL) while clients write, under `first 1 (2,3)` (DESIGN.md
# §6): the leader still hears its followers, so its lease holds and it keeps serving;
# writes are acknowledged during the outage. Restarted from its stored state, the
# controller resumes: the same epoch and leader (no election), every node up again.
# Passes when every client write was acknowledged and is on every node afterwards.
. "$(dirname "$0")/lib.sh"

controller_cluster "first 1 (2,3)"
lead=$old epoch=$old_epoch

bench_bg 8
sleep 2
t_kill=$(sl_mono_ns)
sl_controller_stop KILL
echo "controller killed (SIGKILL)"
sleep 3
t_back=$(sl_mono_ns)
sl_controller_start || { show_logs; fail "the controller did not restart"; }
echo "controller restarted after $(((t_back - t_kill) / 1000000)) ms down"
sl_wait_until 15 steady-as "$lead" "$epoch" ||
	{ show_logs; fail "the controller did not resume with node $lead leading epoch $epoch"; }
echo "resumed: node $(sl_st leader) leads epoch $(sl_st epoch), phase $(sl_st phase), every node up"
bench_wait
n=$(acked_between "$t_kill" "$t_back")
total=$(wc -l <"$SL_DIR/acked")
echo "writes acknowledged while the controller was down ($(((t_back - t_kill) / 1000000)) ms): $n of $total"
[ "$n" -gt 0 ] || { show_logs; fail "no write acknowledged while the controller was down"; }
# The outage's last second too: the lease (1000 ms) outlived the controller's renewals.
late=$(acked_between "$((t_back - 1000000000))" "$t_back")
echo "... of which in its last second: $late"
[ "$late" -gt 0 ] || { show_logs; fail "the leader stopped serving during the outage"; }
other=$(awk -v e="$epoch" '$3 != e { n++ } END { print n + 0 }' "$SL_DIR/acked")
[ "$other" -eq 0 ] || fail "$other writes acknowledged at another epoch than $epoch"
sl_st steady-as "$lead" "$epoch" || { sl_admin status; fail "a new election after the restart"; }
sl_wait_until 30 caught-up || { show_logs; fail "the cluster did not catch up"; }
sl_admin status || true
sl_admin events --limit 10 || true
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
