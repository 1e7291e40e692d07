#!/bin/sh
# Runs one libFuzzer target for a bounded time over a scratch copy of its seed corpus.
# usage: run-fuzz.sh FUZZER SEED_DIR REGRESS_DIR WORK_DIR SECONDS
set -eu
fuzzer=$1 seeds=$2 regress=$3 work=$4 seconds=$5
mkdir -p "$work/corpus" "$work/artifacts"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" "$regress" 2>"$work/log" || {
	tail -n 40 "$work/log"
	echo "fuzz: FINDING in $(basename "$fuzzer"); reproducer under $work/artifacts/" >&2
	exit 1
}
grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/log" || true
echo "fuzz: $(basename "$fuzzer") ran ${seconds}s without a finding"
