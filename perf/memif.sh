#!/bin/bash
# shiplog over net_memif: commit latency and throughput of a 3-node shiplogd cluster,
# against the raw memif round trip measured in the same run (perf/results/memif.md).
#
# usage: perf/memif.sh [OUT]   (as root; OUT defaults to perf/results/memif.md)
#        perf/memif.sh --report RESULTS [OUT]   (renders OUT again from a run's
#                                                $WORK/results.jsonl; no root needed)
# Environment: BUILD (build directory, relative to the repository or absolute; build),
# WORK (/tmp/shiplog-memif: WAL directories, on a disk, not tmpfs), REPEAT (3), RUN_S
# (3: seconds per bench run), CLIENTS (64: virtual clients of the throughput run),
# KEYS (4096: distinct keys the writes cycle over; shiplogd's key-value table holds
# 65536 by default and answers BUSY when full), ECHO_OPS (200000), POLICIES
# ("all|first 1 (2,3)|async", '|'-separated), DURABILITIES ("none fsync"), SIZES
# ("64 1024"), RING_RECORDS (16384: [limits] ring_records). Cores and scheduling:
# CPU_BENCH (1), CPU_LEADER (0), CPU_FOLLOWERS (0), LEADER_IDLE (sleep), FOLLOWER_IDLE
# (sleep), LCORES (1), IDLE_SLEEP_US (100: shiplogd's default), LEADER_WRAP and
# FOLLOWER_WRAP (none; e.g. "nice -n 19", "chrt -f 1"), TIMERSLACK_NS (unset: the
# default 50 us). QUIET_PCT (10)
# and QUIET_WAIT_S (30): before each cell, wait up to that long for other processes to
# use less than that much of one CPU.
#
# Why these cores (2 CPUs: three shiplogd, the bench, and the WAL's kernel work cannot all
# busy-poll): the bench busy-polls CPU 1 alone, so what it measures is the cluster's. The
# three shiplogd share CPU 0 with idle=sleep and lcores=1. A busy-polling leader on CPU 0
# (idle=busy, with or without nice 19) measured a little faster but stalled this VM: the
# kernel logged "workqueue lockup - pool cpus=0 ... stuck for 31-52 s" eleven times, and
# process start and exit (the bench's) took 30-440 s instead of 1; with every shiplogd
# sleeping when idle, none. Followers on CPU 1 starve behind the bench (their WAL syncs,
# then their rings, stall; NACK storms follow); a 1 ns timer slack or SCHED_FIFO followers
# measured worse (SCHED_FIFO with idle_sleep_us 10 livelocked).
#
# Topology: tools/lib/memif.sh (a star around the leader, static neighbours, no ARP).
#
# The durability axis sets both halves of "where is a write before it commits":
#   none  -> "POLICY durability=none level=received"  (memory everywhere)
#   fsync -> "POLICY durability=fsync level=flushed"  (the leader's and the followers' WAL)
# The WAL writes and syncs in both (wal mode direct); only what commit waits for changes.
#
# 1. Floor: shiplog-bench-dpdk --echo-server on CPU_LEADER and --echo-client on CPU_BENCH,
#    one 64 B UDP frame at a time over one memif link, both busy-polling, REPEAT times.
# 2. For each (policy, durability, value size) and each repeat: a fresh cluster (empty
#    WAL directories), then two bench runs of RUN_S seconds against it: latency (1
#    client, closed loop) and throughput (CLIENTS clients, closed loop), each after a
#    warm-up; /shiplog/stats of every node read before and after each run, so records
#    per WAL sync are the run's own. Medians over the repeats.
# Every process is bounded (timeout) and stopped by its pid; the whole script takes
# about 12 cells x REPEAT x (RUN_S x 2 + 4) s.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
report_only=
if [ "${1:-}" = --report ]; then
	[ -n "${2:-}" ] || { echo "usage: perf/memif.sh --report RESULTS [OUT]" >&2; exit 2; }
	report_only=$2
	out_md=${3:-$here/perf/results/memif.md}
else
	out_md=${1:-$here/perf/results/memif.md}
