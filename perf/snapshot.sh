#!/usr/bin/env bash
# Snapshots (DESIGN.md §5): what taking one costs the leader (the pause of its data path
# while the image is written, and the time to save it), and how fast a node the WAL no
# longer covers receives and installs the leader's. Results: perf/results/snapshot.md.
#
# usage: perf/snapshot.sh [OUT]   (as root; OUT defaults to perf/results/snapshot.md)
# Environment: BUILD (build), KEYS (50000 keys, each written at least once), VALUE (256:
# bytes per value), ROUNDS (9 snapshots of the leader, a burst of writes before each).
#
# Nodes 1-3 under shiplog-controller (policy all, durability fsync) on net_af_packet in
# namespaces (tools/lib/cluster.sh), idle=sleep, 2 lcores each on the same 2 CPUs as the
# controller and the bench. The state is filled first; then ROUNDS times: 2,000 writes,
# `shiplogctl snapshot LEADER`, and the leader's own report of the image's size, the
# pause and the save time. Then `shiplogctl snapshot all` lets the leader delete its WAL
# below the snapshot, node 4 is added and is sent the snapshot: its report gives the
# time from the first chunk to the install. Every node is verified at the end.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
out_md=${1:-$here/perf/results/snapshot.md}
build=${BUILD:-build}
[ "${build#/}" != "$build" ] || build=$here/$build
keys=${KEYS:-50000}
value=${VALUE:-256}
rounds=${ROUNDS:-9}

set -- "$build" "$here"
# shellcheck source=../tests/integration/lib.sh
. "$here/tests/integration/lib.sh"
SL_WHO=snapshot.sh
SL_N=4 SL_CTL_MEMBERS=1,2,3 SL_UP_NODES="1 2 3" SL_CONF_PEERS="1 2 3" SL_SEGMENT_MB=4
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
t0=$(date +%s)
controller_cluster all
results=$SL_DIR/rounds.txt
: >"$results"

bench --ops $((keys * 2)) --keys "$keys" --value-size "$value" --clients 16 \
	--deadline-ms 30000 --acked "$SL_DIR/acked.fill" >"$SL_DIR/bench.fill" 2>&1 ||
	{ cat "$SL_DIR/bench.fill"; fail "filling the state failed"; }
saved="snapshot at lsn [0-9]* (epoch [0-9]*, [0-9]* bytes) saved"
for r in $(seq 1 "$rounds"); do
	bench --ops 2000 --keys "$keys" --value-size "$value" --clients 16 --deadline-ms 30000 \
		--acked "$SL_DIR/acked.$r" >"$SL_DIR/bench.$r" 2>&1 || fail "round $r: writes failed"
	before=$(grep -c "$saved" "$SL_DIR/n$old/log")
	sl_admin snapshot "$old" >/dev/null || fail "round $r: snapshot refused"
	for _ in $(seq 100); do
		[ "$(grep -c "$saved" "$SL_DIR/n$old/log")" -gt "$before" ] && break
		sleep 0.1
	done
	line=$(grep "$saved" "$SL_DIR/n$old/log" | tail -1)
	[ "$(grep -c "$saved" "$SL_DIR/n$old/log")" -gt "$before" ] || fail "round $r: no snapshot"
	# "... (epoch E, BYTES bytes) saved; D WAL segments deleted; the image took US us
	# to write (a pause of the data path), saving it MS ms"
	echo "$r $(echo "$line" | sed -E 's/.*lsn ([0-9]+) \(epoch [0-9]+, ([0-9]+) bytes\).* took ([0-9]+) us.*saving it ([0-9]+) ms.*/\1 \2 \3 \4/')" >>"$results"
	sl_log "round $r: $line"
done

sl_admin snapshot all >/dev/null || fail "snapshot all refused"
sl_wait_log "$old" "$saved; [1-9][0-9]* WAL segments deleted" 30 ||
	fail "the leader deleted no WAL segment below its snapshot"
sl_start 4
sl_admin add-node 4 >/dev/null || fail "add-node 4 refused"
sl_wait_log 4 "installed the leader's snapshot" 120 || { show_logs; fail "node 4 installed nothing"; }
install=$(grep "installed the leader's snapshot" "$SL_DIR/n4/log" | tail -1)
sl_log "$install"
sl_wait_until 60 member 4 || { show_logs; fail "node 4 did not become a member"; }
sl_wait_until 60 caught-up || { show_logs; fail "the cluster did not settle"; }
cat "$SL_DIR"/acked.* >"$SL_DIR/acked"
stop_all_and_verify "$SL_DIR/acked"
elapsed=$(($(date +%s) - t0))

python3 - "$results" "$out_md" "$install" <<PY
import re, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
size = [int(r[2]) for r in rows]
pause = [int(r[3]) / 1000 for r in rows]
save = [int(r[4]) for r in rows]
m = re.search(r"lsn (\d+) \(epoch \d+, (\d+) bytes, (\d+) ms after its first chunk\)", sys.argv[3])
i_lsn, i_bytes, i_ms = (int(x) for x in m.groups())
with open(sys.argv[2], "w") as f:
    f.write("# Snapshots: the leader's pause and save time, and a transfer to a new node\n\n")
    f.write("- Command: \`BUILD='$build' KEYS=$keys VALUE=$value ROUNDS=$rounds perf/snapshot.sh\` "
            "(as root), $elapsed s.\n")
    f.write("- Date: $started; commit \`$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)\`.\n")
    f.write("- Machine: \`nproc\` = $(nproc), \`$(lscpu | sed -n 's/^Model name: *//p' | head -1)\`, "
            "kernel \`$(uname -r)\`.\n")
    f.write("- Cluster: 3 shiplogd (a 4th added at the end) on net_af_packet (veth, namespaces), "
            "idle=sleep, lcores=2 each, all on the same 2 CPUs with shiplog-controller and the "
            "bench; policy \`all\`, durability fsync, WAL mode direct, 4 MiB segments.\n")
    f.write(f"- State: {$keys:,} keys of {$value} B values, written twice over by 16 clients; "
            "before each snapshot 2,000 more writes. Pause: the network lcore writing the image "
            "(its own clock, logged by shiplogd); save: from handing the image to the persistence "
            "lcore to its answer (log durable up to the image's LSN, file written and synced, "
            "retention applied).\n\n")
    f.write("| snapshots | image MB (median) | pause ms p50 | pause ms max | save ms p50 | save ms max |\n")
    f.write("|---:|---:|---:|---:|---:|---:|\n")
    f.write(f"| {len(rows)} | {statistics.median(size) / 1e6:.1f} | {statistics.median(pause):.1f} | "
            f"{max(pause):.1f} | {statistics.median(save):.0f} | {max(save):.0f} |\n\n")
    f.write("Transfer to node 4 (added after the leader's WAL let LSN 1 go): "
            f"{i_bytes / 1e6:.1f} MB at lsn {i_lsn} from its first chunk to its install in "
            f"{i_ms} ms ({i_bytes / 1e6 / max(i_ms, 1) * 1000:.0f} MB/s, the chunk window over "
            "af_packet on a shared CPU).\n\n")
    f.write("Per snapshot (round, lsn, bytes, pause us, save ms):\n\n\`\`\`\n")
    for r in rows:
        f.write(" ".join(r) + "\n")
    f.write("\`\`\`\n")
print(f"snapshot.sh: {statistics.median(size) / 1e6:.1f} MB images, pause p50 {statistics.median(pause):.1f} ms, "
      f"save p50 {statistics.median(save):.0f} ms; transfer {i_bytes / 1e6:.1f} MB in {i_ms} ms; wrote {sys.argv[2]}")
PY
