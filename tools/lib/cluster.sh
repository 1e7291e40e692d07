# Sourced by tools/demo and the integration suite: a local shiplog cluster on virtual
# devices (DESIGN.md §9). Needs root (network namespaces).
#
# Topology, for a cluster named NAME with N nodes:
#   netns NAME-br   a bridge br0 joining every link (the "switch")
#   netns NAME-nI   node I: veth eth0, driven by shiplogd through net_af_packet; the
#                   kernel has no address on it, shiplogd owns 10.77.0.I
#   netns NAME-c    the client host: eth0 with 10.77.0.100/24, kernel UDP sockets
# Bridge-side ends are named nI and c0 (a link is cut by setting one down). Loss,
# duplication and reordering come from shiplogd's [fault] knobs. Every process started
# here is stopped by sl_down.
#
# Controller mode (SL_CONTROLLER=1, DESIGN.md §6): shiplog-controller assigns the roles
# (the nodes start fenced and wait for it), over a management network beside the data
# one, on kernel TCP:
#   netns NAME-br   also a bridge br1
#   netns NAME-nI   also a veth mgmt0 with 10.78.0.I/24 (bridge end mI), the agent's
#   netns NAME-ctl  mgmt0 with 10.78.0.254/24 (bridge end m0): shiplog-controller,
#                   agents on 10.78.0.254:7410, admin API on $SL_DIR/ctl/admin.sock,
#                   Prometheus metrics on http://10.78.0.254:9410/metrics;
#                   its config, state, tokens, log and pid are in $SL_DIR/ctl
# Cutting mI cuts node I off the controller only; cutting nI, off its peers only.
#
# Variables the caller may set before cluster_setup:
#   SL_BUILD (build dir, required), SL_DIR (work dir, required), SL_N (3),
#   SL_CLUSTER_ID (7), SL_POLICY ("all"), SL_DURABILITY (fsync), SL_WAL_MODE (direct),
#   SL_LCORES (2), SL_EXTRA_CONF (lines appended to every node's file: in [wal] unless
#   they open a section), SL_UP_NODES (the nodes sl_up starts: all N), SL_CONF_PEERS
#   (the nodes the files name as peers: all N), SL_SEGMENT_MB (16: WAL segment size)
#   controller mode: SL_CONTROLLER (0), SL_FAILURE_TIMEOUT_MS (1000), SL_CTL_MEMBERS
#   (1,...,N), SL_CTL_EXTRA_CONF (lines appended to the controller's [controller]
#   section)

SL_N=${SL_N:-3}
SL_CLUSTER_ID=${SL_CLUSTER_ID:-7}
SL_POLICY=${SL_POLICY:-all}
SL_DURABILITY=${SL_DURABILITY:-fsync}
SL_WAL_MODE=${SL_WAL_MODE:-direct}
SL_LCORES=${SL_LCORES:-2}
SL_EXTRA_CONF=${SL_EXTRA_CONF:-}
SL_NAME=${SL_NAME:-sl$$}
SL_NET=10.77.0
SL_CONTROLLER=${SL_CONTROLLER:-0}
SL_CTL_EXTRA_CONF=${SL_CTL_EXTRA_CONF:-}
SL_MGMT=10.78.0
SL_CTL_AGENTS=$SL_MGMT.254:7410
SL_CTL_METRICS=$SL_MGMT.254:9410

sl_log() { printf '%s: %s\n' "${SL_WHO:-cluster}" "$*" >&2; }

sl_ns() { echo "$SL_NAME-$1"; }

sl_servers() {
	local i list=""
	for i in $(seq 1 "$SL_N"); do
		list="$list${list:+,}$i=$SL_NET.$i"
	done
	echo "$list"
}

# sl_client CMD...: runs CMD on the client host.
sl_client() { ip netns exec "$(sl_ns c)" "$@"; }

# sl_ctl ARGS...: shiplogctl against the cluster, from the client host.
sl_ctl() {
	sl_client "$SL_BUILD/tools/shiplogctl" --servers "$(sl_servers)" \
		--cluster-id "$SL_CLUSTER_ID" "$@"
}

sl_netns_quiet() {
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
	ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
	ip netns exec "$1" ip link set lo up
}

# sl_link NS IFNAME BRIDGE_END [BRIDGE]: a veth from namespace NS into the bridge (br0,
# the data network, unless BRIDGE is br1, the management network).
sl_link() {
	local ns=$1 ifname=$2 end=$3 bridge=${4:-br0} br
	br=$(sl_ns br)
	ip link add "$end" netns "$br" type veth peer name "$ifname" netns "$ns" || return 1
	ip -n "$br" link set "$end" master "$bridge" up || return 1
	ip -n "$ns" link set "$ifname" up || return 1
}

