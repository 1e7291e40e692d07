#!/bin/sh
# shiplogctl's command line: every argument error exits 2 with a message saying what is
# wrong; then, against test_client's fake server (test_client --serve, one process per
# behaviour), each documented exit code: 0 OK, 1 NOT_FOUND, 3 no answer, 4 refused,
# 5 local error, in text and --json. The cluster commands' argument errors are here too
# (nothing is sent); their answers are in shiplogctl-admin.sh.
# usage: shiplogctl-args.sh SHIPLOGCTL TEST_CLIENT
set -eu
ctl=$1 tc=$2
dir=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
out="$dir/out"
cluster=20759 # 0x5117, test_client's CLUSTER
unset SHIPLOG_SERVERS SHIPLOG_CLUSTER_ID SHIPLOG_KEY_FILE SHIPLOG_CONTROLLER SHIPLOG_TOKEN

fail() {
	cat "$out"
	echo "FAIL: $*"
	exit 1
}

# expect CODE PATTERN ARGS...: shiplogctl ARGS exits CODE and its output matches PATTERN.
expect() {
	code=$1 pattern=$2
	shift 2
	rc=0
	"$ctl" "$@" >"$out" 2>&1 </dev/null || rc=$?
	[ "$rc" -eq "$code" ] || fail "shiplogctl $*: exit $rc, expected $code"
	grep -q -e "$pattern" "$out" || fail "shiplogctl $*: output does not say '$pattern'"
}

# serve MODE [KEYFILE]: starts a fake server; its port is in $port.
serve() {
	rm -f "$dir/port"
	"$tc" --serve "$1" "$cluster" ${2:+"$2"} >"$dir/port" &
	pids="$pids $!"
	for _ in $(seq 100); do
		[ -s "$dir/port" ] && break
		sleep 0.05
	done
	port=$(cat "$dir/port")
	[ -n "$port" ] || fail "fake server ($1) did not start"
}

S="--servers 1=127.0.0.1:9 --cluster-id $cluster"

# --- help, version, argument errors (nothing is sent) ----------------------------------
expect 0 "Exit status" --help
expect 0 "4  refused by the cluster" --help
expect 0 "^shiplogctl [0-9]" --version
expect 0 "usage: shiplogctl \[OPTIONS\] get KEY" get --help
expect 2 "no command given"
expect 2 "unknown command \"frob\"" frob
expect 2 "unrecognized option" --frobnicate put k v
expect 2 "no servers: give --servers" put k v
expect 2 "no cluster id" --servers 1=127.0.0.1 put k v
expect 2 "--servers: server list: item 2 \"2=10.0.0.x\": \"10.0.0.x\" is not an IPv4 address" \
	--servers 1=10.0.0.1,2=10.0.0.x --cluster-id 1 put k v
(
	export SHIPLOG_SERVERS=7 SHIPLOG_CLUSTER_ID=1
	expect 2 "SHIPLOG_SERVERS: server list: item 1 \"7\": expected ID=IPV4" put k v
)
(
	export SHIPLOG_SERVERS=1=127.0.0.1 SHIPLOG_CLUSTER_ID=0
	expect 2 "SHIPLOG_CLUSTER_ID: \"0\" is not a number" put k v
)
expect 2 "--cluster-id: \"abc\" is not a number" --servers 1=127.0.0.1 --cluster-id abc put k v
expect 2 "--timeout-ms: \"0\" is not a number from 1" --timeout-ms 0 put k v
expect 2 "--timeout-ms: \"5s\" is not a number" --timeout-ms 5s put k v
expect 2 "--attempt-timeout-ms: \"-1\"" --attempt-timeout-ms -1 put k v
expect 2 "--bind: \"1.2.3\" is not an IPv4 address" --bind 1.2.3 put k v
expect 2 "--key-max: \"0\"" --key-max 0 put k v
expect 2 "does not fit one UDP datagram" $S --key-max 65535 --val-max 60000 put k v
expect 2 "put: expected 2 arguments, got 1" $S put k
expect 2 "put: expected 2 arguments, got 3" $S put k v w
expect 2 "get: expected 1 argument, got 0" $S get
expect 2 "del: expected 1 argument, got 2" $S del a b
expect 2 "KEY may not be empty" $S put "" v
expect 2 "key is 257 bytes, over the limit of 256" $S get "$(printf '%0257d' 0)"
expect 2 "value is over the limit of 1024 bytes" $S put k "$(printf '%01025d' 0)"
expect 2 "get --min-lsn: \"abc\" is not a number" $S get k --min-lsn abc
expect 2 "get --node: \"0\" is not a node id" $S get k --node 0
expect 2 "get --node: \"65\" is not a node id" $S get k --node 65
expect 2 "node 5 is not in the server list" $S get k --node 5
expect 2 "get: --wait needs --min-lsn" $S get k --wait
expect 2 "unrecognized option '--min-lsn'" $S put k --min-lsn 3
# The stdin limit: 17 bytes into a 16-byte limit (expect() gives /dev/null: do it here).
rc=0
printf '%017d' 0 | "$ctl" $S --val-max 16 put k - >"$out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q "over the limit of 16 bytes" "$out" || fail "stdin limit: exit $rc"

