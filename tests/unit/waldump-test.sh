#!/bin/sh
# shiplog-waldump --verify accepts a clean WAL and rejects one with a flipped byte in
# the middle of a record, naming its LSN; --json parses and says the same.
# usage: waldump-test.sh WALDUMP WALGEN
set -eu
waldump=$1 walgen=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$walgen" "$dir" 2 100
"$waldump" --verify "$dir" >"$dir/out" || { cat "$dir/out"; echo "FAIL: clean WAL rejected"; exit 1; }
grep -q "00000000000000000101.wal: first 101, records 100 (101..200" "$dir/out" ||
	{ cat "$dir/out"; echo "FAIL: second segment not listed"; exit 1; }
"$waldump" --json "$dir" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] and len(d["segments"]) == 2 and d["segments"][1]["last_lsn"] == 200'
# Record 150 is the 50th of the second segment: flip one byte of its value.
seg="$dir/00000000000000000101.wal"
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
if "$waldump" --verify "$dir" >"$dir/out"; then
	cat "$dir/out"
	echo "FAIL: damaged WAL accepted"
	exit 1
fi
grep -q "corrupt: lsn 150 damaged" "$dir/out" || { cat "$dir/out"; echo "FAIL: LSN not named"; exit 1; }
"$waldump" --json "$dir" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["segments"][1]; assert not d["ok"] and s["bad_lsn"] == 150 and s["resume_lsn"] == 151, s'
echo "waldump: clean WAL verified; flipped byte found at lsn 150"
