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

controller_cluster "${3:?policy}"

bench_bg 8
sleep 2
t_kill=$(sl_mono_ns)
sl_stop "$old" KILL
echo "node $old killed"
failed_over
# Under `all` nothing commits until every follower acknowledges, the old leader too:
# it comes back at once (a restarted leader never resumes its epoch: it follows, and
# drops what it alone had).
rejoined_after_kill "$t_kill"
# The controller's Prometheus page says the same as its status.
[ "$(sl_metric shiplog_leader)" = "$new" ] && [ "$(sl_metric shiplog_epoch)" = "$(sl_st epoch)" ] &&
	[ "$(sl_metric "shiplog_member_up{node=\"$old\"}")" = 1 ] &&
	[ "$(sl_metric 'shiplog_events_total{kind="failover_start"}')" -ge 1 ] ||
	fail "the controller's metrics disagree with its status"
echo "metrics: shiplog_leader $(sl_metric shiplog_leader), shiplog_epoch $(sl_metric shiplog_epoch)"
sl_admin status || true
sl_admin events --limit 20 || true
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