fi
build=${BUILD:-build}
[ "${build#/}" != "$build" ] || build=$here/$build
bench=$build/perf/shiplog-bench-dpdk
shiplogd=$build/dataplane/shiplogd
telemetry=$here/tools/lib/telemetry.py
work=${WORK:-/tmp/shiplog-memif}
sockdir=/run/shiplog-memif
repeat=${REPEAT:-3}
run_s=${RUN_S:-3}
clients=${CLIENTS:-64}
echo_ops=${ECHO_OPS:-200000}
keys=${KEYS:-4096}
IFS='|' read -r -a policies <<<"${POLICIES:-all|first 1 (2,3)|async}"
read -r -a durabilities <<<"${DURABILITIES:-none fsync}"
read -r -a sizes <<<"${SIZES:-64 1024}"
cpu_bench=${CPU_BENCH:-1}
cpu_leader=${CPU_LEADER:-0}
cpu_followers=${CPU_FOLLOWERS:-0}
leader_idle=${LEADER_IDLE:-sleep}
follower_idle=${FOLLOWER_IDLE:-sleep}
lcores=${LCORES:-1}
idle_sleep_us=${IDLE_SLEEP_US:-100}
leader_wrap=${LEADER_WRAP:-}
follower_wrap=${FOLLOWER_WRAP:-}
timerslack_ns=${TIMERSLACK_NS:-}
ring_records=${RING_RECORDS:-16384}
quiet_pct=${QUIET_PCT:-10}
quiet_wait_s=${QUIET_WAIT_S:-30}
cluster_id=7
tag=slm$$
eal_common=(--no-pci --no-huge -m 512 --log-level='*:warning')
# shellcheck source=../tools/lib/memif.sh
. "$here/tools/lib/memif.sh"
SLM_WORK=$work SLM_SOCKDIR=$sockdir SLM_TAG=$tag SLM_CLUSTER=$cluster_id
SLM_LEADER_IDLE=$leader_idle SLM_FOLLOWER_IDLE=$follower_idle
SLM_IDLE_SLEEP_US=$idle_sleep_us SLM_LCORES=$lcores SLM_RING_RECORDS=$ring_records

results=$work/results.jsonl
if [ -z "$report_only" ]; then
	[ "$(id -u)" = 0 ] || { echo "memif.sh: run as root (DPDK, /run)" >&2; exit 1; }
	for tool in python3 timeout lscpu findmnt "$bench" "$shiplogd"; do
		command -v "$tool" >/dev/null || { echo "memif.sh: $tool not found" >&2; exit 1; }
	done
	mkdir -p "$work" "$sockdir"
	if [ "$(stat -f -c %T "$work")" = tmpfs ]; then
		echo "memif.sh: $work is on tmpfs; use a directory on a disk" >&2
		exit 1
	fi
	: >"$results"
fi
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
t_start=$(date +%s)

log() { printf 'memif.sh: %s\n' "$*" >&2; }

# ---- processes: started in the background, stopped by pid -------------------------------

pids=()

# start NAME TIMEOUT_S COMMAND...: runs it with its log in $work/NAME.log; the timeout
# bounds it if this script is killed.
start() {
	local name=$1 t=$2
	shift 2
	timeout "$t" "$@" >"$work/$name.log" 2>&1 &
	echo $! >"$work/$name.pid"
	pids+=("$!")
}

# Prefix for shiplogd: its timer slack at TIMERSLACK_NS (inherited by its threads, kept
# across exec), so that nanosleep in its idle back-off wakes when asked instead of up to
# 50 us late (the default slack).
slack=()
[ -z "$timerslack_ns" ] ||
	slack=(sh -c 'echo "$0" >/proc/self/timerslack_ns && exec "$@"' "$timerslack_ns")

# stop NAME: SIGTERM to the timeout wrapper (it passes it on), then waits, bounded.
stop() {
	local p t=100
	p=$(cat "$work/$1.pid" 2>/dev/null) || return 0
	kill -TERM "$p" 2>/dev/null || true
	while kill -0 "$p" 2>/dev/null && [ $t -gt 0 ]; do
		sleep 0.1
		t=$((t - 1))
	done
	if kill -0 "$p" 2>/dev/null; then
		log "$1 did not stop; killing it"
		kill -KILL "$p" 2>/dev/null || true
	fi
	wait "$p" 2>/dev/null || true
	rm -f "$work/$1.pid"
}

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	sleep 1
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "/var/run/dpdk/$tag"-* "$sockdir/$tag"-*.sock
}
trap cleanup EXIT

