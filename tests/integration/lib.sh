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
}

# bench ARGS...: shiplog-bench from the client host against the cluster.
bench() {
	sl_client "$SL_BUILD/perf/shiplog-bench" --servers "$(sl_servers)" \
		--cluster-id "$SL_CLUSTER_ID" "$@"
}

# stop_all_and_verify ACKED: clean stop of every node, then the WALs checked.
stop_all_and_verify() {
	local i dirs=""
	for i in $(seq 1 "$SL_N"); do
		sl_stop "$i" TERM || { show_logs; fail "node $i did not stop cleanly"; }
		dirs="$dirs $SL_DIR/n$i/data"
	done
	# shellcheck disable=SC2086
	python3 "$SL_SRC/tests/integration/verify.py" "$SL_BUILD/tools/shiplog-waldump" "$1" $dirs ||
		{ show_logs; fail "the nodes' logs disagree with what clients were told"; }
}
