#!/usr/bin/env python3
"""Questions about `shiplogctl status --json` (the controller's view), for the tests
and tools/demo (tools/lib/cluster.sh: sl_st, sl_wait_until).

usage: status.py QUESTION [ARGS] < STATUS_JSON
  leader | epoch | phase | policy   print it
  has-leader                   a leader leads the current epoch, every node reported
  leader-changed OLD OLD_EPOCH another node leads an epoch after OLD_EPOCH
  caught-up                    every node is up at the current epoch and has applied
                               all the leader committed, and the leader committed its
                               whole log (ask when no writes are coming)
  all-up                       every node reports, at the current epoch
  node N FIELD                 print node N's FIELD (role, epoch, state, last_lsn...)
  steady-as LEADER EPOCH       phase steady, LEADER leads EPOCH, every node up at it
  follows N                    node N is up and follows the current leader at the
                               current epoch
  member N                     node N is a member counted by the commit policy (not
                               a learner), up at the current epoch
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
    if q in ("leader", "epoch", "phase", "policy"):
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
    if q == "all-up":
        return all(n["state"] == "up" and n.get("epoch") == d["epoch"] for n in d["nodes"])
    if q == "node":
        node, field = int(sys.argv[2]), sys.argv[3]
        for n in d["nodes"]:
            if n["node"] == node:
                print(n.get(field))
                return True
        return False
    if q == "steady-as":
        lead, epoch = int(sys.argv[2]), int(sys.argv[3])
        return (d["phase"] == "steady" and d["leader"] == lead and d["epoch"] == epoch
                and leading(d) is not None
                and all(n["state"] == "up" and n.get("epoch") == epoch for n in d["nodes"]))
    if q == "follows":
        node = int(sys.argv[2])
        return leading(d) is not None and any(
            n["node"] == node and n["state"] == "up" and n.get("role") == "follower"
            and n.get("epoch") == d["epoch"] for n in d["nodes"])
    if q == "member":
        node = int(sys.argv[2])
        return any(n["node"] == node and n.get("member") == "member" and n["state"] == "up"
                   and n.get("epoch") == d["epoch"] for n in d["nodes"])
    sys.exit(2)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
