#!/bin/bash
# The WAL against fio on the same file system, then group commit under offered load.
#
# usage: perf/wal-vs-fio.sh [DIR]   (default /var/tmp/shiplog-walbench: a real disk, not
#                                    tmpfs; the point is what a sync costs)
# Environment: BUILD (build directory, relative to the repository or absolute), REPEAT (5),
# MB (60: MiB of records per run, inside the WAL's first 64 MiB segment), SIZES ("32 992
# 4064": --value of 64 B, 1 KiB, 4 KiB records), MODES ("buffered dsync direct"),
# BATCHES_KB ("1024 64"), WAIT (1: the comparison runs wal_bench --wait), RATES ("1000
# 5000 20000 100000 0"), SCALE_MODE (buffered), SCALE_S (2 s per rate), SCALE_REPEAT (3).
#
# 1. Comparison. For each record size, mode and batch size wal_bench runs closed loop
#    (every batch full); fio writes the same bytes in blocks of the WAL's mean batch
#    (rounded to 4 KiB) with the same kind of sync after each, so both make the same
#    number of syncs per byte. fio per mode: buffered --fdatasync=1; direct --direct=1
#    --fdatasync=1; dsync --sync=dsync (O_DSYNC: the write is the sync, and its
#    completion latency stands for the fdatasync's). A pair runs back to back, in
#    alternating order, modes rotated between repeats: a shared disk drifts, and the two
#    of a pair see the same drift. Medians over REPEAT pairs; ratios are medians of
#    per-pair ratios. The WAL's run fits its first segment as fio's run fits its one
#    preallocated file: no rollover on either side (section 3 has them).
# 2. Spinning against blocking. wal_bench polls without blocking, as a persistence core
#    does; --wait blocks while its window is full. 1 KiB records, buffered.
# 3. Group commit scaling. 1 KiB records offered at each rate (0: closed loop), spinning
#    (an open loop cannot block), rollovers included.
# Every run is bounded: wal_bench --time-cap, fio --runtime, and timeout 60 on both.
set -eu

dir=${1:-/var/tmp/shiplog-walbench}
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
[ "${build#/}" != "$build" ] || build=$here/$build
bench=$build/perf/wal_bench
repeat=${REPEAT:-5}
mb=${MB:-60}
sizes=${SIZES:-32 992 4064}
read -r -a modes <<<"${MODES:-buffered dsync direct}"
batches=${BATCHES_KB:-1024 64}
wait_opt=()
[ "${WAIT:-1}" = 0 ] || wait_opt=(--wait)
rates=${RATES:-1000 5000 20000 100000 0}
scale_mode=${SCALE_MODE:-buffered}
scale_s=${SCALE_S:-2}
scale_repeat=${SCALE_REPEAT:-3}

for tool in fio python3 timeout "$bench"; do
	command -v "$tool" >/dev/null || { echo "wal-vs-fio: $tool not found" >&2; exit 1; }
done
mkdir -p "$dir"
if [ "$(stat -f -c %T "$dir")" = tmpfs ]; then
	echo "wal-vs-fio: $dir is on tmpfs; use a directory on a disk" >&2
	exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"; rm -f "$dir"/wal-vs-fio.*' EXIT

rec_bytes() { # value length -> record bytes: 24 B header + 8 B key + value, padded to 8
	echo $(((24 + 8 + $1 + 7) / 8 * 8))
}

json_get() { # file key
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

wal_run() { # value mode batch_kb records file [wal_bench options]
	local v=$1 m=$2 b=$3 n=$4 f=$5

	shift 5
	timeout 60 "$bench" --dir "$dir" --value "$v" --mode "$m" --batch-kb "$b" \
		--records "$n" --time-cap 20 --json "$@" >"$f"
}

fio_run() { # mode bs size file
	local flags

	case $1 in
	buffered) flags=(--fdatasync=1) ;;
	direct) flags=(--direct=1 --fdatasync=1) ;;
	dsync) flags=(--sync=dsync) ;;
	*) echo "wal-vs-fio: unknown mode $1" >&2; exit 1 ;;
	esac
	timeout 60 fio --name=wal-vs-fio --filename="$dir/wal-vs-fio.$$" --ioengine=io_uring \
		--rw=write --bs="$2" --size="$3" --fallocate=posix --unlink=1 --runtime=20 \
		"${flags[@]}" --output-format=json >"$4"
}

