#!/usr/bin/env bash
# usage: switchover.sh BUILD SOURCE
# Planned switchover (DESIGN.md §6) under `first 1 (2,3)`, with shiplog-controller:
# while clients write, `shiplogctl switchover --to 3 --wait-ms 10000` hands leadership
# to node 3; passes when it succeeds, node 3 leads a later epoch, every client write
# was acknowledged and every acknowledged write is on every node afterwards (no loss).
# Also: privileged admin commands with the operator token or a wrong token are refused
# (exit 7), change nothing, and leave a line each in audit.jsonl; status with the
# operator token works.
. "$(dirname "$0")/lib.sh"

controller_cluster "first 1 (2,3)"
[ "$old" -ne 3 ] || fail "node 3 leads already: nothing to switch over"

bench_bg 8
sleep 2
t0=$(sl_mono_ns)
sl_admin switchover --to 3 --wait-ms 10000
rc=$?
t1=$(sl_mono_ns)
[ "$rc" -eq 0 ] || { show_logs; fail "switchover --to 3 exited $rc (expected 0)"; }
echo "switchover took $(((t1 - t0) / 1000000)) ms (shiplogctl, request to node 3 leading)"
if ! sl_st leader-changed "$old" "$old_epoch" || [ "$(sl_st leader)" -ne 3 ]; then
	sl_admin status
	show_logs
	fail "node 3 does not lead an epoch after $old_epoch"
fi
new_epoch=$(sl_st epoch)
echo "new leader: node 3 at epoch $new_epoch"
bench_wait
python3 - "$SL_DIR/acked" "$old_epoch" "$t0" <<'PY' || fail "no write acknowledged by node 3"
import sys
path, old_epoch, t0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [l.split() for l in open(path)]
after = [int(r[3]) for r in rows if int(r[2]) > old_epoch]
assert after, "no acknowledged write from a later epoch"
print(f"{len(rows)} writes acknowledged, {len(after)} at the new epoch; the first "
      f"{(min(after) - t0) / 1e6:.0f} ms after the switchover request")
PY
sl_wait_until 30 caught-up || { show_logs; fail "the cluster did not catch up"; }

# ---- authorization: the operator token and a wrong one may not change anything.
policy=$(sl_st policy)
audit=$SL_DIR/ctl/audit.jsonl
lines0=$(wc -l <"$audit" 2>/dev/null || echo 0)
for who in operator wrong; do
	if [ "$who" = operator ]; then
		cred=(--token-file "$SL_DIR/ctl/operator.token")
	else
		cred=(--token "not-the-token-$$")
	fi
	ctl_with "${cred[@]}" -- failover
	rc=$?
	[ "$rc" -eq 7 ] || fail "failover with the $who token exited $rc (expected 7, unauthorized)"
	ctl_with "${cred[@]}" -- set-policy all
	rc=$?
	[ "$rc" -eq 7 ] || fail "set-policy with the $who token exited $rc (expected 7, unauthorized)"
	echo "$who token: failover and set-policy refused (exit 7)"
done
ctl_with --token-file "$SL_DIR/ctl/operator.token" -- status >/dev/null ||
	fail "status with the operator token failed"
echo "operator token: status answered"
sleep 0.5
sl_st steady-as 3 "$new_epoch" || { sl_admin status; fail "the refused commands changed leader or epoch"; }
[ "$(sl_st policy)" = "$policy" ] || fail "the refused set-policy changed the policy: $(sl_st policy)"
echo "after the refusals: node 3 leads epoch $new_epoch, policy '$policy' (unchanged)"
tail -n +"$((lines0 + 1))" "$audit" | python3 -c '
import json, sys
want = [("failover", "operator"), ("set-policy", "operator"),
        ("failover", "none"), ("set-policy", "none")]
got = []
for line in sys.stdin:
    a = json.loads(line)
    for f in ("time_ns", "time", "transport", "peer", "token", "cmd", "args", "outcome", "error"):
        assert f in a, f"audit line without {f}: {line}"
    got.append((a["cmd"], a["token"], a["outcome"]))
    print("audit: {cmd} token={token} outcome={outcome} transport={transport} "
          "error={error!r}".format(**a))
assert [(c, t) for c, t, _ in got] == want, f"audit lines {got}, expected {want}"
assert all(o == "unauthorized" for _, _, o in got), f"outcomes {got}"
' || fail "audit.jsonl does not record the four refusals"

sl_admin events --limit 20 || true
stop_all_and_verify "$SL_DIR/acked"
echo "PASS"
