#!/usr/bin/env python3
"""A fake shiplog-controller admin API (include/shiplog/admin.h) for shiplogctl's tests.

usage: fake_admin.py SOCKET MODE LOG

Listens on the Unix socket SOCKET, appends every request line it reads to LOG, and
answers by MODE:
  cluster  a 4-node cluster (node 4 a learner that never reported). Tokens: "adm-s3cret"
           may do everything, "op-t0ken" only status, members and events. Checks each
           request's shape (bad_request otherwise).
           switchover --to 2: accepted; node 2 leads at epoch+1 after the third status
           that follows. --to 3: accepted, never completes (a later switchover is busy).
           --to 4: refused (a learner). failover without force: refused. add-node 64:
           internal. remove-node of an unknown node: not_found. events: 25 of them.
           snapshot: all asks nodes 1 to 3 and skips 4 (not connected); node 4 is
           refused, a node that is not a member not_found.
  garbage  answers a line that is not JSON
  version  answers with protocol version 2
  silent   reads requests, never answers
  close    reads a request and closes the connection

Standard library only. Exits by itself after LIFETIME_S, so a test that dies cannot
leave it behind for long.
"""
import json
import os
import socketserver
import sys
import threading

LIFETIME_S = 120
ADMIN, OPERATOR = "adm-s3cret", "op-t0ken"
PRIVILEGED = {"failover", "switchover", "set-policy", "add-node", "remove-node", "snapshot"}
READ_ONLY = {"status", "members", "events"}
FLIP_AFTER_POLLS = 3
N_EVENTS = 25
EVENT_PAGE = 10


def node(n, role, member, state, **kw):
    d = {"node": n, "role": role, "member": member, "state": state}
    d.update(kw)
    return d


class Cluster:
    def __init__(self):
        self.epoch = 5
        self.leader = 1
        self.policy = "all level=flushed durability=fsync sync_timeout_ms=0"
        self.pending = None  # [target, status polls left] (left None: never completes)
        self.learners = {4}
        self.extra = []

    def nodes(self):
        out = []
        for n in (1, 2, 3):
            lead = n == self.leader
            out.append(node(n, "leader" if lead else "follower", "member", "up",
                            epoch=self.epoch, last_lsn=1042 - (n == 3) * 40,
                            flushed_lsn=1042 - (n == 3) * 42, applied_lsn=1040 - (n == 3) * 45,
                            commit_lsn=1040, lag_records=0 if lead else (n == 3) * 40,
                            lag_bytes=0 if lead else (n == 3) * 5120,
                            lag_us=0 if lead else 15 + (n == 3) * 900,
                            sync="leader" if lead else ("sync" if n == 2 else "async"),
                            heard_ms_ago=12 * n, data_addr="10.77.0.%d:7400" % n,
                            snapshot_lsn=0 if n == 3 else 900,
                            wal_first_lsn=1 if n == 3 else 901,
                            snapshots_sent=2 if lead else 0, snapshots_installed=0,
                            may_lead=True, paused=False, degraded=False))
        out.append(node(4, "learner", "learner", "never", sync="-"))
        for n in self.extra:
            out.append(node(n, "learner", "learner", "never", sync="-"))
        return out

    def status(self, args):
        if self.pending is not None and self.pending[1] is not None:
            self.pending[1] -= 1
            if self.pending[1] == 0:
                self.leader, self.epoch, self.pending = self.pending[0], self.epoch + 1, None
        return {"cluster": 7, "epoch": self.epoch, "leader": self.leader, "phase": "steady",
                "policy": self.policy, "degraded": False, "controller_version": "0.1.0",
                "nodes": self.nodes()}

    def members(self, args):
        return {"members": [{"node": n, "learner": n in self.learners}
                            for n in [1, 2, 3, 4] + self.extra]}

    def events(self, args):
        since = args.get("since", 1)
        limit = args.get("limit", EVENT_PAGE)
        if not isinstance(since, int) or not isinstance(limit, int) or limit < 1:
            raise BadRequest("since and limit are integers, limit at least 1")
        evs = [{"seq": s, "time_ns": 1700000000000000000 + s * 10**9,
                "time": "2023-11-14T22:13:%02d.000Z" % (s % 60), "kind": "node_up",
                "node": (s % 3) + 1, "a": 0, "b": 0, "text": "node %d is up" % ((s % 3) + 1)}
               for s in range(max(since, 1), N_EVENTS + 1)][:limit]
        return {"events": evs, "next": evs[-1]["seq"] + 1 if evs else since}

    def failover(self, args):
        if not args.get("force"):
            raise Refusal("refused", "the leader is up (heard 12 ms ago): use switchover")
        return {"accepted": True, "to": args.get("to", 2)}

    def switchover(self, args):
        to = need_node(args, "to")
        if self.pending is not None:
            raise Refusal("busy", "a switchover to node %d is under way" % self.pending[0])
        if to == 4:
            raise Refusal("refused", "node 4 is a learner")
        if to not in (1, 2, 3):
            raise Refusal("not_found", "no node %d" % to)
        self.pending = [to, FLIP_AFTER_POLLS if to == 2 else None]
        return {"accepted": True, "target": to, "epoch": self.epoch}

    def set_policy(self, args):
        if not isinstance(args.get("policy"), str):
            raise BadRequest("policy is a string")
        self.policy = args["policy"]
        return {"policy": self.policy}

    def add_node(self, args):
        n = need_node(args, "node")
        if n == 64:
            raise Refusal("internal", "the state file cannot be written")
        if n in (1, 2, 3, 4) or n in self.extra:
            raise Refusal("refused", "node %d is already a member" % n)
        self.extra.append(n)
        self.learners.add(n)
        return {"node": n, "learner": True}

    def remove_node(self, args):
        n = need_node(args, "node")
        if n not in (1, 2, 3, 4) and n not in self.extra:
            raise Refusal("not_found", "no node %d" % n)
        return {"node": n, "removed": True}

    def snapshot(self, args):
        done = {"epoch": self.epoch, "leader": self.leader, "phase": "steady",
                "state_version": 7}
        if args.get("all") is True and "node" not in args:
            return dict(done, asked=[1, 2, 3], skipped=[4])
        if "all" in args and args["all"] is not False:
            raise BadRequest("node or all, not both")
        n = need_node(args, "node")
        if n == 4:
            raise Refusal("refused", "n4 is not connected to the controller.")
        if n not in (1, 2, 3):
            raise Refusal("not_found", "n%d is not a member of the cluster." % n)
        return dict(done, asked=[n], skipped=[])