# wait_log NAME PATTERN SECONDS
wait_log() {
	local t=$(($3 * 10))
	while [ $t -gt 0 ]; do
		grep -q -- "$2" "$work/$1.log" 2>/dev/null && return 0
		kill -0 "$(cat "$work/$1.pid")" 2>/dev/null || break
		sleep 0.1
		t=$((t - 1))
	done
	log "$1: no '$2' within $3 s"
	tail -n 20 "$work/$1.log" >&2
	return 1
}

# foreign_cpu: what processes other than this script and its children used of the CPUs
# over one second, in percent of one CPU, then the busiest of them. From /proc/PID/stat
# only: reading other processes' command lines (top -c, ps args) can block on their
# memory map lock (seen here: minutes, while a shiplogd started).
foreign_cpu() {
	python3 - "$$" <<'PY'
import os, sys, time


def sample():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        out[int(d)] = (comm, int(f[1]), int(f[11]) + int(f[12]))  # ppid, utime + stime
    return out


def ours(snap, root):
    kids, mine, todo = {}, {root, os.getpid()}, [root]
    for pid, (_, ppid, _) in snap.items():
        kids.setdefault(ppid, []).append(pid)
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in mine:
                mine.add(k)
                todo.append(k)
    return mine


hz = os.sysconf("SC_CLK_TCK")
a = sample()
time.sleep(1)
b = sample()
mine = ours(b, int(sys.argv[1])) | ours(a, int(sys.argv[1]))
use = sorted(((b[p][2] - a[p][2]) * 100 // hz, b[p][0]) for p in b
             if p in a and p not in mine and b[p][2] > a[p][2])
busy = " ".join(f"{c}({u}%)" for u, c in reversed(use) if u >= 5)
print(f"{sum(u for u, _ in use)}{' ' + busy if busy else ''}")
PY
}

# quiet: waits (up to QUIET_WAIT_S) until other processes use under QUIET_PCT of one CPU;
# prints what it saw last. Other people's builds and tests share this machine.
quiet() {
	local t=0 f
	while :; do
		f=$(foreign_cpu)
		[ "${f%% *}" -lt "$quiet_pct" ] && break
		[ "$t" -ge "$quiet_wait_s" ] && break
		sleep 2
		t=$((t + 3))
	done
	echo "$f"
}

tele() { # NODE COMMAND
	python3 "$telemetry" "/var/run/dpdk/$tag-n$1/dpdk_telemetry.v2" "$2"
}


# ---- the floor: raw memif round trip ---------------------------------------------------

echo_run() { # REP
	local s
	rm -f "$sockdir/$tag-echo.sock"
	start echo-server 120 "$bench" -l "$cpu_leader" "${eal_common[@]}" --file-prefix "$tag-es" \
		"$(slm_vdev 0 server echo 02:00:00:00:02:01)" -- --port net_memif0 --ip 10.88.1.1 \
		--echo-server
	sleep 0.5
	s=$(timeout 120 "$bench" "${eal_common[@]}" --file-prefix "$tag-ec" -l "$cpu_bench" \
		"$(slm_vdev 0 client echo 02:00:00:00:02:02)" -- --port net_memif0 --ip 10.88.1.2 \
		--server 1=10.88.1.1,02:00:00:00:02:01 --echo-client --ops "$echo_ops" \
		--warmup 10000 --duration "$run_s" --json 2>"$work/echo-client.log") ||
		{ log "echo client failed"; cat "$work/echo-client.log" >&2; stop echo-server; return 1; }
	stop echo-server
	printf '{"kind":"echo","rep":%s,"bench":%s}\n' "$1" "$s" >>"$results"
	log "echo $1: $s"
}

# ---- the cluster -----------------------------------------------------------------------


cluster_up() { # POLICY DURABILITY
	local i t
	rm -rf "$work/n1" "$work/n2" "$work/n3" "$sockdir/$tag"-n?.sock "$sockdir/$tag"-c.sock
	for i in 1 2 3; do
		mkdir -p "$work/n$i/data"
		slm_node_conf "$i" "$1" "$2" >"$work/n$i/shiplogd.ini"
	done
	# The wraps are split into words on purpose ("nice -n 19").
	start n1 600 ${leader_wrap:+$leader_wrap} "${slack[@]}" "$shiplogd" -l "$cpu_leader" \
		"${eal_common[@]}" --file-prefix "$tag-n1" $(slm_vdevs 1) \
		-- --config "$work/n1/shiplogd.ini"
	wait_log n1 "role " 20 || return 1
	for i in 2 3; do
		start "n$i" 600 ${follower_wrap:+$follower_wrap} "${slack[@]}" "$shiplogd" \
			-l "$cpu_followers" "${eal_common[@]}" --file-prefix "$tag-n$i" \
			$(slm_vdevs "$i") -- --config "$work/n$i/shiplogd.ini"
	done
	for i in 2 3; do
		wait_log "n$i" "role " 20 || return 1
	done
	# Both followers healthy at the leader before any load.
	for t in $(seq 100); do
		tele 1 /shiplog/peers 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)
sys.exit(0 if all(p.get(n, {}).get("healthy") for n in ("n2", "n3")) else 1)' \
			2>/dev/null && return 0
		sleep 0.1
	done
	log "followers not healthy at the leader after 10 s"
	tele 1 /shiplog/peers >&2 || true
	return 1
}

