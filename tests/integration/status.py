#!/usr/bin/env python3
"""Questions about `shiplogctl status --json` (the controller's view), for the tests.

usage: status.py QUESTION [ARGS] < STATUS_JSON
  leader | epoch               print it
  has-leader                   a leader leads the current epoch, every node reported
  leader-changed OLD OLD_EPOCH another node leads an epoch after OLD_EPOCH
  caught-up                    every node is up at the current epoch and has applied
                               all the leader committed, and the leader committed its
                               whole log (ask when no writes are coming)
Exit 0 when the answer is yes (or printed), 1 when no, 2 on bad input.
"""
import json
import sys


def leading(d):
    """The leader's node entry when it leads the controller's epoch, else None."""
    for n in d["nodes"]:
        if n["node"] == d["leader"] and n.get("role") == "leader" and n.get("epoch") == d["epoch"]:
            return n
    return None


def main():
    if len(sys.argv) < 2:
        sys.exit(2)
    try:
        d = json.load(sys.stdin)
    except ValueError:
        sys.exit(2)
    q = sys.argv[1]
    if q in ("leader", "epoch"):
        print(d[q])
        return True
    if q == "has-leader":
        return (d["phase"] == "steady" and leading(d) is not None
                and all(n["state"] == "up" for n in d["nodes"]))
    if q == "leader-changed":
        old, old_epoch = int(sys.argv[2]), int(sys.argv[3])
        return d["leader"] not in (0, old) and d["epoch"] > old_epoch and leading(d) is not None
    if q == "caught-up":
        lead = leading(d)
        if lead is None or lead["commit_lsn"] != lead["last_lsn"]:
            return False
        return all(n["state"] == "up" and n["epoch"] == d["epoch"]
                   and n["applied_lsn"] >= lead["commit_lsn"] for n in d["nodes"])
    sys.exit(2)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
