#!/bin/sh
# shiplogctl's cluster commands against fake_admin.py (a fake shiplog-controller admin API
# on a Unix socket in a temporary folder): the status table and --json, where the token
# comes from and that it is never printed, each controller error on its exit code, the
# switchover wait, watch --count and events paging. Every shiplogctl run is bounded by
# --timeout-ms; the fakes are killed on exit and stop by themselves after 120 s.
# usage: shiplogctl-admin.sh SHIPLOGCTL FAKE_ADMIN_PY
set -eu
ctl=$1 fake=$2
command -v python3 >/dev/null 2>&1 || {
	echo "python3 not found: skipped"
	exit 77
}
dir=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
out="$dir/out" err="$dir/err"
unset SHIPLOG_CONTROLLER SHIPLOG_TOKEN
printf 'adm-s3cret\n' >"$dir/admin.token"
printf '  op-t0ken \r\n' >"$dir/op.token"
printf '\n' >"$dir/empty.token"
printf 'two words\n' >"$dir/blank.token"

fail() {
	echo "--- stdout"
	cat "$out"
	echo "--- stderr"
	cat "$err"
	echo "FAIL: $*"
	exit 1
}

# run ARGS...: shiplogctl ARGS, stdout in $out, stderr in $err, exit status in $rc. The
# tokens must never be printed.
run() {
	rc=0
	"$ctl" "$@" >"$out" 2>"$err" </dev/null || rc=$?
	! grep -q -e adm-s3cret -e op-t0ken "$out" "$err" || fail "shiplogctl $*: printed a token"
}

# expect CODE PATTERN ARGS...: exit CODE, and stdout or stderr matches PATTERN.
expect() {
	code=$1 pattern=$2
	shift 2
	run "$@"
	[ "$rc" -eq "$code" ] || fail "shiplogctl $*: exit $rc, expected $code"
	cat "$out" "$err" | grep -q -e "$pattern" || fail "shiplogctl $*: output does not say '$pattern'"
}

# json_check PYTHON_EXPR: $out is one JSON document (json.tool) and d (it) satisfies EXPR.
json_check() {
	python3 -m json.tool "$out" >/dev/null || fail "not one JSON document"
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert $1, d
" "$out" || fail "JSON: $1"
}

# last_request PYTHON_EXPR: the last request the fake logged, as r, satisfies EXPR.
last_request() {
	python3 -c "
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert $1, {k: v for k, v in r.items() if k != 'token'}
" "$log" || fail "request: $1"
}

# serve MODE: starts a fake; its socket is $sock, its request log $log, C the options
# (the fakes before it keep running until the end).
nfake=0
serve() {
	nfake=$((nfake + 1))
	sock="$dir/$1.$nfake.sock" log="$dir/$1.$nfake.log"
	: >"$log"
	python3 "$fake" "$sock" "$1" "$log" &
	pids="$pids $!"
	for _ in $(seq 200); do
		[ -S "$sock" ] && break
		sleep 0.05
	done
	[ -S "$sock" ] || fail "fake ($1) did not start"
	C="--controller unix:$sock --timeout-ms 2000"
}

# --- status, members: tables and --json --------------------------------------------------
serve cluster
A="$C --token-file $dir/admin.token"
expect 0 '^cluster 7  epoch 5  leader 1  policy "all level=flushed durability=fsync sync_timeout_ms=0"  phase steady  degraded no$' \
	$A status
grep -q '^NODE  ROLE  *MEMBER  *STATE  EPOCH  LAST_LSN  FLUSHED_LSN  APPLIED_LSN  SNAP_LSN  WAL_FROM  LAG_REC  LAG_BYTES  LAG_US  SYNC  *HEARD$' \
	"$out" || fail "status: table header"
row() { awk -v n="$1" '$1 == n { $1 = $1; print }' "$out"; }
[ "$(row 1)" = "1 leader member up 5 1042 1042 1040 900 901 0 0 0 leader 12ms" ] ||
	fail "status: row 1: $(row 1)"
# No snapshot: a dash, not 0.
[ "$(row 3)" = "3 follower member up 5 1002 1000 995 - 1 40 5120 915 async 36ms" ] ||
	fail "status: row 3: $(row 3)"
# A node that never reported: dashes, whatever it lacks.
[ "$(row 4)" = "4 learner learner never - - - - - - - - - - -" ] || fail "status: row 4: $(row 4)"
[ "$(wc -l <"$out")" -eq 6 ] || fail "status: expected 6 lines"
last_request 'r["v"] == 1 and r["cmd"] == "status" and r["args"] == {}'
expect 0 "" --json $A status
json_check 'd["cluster"] == 7 and d["leader"] == 1 and len(d["nodes"]) == 4 and d["nodes"][3]["state"] == "never"'
json_check 'd["nodes"][0]["snapshot_lsn"] == 900 and d["nodes"][0]["wal_first_lsn"] == 901'
[ "$(wc -l <"$out")" -eq 1 ] || fail "--json status: one line"
expect 0 "^   4  learner$" $A members
grep -q "^   1  member$" "$out" || fail "members: node 1"
expect 0 "" --json $A members
json_check 'd["members"][3] == {"node": 4, "learner": True}'

