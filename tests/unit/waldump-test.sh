#!/bin/sh
# shiplog-waldump --verify accepts a clean WAL and rejects one with a flipped byte in
# the middle of a record, naming its LSN; --json parses and says the same. It lists
# the snapshot and the metadata (text and JSON), rejects a flipped byte in either,
# naming the file, and checks that segments continue from the newest valid snapshot.
# usage: waldump-test.sh WALDUMP WALGEN
set -eu
waldump=$1 walgen=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
wal="$dir/wal"
out="$dir/out"

fail() {
	cat "$out"
	echo "FAIL: $*"
	exit 1
}

# fresh [SNAP_LSN]: a new WAL of two segments of 100 records (and a snapshot).
fresh() {
	rm -rf "$wal"
	mkdir "$wal"
	"$walgen" "$wal" 2 100 "$@"
}

# flip FILE OFFSET: the byte at OFFSET, inverted.
flip() {
	python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(path, "rb").read())
b[off] ^= 0xff
open(path, "wb").write(b)
PY
}

# must_fail WHAT PATTERN: --verify exits 1 and its output matches PATTERN.
must_fail() {
	rc=0
	"$waldump" --verify "$wal" >"$out" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "$1: exit $rc, expected 1"
	grep -q "$2" "$out" || fail "$1: output does not say '$2'"
}

# --- segments, as before -------------------------------------------------------------
fresh
"$waldump" --verify "$wal" >"$out" || fail "clean WAL rejected"
grep -q "00000000000000000101.wal: first 101, records 100 (101..200" "$out" ||
	fail "second segment not listed"
"$waldump" --json "$wal" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] and len(d["segments"]) == 2 and d["segments"][1]["last_lsn"] == 200'
# Record 150 is the 50th of the second segment: flip one byte of its value.
seg="$wal/00000000000000000101.wal"
off=$(python3 - "$seg" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
off = 4096
while True:
    lsn, = struct.unpack_from("<Q", b, off)
    klen, vlen = struct.unpack_from("<HI", b, off + 14)
    if lsn == 150:
        print(off + 24 + klen + 1)
        break
    off += (24 + klen + vlen + 7) & ~7
PY
)
printf '\377' | dd of="$seg" bs=1 seek="$off" conv=notrunc status=none
if "$waldump" --verify "$wal" >"$out"; then
	fail "damaged WAL accepted"
fi
grep -q "corrupt: lsn 150 damaged" "$out" || fail "LSN not named"
"$waldump" --json "$wal" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["segments"][1]; assert not d["ok"] and s["bad_lsn"] == 150 and s["resume_lsn"] == 151, s'

# --- snapshot and metadata listed ----------------------------------------------------
fresh 150
snap="$wal/00000000000000000150.snap"
"$waldump" --verify "$wal" >"$out" || fail "clean WAL with a snapshot rejected"
grep -q "00000000000000000150.snap: snapshot lsn 150, epoch 2, payload [0-9]* bytes, header ok, payload ok" "$out" ||
	fail "snapshot not listed"
grep -q "meta: cluster 1, node 1, epoch 2, commit hint 200, refetch_lsn 0, trunc_lsn 0, history: epoch 1 from lsn 1, epoch 2 from lsn 101" "$out" ||
	fail "metadata not listed"
grep -q "00000000000000000001.wal: first 1, records 100 (1..100, last epoch 1), clean (below snapshot 150: optional)" "$out" ||
	fail "segment below the snapshot not marked optional"
"$waldump" --json "$wal" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"] and not d["problems"], d
s, = d["snapshots"]
assert s["lsn"] == 150 and s["epoch"] == 2 and s["header_ok"] and s["payload_ok"] and s["newest"], s
assert s["payload_len"] > 0 and s["file"].endswith("/00000000000000000150.snap"), s
m, = d["meta"]
assert m["ok"] and m["cluster_id"] == 1 and m["node_id"] == 1 and m["epoch"] == 2, m
assert m["commit_hint"] == 200 and m["refetch_lsn"] == 0 and m["trunc_lsn"] == 0, m
assert m["hist"] == [{"epoch": 1, "first_lsn": 1}, {"epoch": 2, "first_lsn": 101}], m
assert d["segments"][0]["optional"] and "optional" not in d["segments"][1], d["segments"]
' || fail "JSON does not list the snapshot and the metadata"
# Single files name their kind.
"$waldump" --verify "$snap" "$wal/meta" >"$out" || fail "snapshot and meta files rejected"
grep -q "snapshot lsn 150" "$out" || fail "snapshot file not listed"
grep -q "meta: cluster 1" "$out" || fail "meta file not listed"

# --- continuity from the newest valid snapshot ---------------------------------------
# The snapshot at 150 covers segment 1: without it the WAL still continues.
rm "$wal/00000000000000000001.wal"
"$waldump" --verify "$wal" >"$out" || fail "segment below the snapshot required"
# Without the snapshot, LSNs 1..100 are nowhere.
rm "$snap"
must_fail "LSNs missing before the oldest segment" \
	"00000000000000000101.wal: starts at lsn 101, but there is no valid snapshot: lsns 1..100 are missing"
"$waldump" --json "$wal" | python3 -c 'import json,sys; d=json.load(sys.stdin); p,=d["problems"]; assert not d["ok"] and p["file"].endswith("00000000000000000101.wal"), d'
# A snapshot at 99 leaves LSN 100 nowhere.
fresh 99
rm "$wal/00000000000000000001.wal"
must_fail "LSN 100 missing" "starts at lsn 101, but the newest valid snapshot holds up to lsn 99: lsn 100 is missing"
# Damage in a segment below the snapshot does not count; above it, it does.
fresh 150
flip "$wal/00000000000000000001.wal" 5000
"$waldump" --verify "$wal" >"$out" || fail "damage below the snapshot counted"
grep -q "00000000000000000001.wal: .*(below snapshot 150: optional)" "$out" || fail "optional damage not listed"

# --- damaged snapshot ----------------------------------------------------------------
fresh 150
flip "$snap" 4200 # in the payload
must_fail "snapshot payload damaged" \
	"00000000000000000150.snap: snapshot lsn 150, epoch 2, payload [0-9]* bytes, header ok: payload damaged: CRC mismatch"
"$waldump" --json "$wal" | python3 -c '
import json, sys
d = json.load(sys.stdin)
s, = d["snapshots"]
assert not d["ok"] and not s["ok"] and s["header_ok"] and not s["payload_ok"], s
assert "payload damaged" in s["reason"] and "newest" not in s, s
' || fail "JSON does not flag the damaged snapshot"
fresh 150
flip "$snap" 9 # in the header's lsn
must_fail "snapshot header damaged" "00000000000000000150.snap: snapshot lsn 150: header damaged: CRC mismatch"

# --- damaged metadata ----------------------------------------------------------------
fresh 150
flip "$wal/meta" 24 # in commit_hint
must_fail "metadata damaged" "$wal/meta: metadata damaged: CRC mismatch"
"$waldump" --json "$wal" | python3 -c 'import json,sys; d=json.load(sys.stdin); m,=d["meta"]; assert not d["ok"] and not m["ok"] and "CRC" in m["reason"] and m["file"].endswith("/meta"), m' ||
	fail "JSON does not flag the damaged metadata"
fresh 150
flip "$wal/meta" 1000 # past the CRC, where the file must be zero
must_fail "metadata padding damaged" "$wal/meta: metadata damaged: invalid fields"

echo "waldump: clean WAL verified; flipped byte found at lsn 150; snapshot and metadata listed, damage in each named; continuity from the snapshot checked"
