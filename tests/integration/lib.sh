# Sourced by every integration test: skip rules, the cluster library, clean-up.
# usage (from meson): TEST.sh BUILD_DIR SOURCE_DIR
set -u
SL_BUILD=$1
SL_SRC=$2
SL_TOOLS=$SL_SRC/tools
SL_WHO=$(basename "$0" .sh)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, AF_PACKET)"
command -v ip >/dev/null || skip "iproute2 is not installed"
ip netns add "slprobe$$" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "slprobe$$"

# shellcheck source=../../tools/lib/cluster.sh
. "$SL_TOOLS/lib/cluster.sh"

SL_NAME=sl$(($$ % 100000))
SL_DIR=$(mktemp -d "$SL_BUILD/integration-$SL_WHO.XXXXXX")
trap 'sl_down; [ "${SL_KEEP:-0}" = 1 ] || rm -rf "$SL_DIR"' EXIT
trap 'exit 130' INT TERM

# Logs of every node, shown when a test fails.
show_logs() {
	local i
	for i in $(seq 1 "$SL_N"); do
		echo "---- node $i log (last 30 lines)"
		tail -n 30 "$SL_DIR/n$i/log" 2>/dev/null
	done
	if [ -f "$SL_DIR/ctl/log" ]; then
		echo "---- controller log (last 40 lines)"
		tail -n 40 "$SL_DIR/ctl/log"
	fi
}

# bench ARGS...: shiplog-bench from the client host against the cluster.
bench() {
	sl_client "$SL_BUILD/perf/shiplog-bench" --servers "$(sl_servers)" \
		--cluster-id "$SL_CLUSTER_ID" "$@"
}

# stop_all_and_verify ACKED [LOST]: clean stop of every node, then the WALs checked:
# every write in ACKED on each, none of LOST on any.
stop_all_and_verify() {
	local i dirs="" lost=()
	[ -n "${2:-}" ] && lost=(--lost "$2")
	for i in $(seq 1 "$SL_N"); do
		sl_stop "$i" TERM || { show_logs; fail "node $i did not stop cleanly"; }
		dirs="$dirs $SL_DIR/n$i/data"
	done
	# shellcheck disable=SC2086
	python3 "$SL_SRC/tests/integration/verify.py" "${lost[@]}" "$SL_BUILD/tools/shiplog-waldump" \
		"$1" $dirs ||
		{ show_logs; fail "the nodes' logs disagree with what clients were told"; }
}

# ---- with a controller (SL_CONTROLLER=1) ---------------------------------------------------

# controller_cluster POLICY: a cluster under shiplog-controller (durability fsync,
# failure_timeout_ms 1000) with a leader elected: node $old at epoch $old_epoch.
controller_cluster() {
	SL_CONTROLLER=1 SL_POLICY=$1 SL_DURABILITY=fsync SL_FAILURE_TIMEOUT_MS=1000
	sl_up || { show_logs; fail "cluster did not start"; }
	sl_wait_until 20 has-leader || { show_logs; fail "no leader elected"; }
	old=$(sl_st leader) old_epoch=$(sl_st epoch)
	echo "leader: node $old at epoch $old_epoch, policy $SL_POLICY"
}

# failed_over: waits (20 s) for another node to lead an epoch after $old_epoch, sets new
# to it and says so; fails the test when none does.
failed_over() {
	sl_wait_until 20 leader-changed "$old" "$old_epoch" || { show_logs; fail "no failover"; }
	new=$(sl_st leader)
	echo "new leader: node $new at epoch $(sl_st epoch)"
}

# rejoined_after_kill T_KILL: the killed old leader restarted, the clients' writes all
# acknowledged, the failover time printed, and the old leader caught up as a follower.
rejoined_after_kill() {
	sl_start "$old"
	bench_wait
	failover_time "$1" kill
	sl_wait_until 30 caught-up || { show_logs; fail "the old leader did not catch up"; }
}

# failover_time T_NS EVENT: prints how long after T_NS (the EVENT: kill, stop) the first
# write at an epoch after $old_epoch was acknowledged; fails the test when none was.
failover_time() {
	local r
	r=$(sl_first_ack "$SL_DIR/acked" "$old_epoch" "$1") ||
		fail "no write acknowledged after the failover"
	echo "failover time: ${r%% *} ms from the $2 to the first write acknowledged by the" \
		"new leader (${r#* } writes acknowledged after it)"
}

# bench_bg SECONDS: the load of failover.sh in the background, every acknowledged write
# in $SL_DIR/acked; its pid in bpid, its output in $SL_DIR/bench.out.
bench_bg() {
	bench --ops 1000000 --duration "$1" --keys 20000 --clients 16 --value-size 64 \
		--deadline-ms 30000 --acked "$SL_DIR/acked" >"$SL_DIR/bench.out" 2>&1 &
	bpid=$!
}

# bench_wait: waits for bench_bg's bench; fails the test unless every write was
# acknowledged.
bench_wait() {
	wait "$bpid" || { cat "$SL_DIR/bench.out"; show_logs; fail "clients lost writes"; }
	cat "$SL_DIR/bench.out"
}

# ctl_with TOKEN_OPTION... -- ARGS...: shiplogctl against the controller with other
# credentials than sl_admin's (e.g. --token-file F, --token T, or none at all).
ctl_with() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	"$SL_BUILD/tools/shiplogctl" --controller "unix:$SL_DIR/ctl/admin.sock" "${opts[@]}" "$@"
}

# tele I COMMAND FIELD: one field of node I's DPDK telemetry COMMAND (a.b for a nested
# one, e.g. rejects.stale_epoch); fails when the node does not answer.
tele() {
	sl_telemetry "$1" "$2" 2>/dev/null | python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$3"
}

# acked_between T0_NS T1_NS: writes in $SL_DIR/acked acknowledged within [T0, T1]
# (CLOCK_MONOTONIC, as sl_mono_ns).
acked_between() {
	awk -v a="$1" -v b="$2" '$4 + 0 >= a + 0 && $4 + 0 <= b + 0 { n++ } END { print n + 0 }' \
		"$SL_DIR/acked"
}