# --- the token: from the option, the file or SHIPLOG_TOKEN; never printed ------------------
expect 0 "^cluster 7" $C --token-file "$dir/op.token" status
last_request 'r["token"] == "op-t0ken"'
expect 0 "^cluster 7" $C --token adm-s3cret status
last_request 'r["token"] == "adm-s3cret"'
(
	export SHIPLOG_TOKEN=op-t0ken
	expect 0 "^cluster 7" $C status
	last_request 'r["token"] == "op-t0ken"'
	# The option wins over the variable.
	expect 0 "^OK " $A add-node 5
	last_request 'r["token"] == "adm-s3cret" and r["args"] == {"node": 5}'
)
expect 7 "status: unauthorized: no token (no token given: --token-file FILE, or SHIPLOG_TOKEN)" \
	$C status
last_request '"token" not in r'
expect 7 "failover: unauthorized: this token may not failover" $C --token-file "$dir/op.token" \
	failover --force
expect 7 "" --json $C --token-file "$dir/op.token" failover
json_check 'd == {"ok": False, "code": "unauthorized", "error": "this token may not failover", "exit": 7}'
expect 2 "give --token or --token-file, not both" $C --token x --token-file "$dir/admin.token" status
expect 2 "^shiplogctl: --token: expected 1 to 1024 printable ASCII" $C --token "op t0ken" status
expect 5 "token file .*/nofile: No such file" $C --token-file "$dir/nofile" status
expect 5 "token file .*/empty.token: expected one line" $C --token-file "$dir/empty.token" status
expect 5 "token file .*/blank.token: expected one line" $C --token-file "$dir/blank.token" status
(
	export SHIPLOG_TOKEN="two words"
	expect 2 "SHIPLOG_TOKEN: expected" $C status
)
# --token is wiped from the command line once read (ps showed it until then).
serve silent
"$ctl" --controller "unix:$sock" --timeout-ms 20000 --token adm-s3cret status >/dev/null 2>&1 &
p=$!
for _ in $(seq 200); do
	[ -s "$log" ] && break
	sleep 0.05
done
[ -s "$log" ] || fail "silent fake got no request"
grep -q adm-s3cret "$log" || fail "the token was not sent"
! tr '\0' ' ' <"/proc/$p/cmdline" | grep -q adm-s3cret || fail "--token still in /proc/PID/cmdline"
kill "$p" 2>/dev/null || true
wait "$p" 2>/dev/null || true

# --- controller errors and their exit codes ------------------------------------------------
serve cluster
A="$C --token-file $dir/admin.token"
expect 4 "^shiplogctl: failover: refused: the leader is up (heard 12 ms ago): use switchover$" \
	$A failover
last_request 'r["args"] == {"force": False}'
expect 0 "^OK accepted=true to=3$" $A failover --to 3 --force
last_request 'r["args"] == {"to": 3, "force": True}'
expect 4 "switchover: refused: node 4 is a learner" $A switchover --to 4
expect 1 "switchover: not_found: no node 9" $A switchover --to 9
expect 1 "remove-node: not_found: no node 9" $A remove-node 9
expect 8 "add-node: internal: the state file cannot be written" $A add-node 64
expect 4 "add-node: refused: node 2 is already a member" $A add-node 2
expect 0 "^OK node=3 removed=true$" $A remove-node 3
# set-policy: checked before it is sent, sent in canonical form.
n=$(wc -l <"$log")
expect 2 'set-policy: "first 3 (2)" is not a policy' $A set-policy "first 3 (2)"
expect 2 "set-policy: expected a POLICY" $A set-policy
[ "$(wc -l <"$log")" -eq "$n" ] || fail "set-policy: a bad policy was sent"
expect 0 '^OK policy="first 1 (n2,n3) level=flushed durability=fsync sync_timeout_ms=0"$' \
	$A set-policy first 1 "(2,3)"
last_request 'r["cmd"] == "set-policy" and r["args"]["policy"].startswith("first 1 (n2,n3) ")'
expect 0 "" --json $A set-policy async level=applied
json_check 'd == {"policy": "async level=applied durability=fsync sync_timeout_ms=0"}'
# switchover --to 3 never completes: the next one is busy.
expect 0 "^OK accepted=true target=3 epoch=5$" $A switchover --to 3
expect 4 "switchover: busy: a switchover to node 3 is under way" $A switchover --to 2
expect 4 "" --json $A switchover --to 2
json_check 'd["ok"] is False and d["code"] == "busy" and d["exit"] == 4'
# snapshot: the nodes asked, and those all left out; each refusal on its exit code.
expect 0 "^OK epoch=5 leader=1 phase=steady state_version=7 asked=1,2,3 skipped=4$" \
	$A snapshot all
last_request 'r["cmd"] == "snapshot" and r["args"] == {"all": True}'
expect 0 "^OK epoch=5 leader=1 phase=steady state_version=7 asked=2 skipped=none$" \
	$A snapshot 2