# --- cluster commands: argument errors (exit 2 before any connection) -------------------
# A controller that is not there: what gets past the checks exits 6, not 2.
export SHIPLOG_CONTROLLER="unix:$dir/no-controller.sock"
expect 0 "6  controller unreachable: nothing was sent" --help
expect 0 "9  switchover accepted, but node N did not lead" --help
expect 0 "^  --controller ADDR" --help
expect 0 "usage: shiplogctl \[OPTIONS\] switchover --to N \[--wait-ms MS\]" switchover --help
expect 0 "--since SEQ" events --help
expect 0 "usage: shiplogctl \[OPTIONS\] status$" status --help
expect 2 "status: expected 0 arguments, got 1" status now
expect 2 "members: expected 0 arguments, got 1" members x
expect 2 "unrecognized option '--since'" status --since 3
expect 2 "events --since: \"x\" is not a number from 0" events --since x
expect 2 "events --since: \"-1\"" events --since -1
expect 2 "events --limit: \"0\" is not a number from 1 to 10000" events --limit 0
expect 2 "events --limit: \"10001\"" events --limit 10001
expect 2 "watch --interval-ms: \"5\" is not a number from 10" watch --interval-ms 5
expect 2 "watch --count: \"0\" is not a number from 1" watch --count 0
expect 2 "failover: expected 0 arguments, got 1" failover 2
expect 2 "--to: \"0\" is not a node id from 1 to 64" failover --to 0
expect 2 "--to: \"65\" is not a node id" switchover --to 65
expect 2 "switchover: --to N is required" switchover
expect 2 "switchover: --to N is required" switchover --wait-ms 100
expect 2 "switchover --wait-ms: \"0\" is not a number from 1" switchover --to 2 --wait-ms 0
expect 2 "unrecognized option '--force'" switchover --to 2 --force
expect 2 "set-policy: expected a POLICY" set-policy
expect 2 "set-policy: \"sometimes\" is not a policy" set-policy sometimes
expect 2 "set-policy: \"first 2 (n2)\" is not a policy" set-policy first 2 "(n2)"
expect 2 "set-policy: the policy is over 1023 bytes" set-policy "$(printf '%01100d' 0)"
expect 2 "add-node: expected 1 argument, got 0" add-node
expect 2 "add-node: \"0\" is not a node id from 1 to 64" add-node 0
expect 2 "remove-node: \"x\" is not a node id" remove-node x
expect 2 "remove-node: expected 1 argument, got 2" remove-node 1 2
expect 0 "usage: shiplogctl \[OPTIONS\] snapshot N|all" snapshot --help
expect 0 "all  every member connected to the controller" snapshot --help
expect 2 "snapshot: expected 1 argument, got 0" snapshot
expect 2 "snapshot: expected 1 argument, got 2" snapshot 1 2
expect 2 "snapshot: \"0\" is not a node id from 1 to 64, nor all" snapshot 0
expect 2 "snapshot: \"65\" is not a node id" snapshot 65
expect 2 "snapshot: \"ALL\" is not a node id" snapshot ALL
expect 2 "unrecognized option '--force'" snapshot all --force
expect 2 "--controller: \"\": expected unix:/PATH or HOST:PORT" --controller "" status
expect 2 "--controller: \"unix:\": no socket path" --controller unix: members
expect 2 "--controller: \"h:0\": port \"0\" is not a number" --controller h:0 status
expect 2 "an IPv6 address goes in brackets" --controller ::1:7411 status
expect 2 "\"::g\" is not an IPv6 address" --controller "[::g]:1" status
expect 2 "socket path is 200 bytes, over the limit of 107" \
	--controller "unix:/$(printf '%0199d' 0)" status