class Refusal(Exception):
    def __init__(self, code, error):
        super().__init__(error)
        self.code, self.error = code, error


class BadRequest(Refusal):
    def __init__(self, error):
        super().__init__("bad_request", error)


def need_node(args, name):
    v = args.get(name)
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 64:
        raise BadRequest("%s is a node id from 1 to 64" % name)
    return v


def answer_cluster(cluster, line):
    try:
        req = json.loads(line)
    except ValueError as e:
        raise BadRequest("not JSON: %s" % e)
    if not isinstance(req, dict) or req.get("v") != 1 or not isinstance(req.get("cmd"), str):
        raise BadRequest("expected {\"v\":1,\"cmd\":...}")
    args = req.get("args", {})
    if not isinstance(args, dict):
        raise BadRequest("args is an object")
    cmd, token = req["cmd"], req.get("token")
    if cmd not in PRIVILEGED | READ_ONLY:
        raise Refusal("unknown_command", "no command %s" % cmd)
    if token != ADMIN and not (token == OPERATOR and cmd in READ_ONLY):
        raise Refusal("unauthorized",
                      "no token" if token is None else "this token may not %s" % cmd)
    return getattr(cluster, cmd.replace("-", "_"))(args)


def main():
    path, mode, log = sys.argv[1], sys.argv[2], sys.argv[3]
    cluster = Cluster()
    lock = threading.Lock()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            # A client that gave up (its timeout) before the answer is not an error here.
            try:
                self.answer_lines()
            except (BrokenPipeError, ConnectionResetError):
                pass

        def answer_lines(self):
            for raw in self.rfile:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                with open(log, "a") as f:
                    f.write(line + "\n")
                if mode == "silent":
                    continue
                if mode == "close":
                    return
                if mode == "garbage":
                    self.wfile.write(b"this is not json\n")
                    continue
                if mode == "version":
                    self.wfile.write(b'{"v":2,"ok":true,"result":{}}\n')
                    continue
                with lock:
                    try:
                        ans = {"v": 1, "ok": True, "result": answer_cluster(cluster, line)}
                    except Refusal as r:
                        ans = {"v": 1, "ok": False, "code": r.code, "error": r.error}
                self.wfile.write((json.dumps(ans) + "\n").encode())

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    server = Server(path, Handler)
    threading.Timer(LIFETIME_S, server.shutdown).start()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        os.unlink(path)


if __name__ == "__main__":
    main()