sl_net_up() {
	local i br
	br=$(sl_ns br)
	ip netns add "$br" || return 1
	sl_netns_quiet "$br"
	# No netfilter on the bridge: it would drop or reassemble malformed IPv4 that the
	# integration suite sends to see the dataplane count it.
	ip -n "$br" link add br0 type bridge || return 1
	ip netns exec "$br" sh -c 'for f in /proc/sys/net/bridge/bridge-nf-call-*; do
		[ -w "$f" ] && echo 0 >"$f"; done' 2>/dev/null || true
	ip -n "$br" link set br0 up || return 1
	for i in $(seq 1 "$SL_N"); do
		ip netns add "$(sl_ns n$i)" || return 1
		sl_netns_quiet "$(sl_ns n$i)"
		sl_link "$(sl_ns n$i)" eth0 "n$i" || return 1
	done
	ip netns add "$(sl_ns c)" || return 1
	sl_netns_quiet "$(sl_ns c)"
	sl_link "$(sl_ns c)" eth0 c0 || return 1
	ip -n "$(sl_ns c)" addr add "$SL_NET.100/24" dev eth0 || return 1
}

# The management network of controller mode (after sl_net_up).
sl_mgmt_up() {
	local i br ctl
	br=$(sl_ns br)
	ctl=$(sl_ns ctl)
	ip -n "$br" link add br1 type bridge || return 1
	ip -n "$br" link set br1 up || return 1
	for i in $(seq 1 "$SL_N"); do
		sl_link "$(sl_ns n$i)" mgmt0 "m$i" br1 || return 1
		ip -n "$(sl_ns n$i)" addr add "$SL_MGMT.$i/24" dev mgmt0 || return 1
	done
	ip netns add "$ctl" || return 1
	sl_netns_quiet "$ctl"
	sl_link "$ctl" mgmt0 m0 br1 || return 1
	ip -n "$ctl" addr add "$SL_MGMT.254/24" dev mgmt0 || return 1
}

sl_conf() {
	local i=$1 j role=follower
	[ "$i" -eq 1 ] && role=leader
	cat <<EOF
# node $i of a local test cluster (tools/lib/cluster.sh)
[node]
id = $i
data_dir = $SL_DIR/n$i/data
port = net_af_packet0
ip = $SL_NET.$i
idle = sleep
lcores = $SL_LCORES
mbufs = 32767

[cluster]
id = $SL_CLUSTER_ID
EOF
	# With a controller, it assigns the roles: none in the file.
	[ "$SL_CONTROLLER" = 1 ] || printf 'role = %s\nleader = 1\n' "$role"
	cat <<EOF
policy = $SL_POLICY
durability = $SL_DURABILITY
EOF
	for j in ${SL_CONF_PEERS:-$(seq 1 "$SL_N")}; do
		[ "$j" -ne "$i" ] && echo "peer = $j $SL_NET.$j"
	done
	[ "$SL_CONTROLLER" = 1 ] && printf '\n[control]\ncontroller = %s\n' "$SL_CTL_AGENTS"
	cat <<EOF

[wal]
mode = $SL_WAL_MODE
segment_mb = ${SL_SEGMENT_MB:-16}
queue_records = 16384
$SL_EXTRA_CONF
EOF
}

sl_eal_args() {
	local i=$1 lcores=0
	[ "$SL_LCORES" -eq 2 ] && lcores=0,1
	echo "-l $lcores --no-pci --no-huge -m 512 --file-prefix $SL_NAME-n$i" \
		"--vdev=net_af_packet0,iface=eth0 --log-level=*:warning"
}

# ---- processes: each has a directory with its pid, its log and log.start -----------------

# sl_proc_launch DIR CMD...: starts CMD in the background, its output appended to DIR/log
# and its pid in DIR/pid; DIR/log.start marks where this start's output begins.
sl_proc_launch() {
	local dir=$1
	shift
	stat -c %s "$dir/log" >"$dir/log.start" 2>/dev/null || echo 0 >"$dir/log.start"
	"$@" >>"$dir/log" 2>&1 &
	echo $! >"$dir/pid"
}