(
	export SHIPLOG_CONTROLLER=nohost:x
	expect 2 "SHIPLOG_CONTROLLER: \"nohost:x\": port \"x\"" status
)
expect 2 "give --token or --token-file, not both" --token a --token-file /dev/null status
expect 2 "--token: expected 1 to 1024 printable ASCII characters" --token "" status
expect 2 "--token: expected" --token "$(printf '%01025d' 0)" status
(
	export SHIPLOG_TOKEN="$(printf 'a\tb')"
	expect 2 "SHIPLOG_TOKEN: expected" status
)
expect 6 "status: cannot reach the controller at unix:$dir/no-controller.sock" status
expect 6 "cannot reach the controller at unix:$dir/x.sock" --controller "$dir/x.sock" members
expect 6 "snapshot: cannot reach the controller" snapshot all
expect 6 "snapshot: cannot reach the controller" snapshot 64
unset SHIPLOG_CONTROLLER

# --- exit codes against a fake store ---------------------------------------------------
serve kv
S="--servers 1=127.0.0.1:$port --cluster-id $cluster --timeout-ms 2000"
expect 0 "^OK epoch=3 lsn=1 node=1$" $S put alpha one
expect 0 "^one$" $S get alpha
printf 'from stdin\n' | "$ctl" $S put beta - >"$out" || fail "put from stdin"
"$ctl" $S get beta >"$out" || fail "get beta"
printf 'from stdin\n' | cmp -s - "$out" || fail "value not returned exactly"
expect 0 "^OK " $S put -- gamma -dash-value
expect 0 "^-dash-value$" $S get gamma
expect 1 "get missing: not found (node 1)" $S get missing
expect 0 "^OK epoch=3 lsn=4 node=1$" $S del alpha
expect 1 "not found" $S get alpha
expect 4 "stale: node 1 has applied lsn 4, below 100" $S get beta --min-lsn 100
expect 0 "^OK epoch=3 lsn=5 node=1$" $S put alpha one
(
	export SHIPLOG_SERVERS="1=127.0.0.1:$port" SHIPLOG_CLUSTER_ID=$cluster
	expect 0 "^one$" get alpha
)
"$ctl" --json $S put delta "$(printf 'caf\303\251')" >"$out" || fail "--json put"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["command"] == "put" and d["ok"] and d["status"] == "ok" and d["exit"] == 0, d
assert d["epoch"] == 3 and d["lsn"] == 6 and d["node"] == 1 and d["key"] == "delta", d
assert d["attempts"] == 1 and d["client_id"].startswith("0x"), d
' "$out" || fail "--json put output"
"$ctl" --json $S get delta >"$out" || fail "--json get"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] and d["value"] == "caf\u00e9" and d["value_len"] == 5, d
' "$out" || fail "--json get output"
printf '\377\376' | "$ctl" $S put bin - >/dev/null || fail "binary put"
"$ctl" --json $S get bin >"$out" || fail "--json get of a binary value"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["value_base64"] == "//4=" and "value" not in d, d
' "$out" || fail "--json binary value not base64"
rc=0
"$ctl" --json $S get missing >"$out" || rc=$?
[ "$rc" -eq 1 ] || fail "--json get missing: exit $rc"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert not d["ok"] and d["status"] == "not_found" and d["exit"] == 1 and "error" in d, d
' "$out" || fail "--json not found output"

# --- no answer, refusals, keys ---------------------------------------------------------
serve drop
expect 3 "no answer within 200 ms" --servers "1=127.0.0.1:$port" --cluster-id $cluster \
	--timeout-ms 200 --attempt-timeout-ms 50 put k v
serve busy
expect 4 "busy at the deadline (200 ms, node 1)" --servers "1=127.0.0.1:$port" \
	--cluster-id $cluster --timeout-ms 200 put k v
serve not-leader
expect 4 "no reachable leader within 200 ms" --servers "1=127.0.0.1:$port" \
	--cluster-id $cluster --timeout-ms 200 del k
serve stale
expect 4 "stale: node 1 has applied lsn 5, below 9" --servers "1=127.0.0.1:$port" \
	--cluster-id $cluster get k --min-lsn 9
printf '%064x\n' 7 >"$dir/key"
printf '%064x\n' 8 >"$dir/otherkey"
printf 'not hex\n' >"$dir/badkey"
serve kv "$dir/key"
S="--servers 1=127.0.0.1:$port --cluster-id $cluster --timeout-ms 300"
expect 0 "^OK epoch=3 lsn=1" $S --key-file "$dir/key" put k v
(
	export SHIPLOG_KEY_FILE="$dir/key"
	expect 0 "^v$" $S get k
)
expect 3 "no answer" $S put k v
expect 3 "no answer" $S --key-file "$dir/otherkey" put k v
expect 5 "key file .*/badkey: expected 64 hex digits" $S --key-file "$dir/badkey" put k v
expect 5 "key file .*/nokey: No such file" $S --key-file "$dir/nokey" put k v

echo "shiplogctl: argument errors exit 2 (data and cluster commands); exit codes 0, 1, 3, 4, 5, 6 and --json checked"