# fio's block: the WAL's mean batch rounded to 4 KiB; its size: the WAL's bytes, in blocks.
fio_after_wal() { # mode wal.json fio.json
	local bb bytes bs

	bb=$(json_get "$2" batch_bytes)
	bytes=$(json_get "$2" bytes)
	bs=$(python3 -c "print(max(4096, round($bb / 4096) * 4096))")
	fio_run "$1" "$bs" "$(python3 -c "print(max($bs, round($bytes / $bs) * $bs))")" "$3"
}

pair() { # rep value mode batch_kb
	local n=$((mb * 1048576 / $(rec_bytes "$2"))) tag=$2-$3-$4
	local w=$out/wal-$tag-$1.json f=$out/fio-$tag-$1.json

	if [ $(($1 % 2)) = 1 ]; then
		wal_run "$2" "$3" "$4" $n "$w" "${wait_opt[@]}"
		fio_after_wal "$3" "$w" "$f"
	else
		# fio first, sized by the first repeat's WAL run (its batches are as full).
		fio_after_wal "$3" "$out/wal-$tag-1.json" "$f"
		wal_run "$2" "$3" "$4" $n "$w" "${wait_opt[@]}"
	fi
	echo "cmp $3 $4 $w $f" >>"$out/manifest"
}

echo "wal-vs-fio: $(date -u +%FT%TZ), dir $dir ($(df -T "$dir" | awk 'NR==2 {print $2}')," \
	"$(df -h "$dir" | awk 'NR==2 {print $1}')), $(nproc) CPUs, $(uname -r), $(fio --version)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$repeat"); do
	for v in $sizes; do
		for b in $batches; do
			for i in "${!modes[@]}"; do
				pair "$r" "$v" "${modes[$(((i + r) % ${#modes[@]}))]}" "$b"
			done
		done
	done
	echo "wal-vs-fio: comparison, repeat $r of $repeat done (${SECONDS}s)" >&2
done

for r in $(seq 1 "$repeat"); do
	for b in $batches; do
		for w in spin wait; do
			f=$out/poll-$b-$w-$r.json
			if [ $w = spin ]; then
				wal_run 992 buffered "$b" $((mb * 1024)) "$f"
			else
				wal_run 992 buffered "$b" $((mb * 1024)) "$f" --wait
			fi
			echo "$w buffered $b $f -" >>"$out/manifest"
		done
	done
done
echo "wal-vs-fio: spinning against blocking done (${SECONDS}s)" >&2

for r in $(seq 1 "$scale_repeat"); do
	for rate in $rates; do
		f=$out/scale-$rate-$r.json
		wal_run 992 "$scale_mode" 1024 $((rate > 0 ? rate * scale_s : mb * 1024)) "$f" \
			--rate "$rate" --time-cap $((scale_s * 3))
		echo "scale $scale_mode 1024 $f -" >>"$out/manifest"
	done
done
echo "wal-vs-fio: scaling done (${SECONDS}s)" >&2

python3 - "$out/manifest" "$repeat" "$scale_repeat" <<'EOF'
import json, statistics, sys
from collections import defaultdict

med = statistics.median

def pct(d, p):
    return d["percentile"]["%.6f" % p] / 1e3

runs = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    kind, mode, batch, wf, ff = line.split()
    w = json.load(open(wf))
    if kind != "cmp":
        runs[kind][(w["record_bytes"], mode, int(batch), w["rate"])].append(w)
        continue
    job = json.load(open(ff))["jobs"][0]
    # buffered, direct: the fdatasync after each write; dsync: the O_DSYNC write itself.
    lat = job["write"]["clat_ns"] if mode == "dsync" else job["sync"]["lat_ns"]
    f = {"mb_s": job["write"]["bw_bytes"] / 1e6, "bs": job["job options"]["bs"],
         "p50": pct(lat, 50), "p99": pct(lat, 99), "p999": pct(lat, 99.9),
         "wclat50": pct(job["write"]["clat_ns"], 50)}
    runs["cmp"][(w["record_bytes"], mode, int(batch), 0)].append((w, f))

