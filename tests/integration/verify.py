#!/usr/bin/env python3
"""Checks a stopped cluster's WALs against what clients were told.

verify.py [--lost LOST_FILE] WALDUMP ACKED_FILE DATA_DIR...

- every WAL passes shiplog-waldump --verify;
- every write acknowledged to a client ("key lsn epoch" lines) is in every node's WAL
  as a PUT of that key at that LSN and epoch; one at or below the LSN of the node's
  newest snapshot that its WAL no longer holds (a node installed from one has no WAL
  below it) must be in the snapshot's state: its key there, set by that write or a
  later one (the clients only PUT);
- with --lost, no write of LOST_FILE (same format: writes acknowledged, then lost in an
  async failover) is in any node's WAL at its LSN and epoch;
- all nodes hold the same last LSN and the same key-value digest (--kv-digest).
Prints one line per node and exits 1 on the first class of violation found.
"""
import json
import re
import subprocess
import sys

REC = re.compile(r"^\s+lsn (\d+) epoch (\d+) (\w+)\s.*?(?: key (\S+))? val_len")
SNAP = re.compile(r"^\s+snapshot lsn (\d+) key (\S+) lsn (\d+) val_len")


def wal_records(waldump, d):
    out = subprocess.run([waldump, "--records", d], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"verify: shiplog-waldump --records {d} failed: {out.stderr.strip()}")
    recs, snap = {}, {}
    for line in out.stdout.splitlines():
        m = REC.match(line)
        if m:
            recs[int(m.group(1))] = (int(m.group(2)), m.group(3), m.group(4))
        m = SNAP.match(line)
        if m:
            snap[m.group(2)] = int(m.group(3))
    return recs, snap


def wal_summary(waldump, d):
    ok = subprocess.run([waldump, "--verify", d], capture_output=True, text=True)
    if ok.returncode != 0:
        sys.exit(f"verify: {d} fails --verify:\n{ok.stdout}{ok.stderr}")
    out = subprocess.run([waldump, "--json", "--kv-digest", d], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"verify: shiplog-waldump --kv-digest {d} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)["kv"]


def read_writes(path):
    writes = []
    with open(path) as f:
        for line in f:
            key, lsn, epoch = line.split()[:3]  # shiplog-bench adds the answer's time
            writes.append((key, int(lsn), int(epoch)))
    return writes


def main():
    args = sys.argv[1:]
    lost = []
    if args[:1] == ["--lost"] and len(args) > 1:
        lost = read_writes(args[1])
        args = args[2:]
    if len(args) < 3:
        sys.exit("usage: verify.py [--lost LOST_FILE] WALDUMP ACKED_FILE DATA_DIR...")
    waldump, acked_path, dirs = args[0], args[1], args[2:]
    acked = read_writes(acked_path)
    if not acked:
        sys.exit("verify: no acknowledged writes to check")
    summaries = []
    for d in dirs:
        kv = wal_summary(waldump, d)
        recs, pairs = wal_records(waldump, d)
        snap = kv.get("snapshot_lsn", 0)
        below = [a for a in acked if a[1] <= snap and a[1] not in recs]
        missing = [a for a in acked if recs.get(a[1]) != (a[2], "PUT", a[0])
                   and not (a[1] <= snap and a[1] not in recs and pairs.get(a[0], 0) >= a[1])]
        below = len(below)
        print(f"verify: {d}: last lsn {kv['last_lsn']}, {kv['keys']} keys, "
              f"digest {kv['digest']}, {len(acked) - len(missing)}/{len(acked)} "
              "acknowledged writes present"
              + (f" ({below} of them found in its snapshot at lsn {snap})" if below else ""))
        if missing:
            k, lsn, ep = missing[0]
            sys.exit(f"verify: {d} lacks {len(missing)} acknowledged writes, e.g. {k} at "
                     f"lsn {lsn} epoch {ep} (found {recs.get(lsn)})")
        present = [a for a in lost if recs.get(a[1], (None,))[0] == a[2]]
        if present:
            k, lsn, ep = present[0]
            sys.exit(f"verify: {d} still holds {len(present)} writes reported lost, e.g. "
                     f"{k} at lsn {lsn} epoch {ep}")
        if lost:
            print(f"verify: {d}: none of the {len(lost)} lost writes present")
        summaries.append(kv)
    last = {s["last_lsn"] for s in summaries}
    digests = {s["digest"] for s in summaries}
    if len(last) != 1 or len(digests) != 1:
        sys.exit(f"verify: nodes disagree: last lsn {sorted(last)}, digests {sorted(digests)}")
    print(f"verify: {len(dirs)} nodes agree: last lsn {last.pop()}, digest {digests.pop()}")


if __name__ == "__main__":
    main()