cluster_down() {
	stop n2
	stop n3
	stop n1
	rm -rf "/var/run/dpdk/$tag"-n?
}

stats_all() { # FILE: {"n1": stats, "n2": ..., "n3": ...}
	local i
	{
		printf '{'
		for i in 1 2 3; do
			printf '"n%s":' "$i"
			tele "$i" /shiplog/stats || echo null
			[ "$i" = 3 ] || printf ','
		done
		printf '}\n'
	} | tr -d '\n' >"$1"
}

bench_run() { # KIND CLIENTS POLICY DURABILITY SIZE REP
	local s f fp warm=$((20 * $2 > 2000 ? 20 * $2 : 2000))
	stats_all "$work/before.json"
	# What else ran meanwhile, sampled over one second in the middle of the run.
	rm -f "$work/foreign.txt"
	(sleep "$((run_s / 2))" && foreign_cpu >"$work/foreign.txt") &
	fp=$!
	s=$(timeout $((run_s + 60)) "$bench" "${eal_common[@]}" --file-prefix "$tag-b" \
		-l "$cpu_bench" "$(slm_client_vdev)" -- --port net_memif0 \
		--ip "$SLM_CLIENT_IP" --server "$SLM_LEADER_SERVER" --cluster-id "$cluster_id" \
		--clients "$2" --ops 20000000 --warmup "$warm" --duration "$run_s" \
		--value-size "$5" --keys "$keys" --json 2>"$work/bench.log") ||
		{ log "bench failed"; cat "$work/bench.log" >&2; }
	[ -n "$s" ] || s=null
	stats_all "$work/after.json"
	wait "$fp" 2>/dev/null || true
	f=$(tr -cd '[:alnum:] ()%/._:-' <"$work/foreign.txt" 2>/dev/null || true)
	printf '{"kind":"%s","policy":"%s","durability":"%s","size":%s,"rep":%s,"bench":%s,' \
		"$1" "$3" "$4" "$5" "$6" "$s" >>"$results"
	printf '"foreign":"%s",' "$f" >>"$results"
	printf '"before":%s,"after":%s}\n' "$(cat "$work/before.json")" \
		"$(cat "$work/after.json")" >>"$results"
	log "$1 | $3 | $4 | $5 B | rep $6: $s"
}

policy_text() { # POLICY DURABILITY
	case $2 in
	none) echo "$1 durability=none level=received" ;;
	fsync) echo "$1 durability=fsync level=flushed" ;;
	*) log "unknown durability $2"; exit 1 ;;
	esac
}

cell() { # POLICY DURABILITY SIZE REP
	local p
	p=$(policy_text "$1" "$2")
	log "$1 | $2 | $3 B | rep $4: other processes' CPU % before: $(quiet)"
	if ! cluster_up "$p" "$2"; then
		cluster_down
		printf '{"kind":"error","policy":"%s","durability":"%s","size":%s,"rep":%s}\n' \
			"$1" "$2" "$3" "$4" >>"$results"
		return 0
	fi
	bench_run lat 1 "$1" "$2" "$3" "$4"
	bench_run tput "$clients" "$1" "$2" "$3" "$4"
	cluster_down
}

# ---- the report ------------------------------------------------------------------------