print("\n## 1. WAL against fio: closed loop, same bytes, same syncs (medians of %s pairs)\n"
      % sys.argv[2])
print("| record | mode | batch KiB | WAL rec/s | WAL MB/s | WAL syncs/s | rec/batch "
      "| WAL flush p50/p99/p99.9 us | fio bs | fio MB/s | fio sync p50/p99/p99.9 us "
      "| WAL/fio MB/s (min..max) | WAL p99 / fio p99 |")
print("|" + "---|" * 2 + "---:|" * 11)
for (rb, mode, batch, _), pairs in sorted(runs["cmp"].items()):
    ws = [w for w, _ in pairs]
    fs = [f for _, f in pairs]
    m = lambda k: med([w[k] for w in ws])
    bw = [w["mb_s"] / f["mb_s"] for w, f in pairs]
    print("| %d B | %s | %d | %.0f | %.1f | %.0f%s | %.0f | %.0f / %.0f / %.0f | %s | %.1f "
          "| %.0f / %.0f / %.0f | %.2f (%.2f..%.2f) | %.2f |" % (
          rb, mode, batch, m("rec_s"), m("mb_s"),
          m("batches_s" if mode == "dsync" else "syncs_s"), "*" if mode == "dsync" else "",
          m("rec_per_batch"), m("flush_p50_us"), m("flush_p99_us"), m("flush_p999_us"),
          fs[0]["bs"], med([f["mb_s"] for f in fs]), med([f["p50"] for f in fs]),
          med([f["p99"] for f in fs]), med([f["p999"] for f in fs]), med(bw), min(bw),
          max(bw), med([w["flush_p99_us"] / f["p99"] for w, f in pairs])))
print("\n\\* dsync: O_DSYNC writes per second (no fdatasync in that mode); fio's latency "
      "there is its O_DSYNC write's completion.  \nWAL flush: sl_wal_submit() called to "
      "flushed_lsn moving (write + sync, linked); fio sync: the fdatasync alone, issued "
      "after its write completed. fio write completion p50, us: " + ", ".join(
      "%d B %s %d KiB %.0f" % (k[0], k[1], k[2], med([f["wclat50"] for _, f in v]))
      for k, v in sorted(runs["cmp"].items()) if k[1] != "dsync"))

print("\n## 2. Spinning against blocking: 1 KiB records, buffered, closed loop "
      "(medians of %s runs)\n" % sys.argv[2])
print("| batch KiB | poll | rec/s | MB/s | syncs/s | flush p50 us | flush p99 us "
      "| record p50 us | record p99 us |")
print("|" + "---:|" * 2 + "---:|" * 7)
for key in sorted(runs["spin"]):
    for kind in ("spin", "wait"):
        m = lambda k: med([w[k] for w in runs[kind][key]])
        print("| %d | %s | %.0f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
              key[2], kind, m("rec_s"), m("mb_s"), m("syncs_s"), m("flush_p50_us"),
              m("flush_p99_us"), m("rec_p50_us"), m("rec_p99_us")))

mode = next(iter(runs["scale"]))[1] if runs["scale"] else "-"
print("\n## 3. Group commit scaling: 1 KiB records, %s, spinning (medians of %s runs)\n"
      % (mode, sys.argv[3]))
print("| offered rec/s | achieved rec/s | MB/s | syncs/s | rec/batch | record p50 us "
      "| record p99 us | flush p50 us | flush p99 us | worst append lag us |")
print("|" + "---:|" * 10)
for key in sorted(runs["scale"], key=lambda k: k[3] if k[3] > 0 else float("inf")):
    m = lambda k: med([w[k] for w in runs["scale"][key]])
    print("| %s | %.0f | %.1f | %.0f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
          "%.0f" % key[3] if key[3] else "closed loop", m("rec_s"), m("mb_s"), m("syncs_s"),
          m("rec_per_batch"), m("rec_p50_us"), m("rec_p99_us"), m("flush_p50_us"),
          m("flush_p99_us"), m("lag_max_us")))
EOF
echo
echo "wal-vs-fio: done in ${SECONDS}s, load average $(cut -d' ' -f1-3 /proc/loadavg)" \
	"(other work on the machine skews every figure)"