sl_proc_alive() { local p; p=$(cat "$1/pid" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# sl_proc_wait_log DIR WHO PATTERN SECONDS: waits for PATTERN in what the process logged
# since its start; fails at once when it exits.
sl_proc_wait_log() {
	local dir=$1 who=$2 pat=$3 t=$(($4 * 10))
	while [ $t -gt 0 ]; do
		tail -c +$(($(cat "$dir/log.start" 2>/dev/null || echo 0) + 1)) "$dir/log" 2>/dev/null |
			grep -q -- "$pat" && return 0
		sl_proc_alive "$dir" || { sl_log "$who exited"; tail -n 20 "$dir/log" >&2; return 1; }
		sleep 0.1
		t=$((t - 1))
	done
	sl_log "$who: no '$pat' within $4 s"
	tail -n 20 "$dir/log" >&2
	return 1
}

# sl_proc_stop DIR WHO [SIGNAL]: sends SIGNAL (TERM by default) and waits up to 30 s;
# a process still there is killed, after its threads' stacks went to its log (gdb).
sl_proc_stop() {
	local dir=$1 who=$2 sig=${3:-TERM} p t=300 rc
	p=$(cat "$dir/pid" 2>/dev/null) || return 0
	[ -n "$p" ] || return 0
	kill -"$sig" "$p" 2>/dev/null
	while kill -0 "$p" 2>/dev/null && [ $t -gt 0 ]; do
		sleep 0.1
		t=$((t - 1))
	done
	if kill -0 "$p" 2>/dev/null; then
		sl_log "$who did not stop on $sig; killing it"
		command -v gdb >/dev/null &&
			timeout 20 gdb -batch -p "$p" -ex "thread apply all bt" >>"$dir/log" 2>&1
		kill -KILL "$p" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
	rc=$?
	rm -f "$dir/pid"
	return $rc
}

# ---- nodes ------------------------------------------------------------------------------

# sl_start I: starts node I (its log appends to $SL_DIR/nI/log).
sl_start() {
	local i=$1
	mkdir -p "$SL_DIR/n$i/data"
	sl_conf "$i" >"$SL_DIR/n$i/shiplogd.ini"
	# shellcheck disable=SC2046
	sl_proc_launch "$SL_DIR/n$i" ip netns exec "$(sl_ns n$i)" "$SL_BUILD/dataplane/shiplogd" \
		$(sl_eal_args "$i") -- --config "$SL_DIR/n$i/shiplogd.ini"
}

sl_pid() { cat "$SL_DIR/n$1/pid" 2>/dev/null; }
sl_alive() { sl_proc_alive "$SL_DIR/n$1"; }

# sl_wait_log I PATTERN SECONDS: waits for PATTERN in what node I logged since its start.
sl_wait_log() { sl_proc_wait_log "$SL_DIR/n$1" "node $1" "$2" "$3"; }

# sl_stop I [SIGNAL]: stops node I (TERM by default) and waits for it.
sl_stop() { sl_proc_stop "$SL_DIR/n$1" "node $1" "${2:-TERM}"; }

# sl_telemetry I COMMAND: one DPDK telemetry query to node I, JSON on stdout.
sl_telemetry() {
	python3 "$SL_TOOLS/lib/telemetry.py" "/var/run/dpdk/$SL_NAME-n$1/dpdk_telemetry.v2" "$2"
}

# ---- controller mode ------------------------------------------------------------------

sl_controller_bin() { echo "$SL_BUILD/control/shiplog-controller"; }

sl_ctl_conf() {
	cat <<EOF
# shiplog-controller of a local test cluster (tools/lib/cluster.sh)
[controller]
cluster_id = $SL_CLUSTER_ID
members = ${SL_CTL_MEMBERS:-$(seq -s, 1 "$SL_N")}
preferred_leader = 1
policy = $SL_POLICY
failure_timeout_ms = ${SL_FAILURE_TIMEOUT_MS:-1000}
state_dir = $SL_DIR/ctl
agent_listen = $SL_CTL_AGENTS
admin_socket = $SL_DIR/ctl/admin.sock
metrics_listen = $SL_CTL_METRICS
admin_token_file = $SL_DIR/ctl/admin.token
operator_token_file = $SL_DIR/ctl/operator.token
$SL_CTL_EXTRA_CONF
EOF
}

# Random tokens, made once per cluster directory, readable by their owner only.
sl_ctl_tokens() {
	local f
	for f in admin operator; do
		[ -s "$SL_DIR/ctl/$f.token" ] && continue
		(umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$SL_DIR/ctl/$f.token") ||
			return 1
	done
}

# sl_controller_start: starts shiplog-controller in NAME-ctl (its log appends to
# $SL_DIR/ctl/log) and waits until it listens for agents.
sl_controller_start() {
	local bin
	bin=$(sl_controller_bin)
	[ -x "$bin" ] || { sl_log "controller mode: $bin is not built"; return 1; }
	mkdir -p "$SL_DIR/ctl"
	sl_ctl_tokens || { sl_log "cannot write the controller's tokens in $SL_DIR/ctl"; return 1; }
	sl_ctl_conf >"$SL_DIR/ctl/controller.ini"
	sl_proc_launch "$SL_DIR/ctl" ip netns exec "$(sl_ns ctl)" "$bin" \
		--config "$SL_DIR/ctl/controller.ini"
	sl_proc_wait_log "$SL_DIR/ctl" "the controller" "agents on" 30
}

# sl_controller_stop [SIGNAL]: stops the controller (TERM by default) and waits for it.
sl_controller_stop() { sl_proc_stop "$SL_DIR/ctl" "the controller" "${1:-TERM}"; }

# sl_admin ARGS...: shiplogctl against the controller's admin API, with the admin token.
sl_admin() {
	"$SL_BUILD/tools/shiplogctl" --controller "unix:$SL_DIR/ctl/admin.sock" \
		--token-file "$SL_DIR/ctl/admin.token" "$@"
}

# sl_metric NAME: the value of the controller's Prometheus metric NAME (a whole series
# name with its labels, e.g. 'shiplog_member_up{node="2"}'), scraped from the management
# network; fails when the page cannot be had or has no such series.
sl_metric() {
	ip netns exec "$(sl_ns ctl)" python3 - "http://$SL_CTL_METRICS/metrics" "$1" <<'PY'
import sys, urllib.request
page = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
for line in page.splitlines():
    if line.split(" ")[0] == sys.argv[2]:
        print(line.split(" ")[1])
        sys.exit(0)
sys.exit(1)
PY
}

# sl_st QUESTION [ARGS]: asks tools/lib/status.py about the controller's status.
sl_st() { sl_admin --json status 2>/dev/null | python3 "$SL_TOOLS/lib/status.py" "$@"; }

# sl_wait_until SECONDS QUESTION [ARGS]: until the controller's status answers yes.
sl_wait_until() {
	local s=$1 t=$(($1 * 10))
	shift
	while [ $t -gt 0 ]; do
		sl_st "$@" && return 0
		sleep 0.1
		t=$((t - 1))
	done
	sl_log "status: no '$*' within $s s"
	sl_admin status >&2 || true
	return 1
}

sl_mono_ns() { python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))'; }

# sl_first_ack ACKED EPOCH T_NS: "MS N", the milliseconds from T_NS (CLOCK_MONOTONIC, as
# sl_mono_ns) to the first write acknowledged at an epoch after EPOCH in ACKED (a
# shiplog-bench --acked file), and how many were; fails when there is none.
sl_first_ack() {
	awk -v e="$2" -v t="$3" '$3 + 0 > e + 0 { n++; if (!m || $4 + 0 < m) m = $4 + 0 }
		END { if (!n) exit 1; printf "%.1f %d\n", (m - t) / 1e6, n }' "$1"
}

sl_up() {
	local i
	[ -n "${SL_BUILD:-}" ] && [ -n "${SL_DIR:-}" ] || { sl_log "SL_BUILD and SL_DIR must be set"; return 1; }
	SL_TOOLS=${SL_TOOLS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
	if [ "$SL_CONTROLLER" = 1 ] && [ ! -x "$(sl_controller_bin)" ]; then
		sl_log "SL_CONTROLLER=1, but $(sl_controller_bin) is not built" \
			"(ninja -C $SL_BUILD control/shiplog-controller)"
		return 1
	fi
	mkdir -p "$SL_DIR"
	sl_net_up || { sl_log "network set-up failed"; return 1; }
	if [ "$SL_CONTROLLER" = 1 ]; then
		sl_mgmt_up || { sl_log "management network set-up failed"; return 1; }
		sl_controller_start || { sl_log "the controller did not start"; return 1; }
	fi
	# With a controller, a node logs its role once the controller has assigned it.
	for i in ${SL_UP_NODES:-$(seq 1 "$SL_N")}; do
		sl_start "$i"
	done
	for i in ${SL_UP_NODES:-$(seq 1 "$SL_N")}; do
		sl_wait_log "$i" "role " 30 || return 1
	done
}

sl_down() {
	local i
	# The controller first: it would fail over while the nodes stop one by one.
	if [ -n "${SL_DIR:-}" ]; then
		sl_controller_stop TERM || true
	fi
	for i in $(seq 1 "$SL_N"); do
		sl_stop "$i" TERM || true
	done
	for i in $(seq 1 "$SL_N"); do
		ip netns del "$(sl_ns "n$i")" 2>/dev/null || true
	done
	ip netns del "$(sl_ns c)" 2>/dev/null || true
	ip netns del "$(sl_ns ctl)" 2>/dev/null || true
	ip netns del "$(sl_ns br)" 2>/dev/null || true
	rm -rf "/var/run/dpdk/$SL_NAME"-n* 2>/dev/null || true
}