last_request 'r["args"] == {"node": 2}'
expect 0 "" --json $A snapshot all
json_check 'd["asked"] == [1, 2, 3] and d["skipped"] == [4] and d["epoch"] == 5'
expect 4 "^shiplogctl: snapshot: refused: n4 is not connected to the controller.$" \
	$A snapshot 4
expect 1 "snapshot: not_found: n9 is not a member of the cluster." $A snapshot 9
expect 7 "snapshot: unauthorized: this token may not snapshot" \
	$C --token-file "$dir/op.token" snapshot all
expect 4 "" --json $A snapshot 4
json_check 'd == {"ok": False, "code": "refused", "error": "n4 is not connected to the controller.", "exit": 4}'

# --- switchover --wait-ms: the fake flips the leader on the third status after it --------
serve cluster
A="$C --token-file $dir/admin.token"
expect 0 "^node 2 leads at epoch 6 after [0-9]* ms$" $A switchover --to 2 --wait-ms 5000
grep -q "^OK accepted=true target=2 epoch=5$" "$out" || fail "switchover: accept line"
# status before, switchover, then three polls.
[ "$(grep -c '"cmd":"status"' "$log")" -eq 4 ] || fail "switchover: expected 4 status requests"
expect 0 "^cluster 7  epoch 6  leader 2 " $A status
serve cluster
A="$C --token-file $dir/admin.token"
expect 0 "" --json $A switchover --to 2 --wait-ms 5000
json_check 'd["accepted"] and d["wait"]["done"] and d["wait"]["leader"] == 2 and d["wait"]["epoch"] == 6'
# Node 3 never leads: exit 9 when the wait ends.
expect 9 "switchover: accepted, but node 3 does not lead after 1000 ms (last seen: leader 2, epoch 6)" \
	$A switchover --to 3 --wait-ms 1000
serve cluster
A="$C --token-file $dir/admin.token"
expect 9 "" --json $A switchover --to 3 --wait-ms 250
json_check 'd["ok"] is False and d["code"] == "not_done" and d["exit"] == 9'

# --- watch and events ----------------------------------------------------------------------
expect 0 "^cluster 7" $A watch --count 2 --interval-ms 50
[ "$(grep -c '^cluster 7 ' "$out")" -eq 2 ] || fail "watch --count 2: two statuses"
expect 0 "" --json $A watch --count 3 --interval-ms 10
[ "$(wc -l <"$out")" -eq 3 ] || fail "watch --json --count 3: three lines"
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    assert json.loads(line)["cluster"] == 7
' "$out" || fail "watch --json: each line a status"
expect 0 "^       1  2023-11-14T22:13:01.000Z  node_up  *2  node 2 is up$" $A events --limit 10
[ "$(wc -l <"$out")" -eq 11 ] || fail "events --limit 10: header and 10 events"
grep -q "(more: shiplogctl events --since 11)" "$err" || fail "events: no hint of the next page"
last_request 'r["args"] == {"limit": 10}'
expect 0 "" --json $A events --since 11 --limit 10
json_check '[e["seq"] for e in d["events"]] == list(range(11, 21)) and d["next"] == 21'
last_request 'r["args"] == {"since": 11, "limit": 10}'
expect 0 "node_up" $A events --since 21 --limit 10
[ "$(wc -l <"$out")" -eq 6 ] || fail "events --since 21: header and 5 events"
[ ! -s "$err" ] || fail "events: a last page has no hint"
expect 0 "" --json $C --token-file "$dir/op.token" events --since 26
json_check 'd == {"events": [], "next": 26}'

# --- a controller that cannot be reached, does not answer or speaks something else ---------
expect 6 "status: cannot reach the controller at unix:$dir/none.sock: No such file" \
	--controller "unix:$dir/none.sock" status
expect 6 "" --json --controller "unix:$dir/none.sock" status
json_check 'd["ok"] is False and d["code"] == "unreachable" and d["exit"] == 6'
# watch reports a controller it cannot reach and asks again at each interval.
expect 6 "" --controller "unix:$dir/none.sock" watch --count 3 --interval-ms 10
[ "$(grep -c "cannot reach the controller" "$err")" -eq 3 ] ||
	fail "watch: three attempts at an unreachable controller, each reported"
(
	export SHIPLOG_CONTROLLER="$dir/none.sock"
	expect 6 "cannot reach the controller at unix:$dir/none.sock" members
)
serve garbage
expect 8 "status: the answer is not JSON" $C status
serve version
expect 8 "the controller speaks admin protocol version 2, this shiplogctl speaks 1" $C members
expect 8 "" --json $C members
json_check 'd["code"] == "protocol" and d["exit"] == 8'
serve silent
expect 3 "events: no answer from the controller within 300 ms" \
	--controller "unix:$sock" --timeout-ms 300 events
serve close
expect 3 "failover: the controller closed the connection without answering" $C failover
expect 3 "" --json $C failover
json_check 'd["code"] == "no_answer" and d["exit"] == 3'

echo "shiplogctl: cluster commands checked against a fake controller (exit 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)"