# render RESULTS OUT: the markdown from a results file (its last "meta" line says how the
# run was made).
render() {
	python3 - "$1" >"$2.tmp" <<'PY'
import json, os, statistics, sys

rows = [json.loads(line) for line in open(sys.argv[1])]
meta = [r for r in rows if r["kind"] == "meta"]
if not meta:
    sys.exit("memif.sh: no meta line in " + sys.argv[1] + " (an unfinished run)")
env = {"MEMIF_" + k.upper(): v for k, v in meta[-1].items()}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def delta(r, node, key):
    a, b = r["after"].get(node), r["before"].get(node)
    if not a or not b:
        return None
    return a[key] - b[key]


def per_sync(r, node):
    recs, syncs = delta(r, node, "wal_batch_records"), delta(r, node, "wal_syncs")
    return recs / syncs if recs is not None and syncs else None


def syncs_per_s(r):
    syncs = delta(r, "n1", "wal_syncs")
    if syncs is None or not r["bench"] or not r["bench"]["seconds"]:
        return None
    # The stats bracket the whole bench process, warm-up included: an estimate.
    return syncs / r["bench"]["seconds"]


def fmt(x, nd=1):
    if x is None:
        return "n/a"
    if isinstance(x, float) and abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


echo = [r["bench"] for r in rows if r["kind"] == "echo" and r.get("bench")]
rtt50 = med([e["p50_us"] for e in echo])
rtt99 = med([e["p99_us"] for e in echo])
out = []
w = out.append
w("# shiplog over net_memif: commit latency and throughput against the raw round trip")
w("")
w(f"- Command: `{env['MEMIF_CMD']}` (as root), {env['MEMIF_ELAPSED']} s.")
w(f"- Date: {env['MEMIF_DATE']}.")
w(f"- Machine: `nproc` = {env['MEMIF_NPROC']}, `{env['MEMIF_CPU']}`, kernel "
  f"`{env['MEMIF_KERNEL']}`; load average (1/5/15 min) {env['MEMIF_LOAD']}.")
w(f"- WAL directories: {env['MEMIF_FS']} (wal mode direct, segment 256 MiB).")
w(f"- Cores: {env['MEMIF_CORES']} Why (measured alternatives: busy-polling leader, "
  "followers beside the bench, timer slack, SCHED_FIFO): the header of `perf/memif.sh`.")
w(f"- Each cell: a fresh 3-node cluster (empty WALs), then a latency run (1 client) and a "
  f"throughput run ({env['MEMIF_CLIENTS']} clients), closed loop, {env['MEMIF_RUN_S']} s each "
  f"after a warm-up, keys cycled over {env['MEMIF_KEYS']}; ring_records "
  f"{env['MEMIF_RING']}. Medians over {env['MEMIF_REPEAT']} repetitions (each a fresh "
  f"cluster). Durability `none` is `POLICY durability=none level=received`, `fsync` is "
  f"`POLICY durability=fsync level=flushed`.")
w("- Records per WAL sync: /shiplog/stats `wal_batch_records / wal_syncs`, difference "
  "across the bench process (warm-up included); leader (n1) and follower n2.")
w("")
w("## Raw memif round trip (the floor)")
w("")
w("`shiplog-bench-dpdk --echo-client` to `--echo-server`: one 64 B UDP frame at a time "
  "over one memif link, both busy-polling, same cores as bench and leader.")
w("")
w("| repetition | round trips/s | p50 us | p90 us | p99 us | p99.9 us |")
w("|---:|---:|---:|---:|---:|---:|")
for i, e in enumerate(echo, 1):
    w(f"| {i} | {fmt(e['ops_per_s'])} | {e['p50_us']:.2f} | {e['p90_us']:.2f} | "
      f"{e['p99_us']:.2f} | {e['p999_us']:.2f} |")
w(f"| **median** | | **{fmt(rtt50, 2)}** | | **{fmt(rtt99, 2)}** | |")
w("")

cells = []
for r in rows:
    if r["kind"] in ("lat", "tput", "error"):
        key = (r["policy"], r["durability"], r["size"])
        if key not in cells:
            cells.append(key)


def table(kind, title):
    w(f"## {title}")
    w("")
    w("| policy | durability | value B | writes/s | p50 us | p99 us | p50/RTT | p99/RTT "
      "| recs/WAL sync n1 | recs/WAL sync n2 | WAL syncs/s n1 | failed | retransmits "
      "| busy | NACKs n2+n3 | other CPU % |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    summary = {}
    for c in cells:
        rs = [r for r in rows if r["kind"] == kind and (r["policy"], r["durability"],
                                                        r["size"]) == c and r.get("bench")]
        errs = sum(1 for r in rows if r["kind"] == "error" and
                   (r["policy"], r["durability"], r["size"]) == c)
        if not rs:
            w(f"| {c[0]} | {c[1]} | {c[2]} | failed ({errs} cluster start errors) |"
              + " |" * 12)
            continue
        tput = med([r["bench"]["ops_per_s"] for r in rs])
        p50 = med([r["bench"]["p50_us"] for r in rs])
        p99 = med([r["bench"]["p99_us"] for r in rs])
        s1 = med([per_sync(r, "n1") for r in rs])
        s2 = med([per_sync(r, "n2") for r in rs])
        sps = med([syncs_per_s(r) for r in rs])
        failed = sum(r["bench"]["failed"] for r in rs)
        retx = sum(r["bench"]["retransmits"] for r in rs)
        busy = sum(r["bench"]["busy"] for r in rs)
        nacks = sum((delta(r, "n2", "nacks_sent") or 0) + (delta(r, "n3", "nacks_sent") or 0)
                    for r in rs)
        other = " / ".join(r.get("foreign", "").split(" ")[0] or "?" for r in rs)
        summary[c] = dict(tput=tput, p50=p50, p99=p99, s1=s1, sps=sps)
        r50 = p50 / rtt50 if rtt50 else None
        r99 = p99 / rtt99 if rtt99 else None
        w(f"| {c[0]} | {c[1]} | {c[2]} | {fmt(tput, 0)} | {fmt(p50)} | {fmt(p99)} | "
          f"{fmt(r50)} | {fmt(r99)} | {fmt(s1)} | {fmt(s2)} | {fmt(sps, 0)} | {failed} | "
          f"{retx} | {busy} | {nacks} | {other} |")
    w("")
    return summary


lat = table("lat", "Latency: 1 client, closed loop")
tput = table("tput", f"Throughput: {env['MEMIF_CLIENTS']} clients, closed loop")
w("failed, retransmits (bench: resent after no answer or a BUSY answer), busy (BUSY "
  "answers) and NACKs (sent by the followers) are sums over the repetitions. \"other CPU "
  "%\": what processes outside this run used over one second in the middle of each "
  "repetition's bench run, in % of one CPU (the machine is shared); it counts kernel "
  "threads, among them the block layer's completion workers (`kworker/*-kblockd`) that "
  "this run's own WAL syncs keep busy.")
w("")
w("## Goals")
w("")
for size in sorted({c[2] for c in cells}):
    c = ("first 1 (2,3)", "none", size)
    if c in lat and rtt50 and rtt99:
        r50, r99 = lat[c]["p50"] / rtt50, lat[c]["p99"] / rtt99
        ok = "met" if r50 <= 4 and r99 <= 10 else "NOT met"
        w(f"- `first 1` in-memory commit, {size} B, 1 client: p50 {r50:.1f}x the raw round "
          f"trip (goal <= 4x), p99 {r99:.1f}x (goal <= 10x): **{ok}**.")
c = ("async", "none", 64)
if c in tput:
    ok = "met" if tput[c]["tput"] >= 2e6 else "NOT met"
    w(f"- `async` in-memory, 64 B: {tput[c]['tput']:,.0f} records/s with "
      f"{env['MEMIF_CLIENTS']} clients (goal >= 2,000,000): **{ok}**.")
for c in [c for c in cells if c[1] == "fsync"]:
    if c in tput:
        t = tput[c]
        w(f"- fsync, `{c[0]}`, {c[2]} B: {t['tput']:,.0f} writes/s, {fmt(t['s1'])} records "
          f"per leader WAL sync at about {fmt(t['sps'], 0)} syncs/s (per-record syncing "
          "would be 1 record per sync).")
w("")
w("## Every run")
w("")
w("Stalled: the bench was stopped by its time limit (`interrupted`), or writes failed.")
w("")
w("| run | policy | durability | value B | rep | writes/s | p50 us | p99 us | p99.9 us "
  "| recs/WAL sync n1 | WAL syncs/s n1 | retransmits | busy | NACKs n2+n3 "
  "| ring-full drops n2+n3 | other CPU | note |")
w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
for r in rows:
    if r["kind"] not in ("lat", "tput"):
        continue
    b = r.get("bench")
    if not b:
        w(f"| {r['kind']} | {r['policy']} | {r['durability']} | {r['size']} | {r['rep']} "
          "| no result |" + " |" * 11)
        continue
    nk = (delta(r, "n2", "nacks_sent") or 0) + (delta(r, "n3", "nacks_sent") or 0)
    rf = (delta(r, "n2", "ring_full_drops") or 0) + (delta(r, "n3", "ring_full_drops") or 0)
    note = []
    if b.get("interrupted"):
        note.append(f"interrupted; warm-up done {b.get('warmup_acked')} "
                    f"(retransmits {b.get('warmup_retransmits')}, busy "
                    f"{b.get('warmup_busy')})")
    if b["failed"]:
        note.append(f"{b['failed']} failed")
    w(f"| {r['kind']} | {r['policy']} | {r['durability']} | {r['size']} | {r['rep']} "
      f"| {fmt(b['ops_per_s'], 0)} | {fmt(b['p50_us'])} | {fmt(b['p99_us'])} "
      f"| {fmt(b['p999_us'])} | {fmt(per_sync(r, 'n1'))} | {fmt(syncs_per_s(r), 0)} "
      f"| {b['retransmits']} | {b['busy']} | {nk} | {rf} | {r.get('foreign', '')} "
      f"| {'; '.join(note)} |")
w("")
print("\n".join(out))
PY
	mv "$2.tmp" "$2"
}

if [ -n "$report_only" ]; then
	render "$report_only" "$out_md"
	exit 0
fi

# ---- the run ---------------------------------------------------------------------------

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$repeat"); do
	echo_run "$r"
done
for r in $(seq "$repeat"); do
	for p in "${policies[@]}"; do
		for d in "${durabilities[@]}"; do
			for z in "${sizes[@]}"; do
				cell "$p" "$d" "$z" "$r"
			done
		done
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(($(date +%s) - t_start))

cmdline="perf/memif.sh"
for v in BUILD WORK REPEAT RUN_S CLIENTS KEYS ECHO_OPS POLICIES DURABILITIES SIZES \
	CPU_BENCH CPU_LEADER CPU_FOLLOWERS LEADER_IDLE FOLLOWER_IDLE LCORES IDLE_SLEEP_US \
	LEADER_WRAP FOLLOWER_WRAP TIMERSLACK_NS RING_RECORDS QUIET_PCT QUIET_WAIT_S; do
	[ -n "${!v:-}" ] && cmdline="$v='${!v}' $cmdline"
done
[ $# -gt 0 ] && cmdline="$cmdline $*"
cores="bench and echo client: CPU $cpu_bench, busy poll. Leader and echo server: CPU"
cores="$cores $cpu_leader; the leader idle=$leader_idle${leader_wrap:+, under '$leader_wrap'}."
cores="$cores Followers: CPU $cpu_followers,"
cores="$cores idle=$follower_idle, idle_sleep_us=$idle_sleep_us"
cores="$cores${follower_wrap:+, under '$follower_wrap'}."
cores="$cores shiplogd lcores=$lcores${timerslack_ns:+, timer slack $timerslack_ns ns}."
MEMIF_CMD=$cmdline MEMIF_DATE=$started MEMIF_ELAPSED=$elapsed MEMIF_NPROC=$(nproc) \
	MEMIF_CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1) MEMIF_KERNEL=$(uname -r) \
	MEMIF_LOAD="$load_before -> $load_after" MEMIF_CORES=$cores MEMIF_RUN_S=$run_s \
	MEMIF_CLIENTS=$clients MEMIF_REPEAT=$repeat MEMIF_KEYS=$keys MEMIF_RING=$ring_records \
	MEMIF_FS="$(findmnt -no FSTYPE,SOURCE -T "$work" | tr -s ' ')" \
	python3 - "$results" <<'PY'
import json, os, sys
keys = ("CMD", "DATE", "ELAPSED", "NPROC", "CPU", "KERNEL", "LOAD", "CORES", "RUN_S",
        "CLIENTS", "REPEAT", "KEYS", "RING", "FS")
meta = {"kind": "meta"}
meta.update({k.lower(): os.environ["MEMIF_" + k] for k in keys})
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(meta) + "\n")
PY
render "$results" "$out_md"
log "wrote $out_md in $elapsed s (raw results: $results)"
