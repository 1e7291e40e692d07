#!/bin/sh
# shiplog-controller as a process, on loopback in a temporary folder (no root): exit
# codes of bad configurations and states; the admin API's status shape over the Unix
# socket and TCP; privileged commands without the admin token refused, audited and
# changing nothing; a bad agent line answered with bye; three fake agents (python3,
# standard library) that say hello and report until the controller promotes one of
# them; the Prometheus endpoint (metrics_listen) before and after the election, its 404
# and 405, a half-sent request that does not stall the loop, a bad metrics_listen (exit
# 2) and a metrics port already taken (exit 1, as for the other listeners); SIGTERM
# saves and exits 0; a restart resumes the epoch from state.json.
# usage: controller-smoke.sh SHIPLOG_CONTROLLER
set -eu
ctld=$1
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is missing"; exit 77; }
dir=$(mktemp -d /tmp/ctlsmoke.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
log="$dir/controller.log"

fail() {
	echo "--- controller log"
	cat "$log" 2>/dev/null || true
	echo "--- last exit test"
	cat "$dir/exit.log" 2>/dev/null || true
	echo "FAIL: $*"
	exit 1
}

printf 'adm-s3cret\n' >"$dir/admin.token"
printf 'op-t0ken\n' >"$dir/operator.token"
cat >"$dir/ctl.conf" <<EOF
[controller]
cluster_id = 7
members = 1,2,3
state_dir = $dir/state
admin_socket = $dir/run/admin.sock
agent_listen = 127.0.0.1:0
admin_listen = 127.0.0.1:0
metrics_listen = 127.0.0.1:0
admin_token_file = $dir/admin.token
operator_token_file = $dir/operator.token
failure_timeout_ms = 2000
EOF

# expect_exit CODE PATTERN ARGS...: the controller exits CODE saying PATTERN.
expect_exit() {
	code=$1 pattern=$2
	shift 2
	rc=0
	timeout 10 "$ctld" "$@" >"$dir/exit.log" 2>&1 </dev/null || rc=$?
	[ "$rc" -eq "$code" ] || fail "shiplog-controller $*: exit $rc, expected $code"
	grep -q -e "$pattern" "$dir/exit.log" || fail "shiplog-controller $*: does not say '$pattern'"
}

# start: runs the controller in the background and waits for its listening line.
start() {
	: >"$log"
	"$ctld" --config "$dir/ctl.conf" "$@" 2>"$log" </dev/null &
	pid=$!
	for _ in $(seq 200); do
		grep -q "agents on" "$log" && break
		kill -0 "$pid" 2>/dev/null || fail "the controller exited at start-up"
		sleep 0.05
	done
	grep -q "agents on" "$log" || fail "no 'agents on' line within 10 s"
	agents=$(sed -n 's/.*agents on \([0-9.]*:[0-9]*\),.*/\1/p' "$log" | head -1)
	admin_tcp=$(sed -n 's/.*admin on .* and \([0-9.]*:[0-9]*\)$/\1/p' "$log" | head -1)
	metrics=$(sed -n 's,.*metrics on http://\([0-9.]*:[0-9]*\)/metrics$,\1,p' "$log" | head -1)
	[ -n "$agents" ] && [ -n "$admin_tcp" ] && [ -n "$metrics" ] ||
		fail "addresses not in the log"
}

# stop: SIGTERM, then exit 0 within 10 s.
stop() {
	kill -TERM "$pid"
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGTERM"
	rc=0
	wait "$pid" || rc=$?
	pid=""
	[ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM, expected 0"
}

# ---- usage and configuration errors: exit 2, naming file, line and key
expect_exit 2 "--config FILE is required"
expect_exit 2 "unknown argument" --config "$dir/ctl.conf" stray
expect_exit 0 "usage:" --help
expect_exit 0 "shiplog-controller [0-9]" --version
printf '[controller]\ncluster_id = 7\nmembers = 1,2\nbogus = 1\n' >"$dir/bad.conf"
expect_exit 2 "bad.conf:4: controller.bogus: unknown key" --config "$dir/bad.conf"
expect_exit 2 "controller.members: a node id is a number" --config "$dir/ctl.conf" \
	--controller.members=0
printf '[controller]\ncluster_id = 7\nmembers = 1,2\n' >"$dir/nostate.conf"
expect_exit 2 "controller.state_dir: required" --config "$dir/nostate.conf"
printf '[controller]\ncluster_id = 7\nmembers = 1,2\nmetrics_listen = localhost:9410\n' \
	>"$dir/badmetrics.conf"
expect_exit 2 "badmetrics.conf:4: controller.metrics_listen: not an IPv4 address" \
	--config "$dir/badmetrics.conf"
expect_exit 2 "controller.metrics_listen: expected host:port" --config "$dir/ctl.conf" \
	--controller.metrics_listen=9410

# ---- the admin API and the agents (python3)
cat >"$dir/smoke.py" <<'EOF'
import http.client, json, os, re, select, socket, sys, time, urllib.error, urllib.request

DEADLINE_S = 20
mode, statedir, agents, admin_tcp, metrics = sys.argv[1:6]
ADMIN, OPER = "adm-s3cret", "op-t0ken"
start = time.monotonic()


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def admin(req, tcp=False):
    if tcp:
        s = socket.create_connection(hostport(admin_tcp), timeout=5)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(os.path.join(os.path.dirname(statedir), "run", "admin.sock"))
    f = s.makefile("rwb")
    f.write((req if isinstance(req, str) else json.dumps(req)).encode() + b"\n")
    f.flush()
    line = f.readline()
    s.close()
    check(line.endswith(b"\n"), "an answer line")
    a = json.loads(line)
    check(a.get("v") == 1, "answer version")
    return a


def ok(cmd, token=OPER, args=None, tcp=False):
    a = admin({"v": 1, "token": token, "cmd": cmd, "args": args or {}}, tcp)
    check(a["ok"] is True, "%s: %s" % (cmd, a))
    return a["result"]


def code(req, expected):
    a = admin(req)
    check(a["ok"] is False and a["code"] == expected, "%s: %s, expected %s" % (req, a, expected))
    check(isinstance(a["error"], str) and a["error"], "an error sentence")


def audit():
    try:
        with open(os.path.join(statedir, "audit.jsonl")) as f:
            return [json.loads(l) for l in f]
    except FileNotFoundError:
        return []


def status_shape(s, n_nodes):
    for k, t in (("cluster", int), ("epoch", int), ("leader", int), ("phase", str),
                 ("policy", str), ("degraded", bool), ("controller_version", str),
                 ("nodes", list), ("controller", dict)):
        check(isinstance(s.get(k), t), "status.%s: %r" % (k, s.get(k)))
    check(len(s["nodes"]) == n_nodes, "status: %d nodes" % n_nodes)
    for n in s["nodes"]:
        for k in ("node", "role", "member", "state", "sync"):
            check(k in n, "status.nodes[].%s" % k)
        check(n["state"] in ("up", "lost", "never"), "node state")
        check(n["member"] in ("member", "learner"), "node member")
        if n["state"] == "never":
            check("last_lsn" not in n, "no LSN for a node never heard")
    c = s["controller"]
    check(isinstance(c.get("agent_lines_rejected"), int), "controller.agent_lines_rejected")
    check(isinstance(c.get("admin_requests"), dict), "controller.admin_requests")


class Agent:
    def __init__(self, node, cluster=7):
        self.node, self.epoch, self.role, self.leader, self.seq = node, 0, "fenced", 0, 0
        self.snap = {}  # the snapshot fields, once a test gives them (an older agent: none)
        self.sock = socket.create_connection(hostport(agents), timeout=5)
        self.buf = b""
        self.cmds = []
        self.send({"v": 1, "type": "hello", "node": node, "cluster": cluster, "token": ""})

    def send(self, o):
        self.sock.sendall(json.dumps(o).encode() + b"\n")

    def report(self):
        self.seq += 1
        st = {"role": self.role, "epoch": self.epoch, "leader": self.leader,
              "last_lsn": 100, "last_epoch": 1 if self.epoch else 0, "flushed_lsn": 100,
              "applied_lsn": 100, "commit_lsn": 100, "degraded": False, "paused": False,
              "lease_expired": False, "leader_age_ns": None,
              "policy": "all level=flushed durability=fsync sync_timeout_ms=0",
              "peers": []}
        self.send({"v": 1, "type": "report", "node": self.node, "cluster_id": 7,
                   "seq": self.seq, "may_lead": True, "refetch_lsn": 0, "stale_epoch": 0,
                   "truncated_records": 0, "retransmits": 0, "client_busy": 0,
                   "data_addr": "127.0.0.1:%d" % (7400 + self.node), "st": st,
                   **self.snap})

    def lines(self):
        data = self.sock.recv(65536)
        if not data:
            return None
        self.buf += data
        out = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            out.append(json.loads(line))
        return out

    def apply(self, m):
        check(m.get("v") == 1 and m.get("type") == "cmd", "a command: %s" % m)
        self.cmds.append(m)
        if m["cmd"] == "fence":
            self.epoch, self.role, self.leader = m["epoch"], "fenced", 0
        elif m["cmd"] == "promote":
            self.epoch, self.role, self.leader = m["epoch"], "leader", self.node
        elif m["cmd"] == "follow":
            self.epoch, self.role, self.leader = m["epoch"], "follower", m["node"]


def read_to_close(s):
    """What s receives until the peer closes; s closed."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def bad_agent(first, reason):
    s = socket.create_connection(hostport(agents), timeout=5)
    s.sendall(first)
    data = read_to_close(s)
    bye = json.loads(data.split(b"\n")[0])
    check(bye["type"] == "bye" and reason in bye["reason"], "bye: %s" % bye)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|'
                    r'\\[\\"n])*",?)*\})?) (-?[0-9]+(?:\.[0-9]+)?|\+Inf)$')


def scrape():
    """GET /metrics: {'name{labels}': value}, every line checked for its shape."""
    with urllib.request.urlopen("http://%s/metrics" % metrics, timeout=5) as r:
        check(r.status == 200, "metrics: status %d" % r.status)
        check(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
              "metrics: content type %s" % r.headers["Content-Type"])
        text = r.read().decode()
    check(text.endswith("\n"), "metrics: the text ends with a newline")
    out = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "metrics: not name{labels} value: %r" % line)
        out[m.group(1)] = float(m.group(2))
    return out


def http_status(method, path):
    req = urllib.request.Request("http://%s%s" % (metrics, path), method=method,
                                 data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def metrics_checks_boot():
    m = scrape()
    check(m.get("shiplog_epoch") == 0 and m.get("shiplog_leader") == 0, "metrics: a new cluster")
    check(m.get('shiplog_phase{phase="boot"}') == 1, "metrics: phase boot")
    check(m.get('shiplog_policy_info{policy="all level=flushed durability=fsync '
                'sync_timeout_ms=0"}') == 1, "metrics: the policy")
    for n in (1, 2, 3):
        check(m.get('shiplog_member_up{node="%d"}' % n) == 0, "metrics: member %d down" % n)
        check(m.get('shiplog_member_role{node="%d",role="unknown"}' % n) == 1, "role unknown")
    check('shiplog_member_last_lsn{node="1"}' not in m, "metrics: no LSN before a report")
    check(http_status("GET", "/nope")[0] == 404, "metrics: 404 for another path")
    check(http_status("GET", "/metrics/x")[0] == 404, "metrics: 404 below /metrics")
    code, headers = http_status("POST", "/metrics")
    check(code == 405 and "GET" in headers.get("Allow", ""), "metrics: 405 with Allow")
    check(http_status("HEAD", "/metrics")[0] == 200, "metrics: HEAD")
    # Scrapes on one connection: it stays open between them.
    c = http.client.HTTPConnection(*hostport(metrics), timeout=5)
    for _ in range(2):
        c.request("GET", "/metrics")
        r = c.getresponse()
        check(r.status == 200 and b"\nshiplog_epoch 0\n" in r.read() and not r.will_close,
              "metrics: a kept-alive connection")
    c.close()
    # A request sent by halves: the controller answers others meanwhile (one thread,
    # nothing blocks on a slow client), then this one.
    s = socket.create_connection(hostport(metrics), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    check(ok("status")["epoch"] == 0, "status while a metrics request is half sent")
    s.sendall(b"Connection: close\r\n\r\n")
    data = read_to_close(s)
    check(data.startswith(b"HTTP/1.1 200") and b"\nshiplog_epoch 0\n" in data,
          "metrics: the half-sent request answered: %r" % data[:80])


def metrics_checks_steady(epoch):
    m = scrape()
    check(m.get("shiplog_epoch") == epoch and m.get("shiplog_leader") == 1,
          "metrics: epoch %d, leader 1" % epoch)
    check(m.get('shiplog_phase{phase="steady"}') == 1, "metrics: phase steady")
    check(m.get("shiplog_members") == 3, "metrics: 3 members")
    for n in (1, 2, 3):
        check(m.get('shiplog_member_up{node="%d"}' % n) == 1, "metrics: member %d up" % n)
        check(m.get('shiplog_member_last_lsn{node="%d"}' % n) == 100, "metrics: LSN")
        check(m.get('shiplog_member_info{node="%d",data_addr="127.0.0.1:%d"}'
                    % (n, 7400 + n)) == 1, "metrics: data_addr")
    check(m.get('shiplog_member_role{node="1",role="leader"}') == 1, "metrics: node 1 leads")
    check(m.get('shiplog_member_role{node="2",role="follower"}') == 1, "metrics: 2 follows")
    check(m.get('shiplog_member_lag_records{node="1"}') == 0, "metrics: the leader's lag")
    check(m.get("shiplog_agents_connected") == 3, "metrics: agents connected")
    check(m.get("shiplog_agent_lines_rejected_total", 0) >= 3, "metrics: rejected lines")
    check(m.get('shiplog_admin_requests_total{code="unauthorized"}', 0) >= 6,
          "metrics: unauthorized requests")
    check(m.get('shiplog_events_total{kind="promoted"}', 0) >= 1, "metrics: promoted")
    check(m.get("shiplog_state_saves_total", 0) >= 1, "metrics: state saves")


def pump(nodes, done):
    """The commands the agents receive, until done() or a few seconds."""
    deadline = time.monotonic() + 5
    while not done() and time.monotonic() < deadline:
        ready, _, _ = select.select([a.sock for a in nodes], [], [], 0.05)
        for a in nodes:
            if a.sock in ready:
                for m in a.lines() or []:
                    a.apply(m)


def snapshot_checks(nodes, epoch):
    """snapshot all asks every agent connected at the epoch; a report that moves a
    node's snapshot LSN is an event; a node no longer connected is refused."""
    r = ok("snapshot", ADMIN, args={"all": True})
    check(r["asked"] == [1, 2, 3] and r["skipped"] == [] and r["epoch"] == epoch,
          "snapshot all: %s" % r)
    def asked(a):
        return [m for m in a.cmds if m["cmd"] == "snapshot"]
    pump(nodes, lambda: all(asked(a) for a in nodes))
    for a in nodes:
        check(len(asked(a)) == 1 and asked(a)[0]["epoch"] == epoch, "n%d: snapshot" % a.node)
    nodes[1].snap = {"snapshot_lsn": 100, "wal_first_lsn": 101, "snapshots_sent": 0,
                     "snapshots_installed": 0}
    for _ in range(2):
        nodes[1].report()
        time.sleep(0.1)
    ev = ok("events", args={"limit": 1000})["events"]
    check([(e["node"], e["a"], e["b"]) for e in ev if e["kind"] == "snapshot"] == [(2, 100, 101)],
          "a snapshot event for n2")
    n2 = [n for n in ok("status")["nodes"] if n["node"] == 2][0]
    check(n2["snapshot_lsn"] == 100 and n2["wal_first_lsn"] == 101, "n2's snapshot in status")
    check(scrape().get('shiplog_member_snapshot_lsn{node="2"}') == 100, "metrics: n2's snapshot")
    nodes[2].sock.close()
    time.sleep(0.2)
    code({"v": 1, "token": ADMIN, "cmd": "snapshot", "args": {"node": 3}}, "refused")
    r = ok("snapshot", ADMIN, args={"all": True})
    check(r["asked"] == [1, 2] and r["skipped"] == [3], "snapshot all without n3: %s" % r)
    check([l["cmd"] for l in audit()][-3:] == ["snapshot"] * 3, "snapshots audited")


def main():
    metrics_checks_boot()
    s = ok("status")
    status_shape(s, 3)
    check(s["cluster"] == 7 and s["epoch"] == 0 and s["phase"] == "boot", "a new cluster")
    check(all(n["state"] == "never" for n in s["nodes"]), "nobody reported yet")
    status_shape(ok("status", ADMIN, tcp=True), 3)
    check(ok("members")["members"] == [{"node": i, "learner": False} for i in (1, 2, 3)],
          "members")
    code({"v": 1, "cmd": "status"}, "unauthorized")
    code({"v": 1, "token": "wrong", "cmd": "status"}, "unauthorized")
    code("this is not json", "bad_request")
    code({"v": 1, "token": OPER, "cmd": "reboot"}, "unknown_command")

    # Privileged without the admin token: refused, audited, nothing changed.
    version = s["state_version"]
    for token in (None, "wrong", OPER):
        req = {"v": 1, "cmd": "failover", "args": {"to": 2, "force": True}}
        if token:
            req["token"] = token
        code(req, "unauthorized")
    code({"v": 1, "token": OPER, "cmd": "set-policy", "args": {"policy": "async"}},
         "unauthorized")
    lines = audit()
    check(len(lines) == 4, "4 audit lines, not %d" % len(lines))
    check([l["token"] for l in lines] == ["none", "none", "operator", "operator"], "who")
    check(all(l["outcome"] == "unauthorized" and l["transport"] == "unix" for l in lines),
          "outcomes")
    check(lines[0]["cmd"] == "failover" and lines[0]["args"] == {"to": 2, "force": True},
          "audited args")
    check(lines[0]["peer"]["pid"] > 0, "audited peer")
    s = ok("status")
    check(s["epoch"] == 0 and s["state_version"] == version and s["phase"] == "boot",
          "nothing changed")
    check(not os.path.exists(os.path.join(statedir, "state.json")), "nothing saved")
    check(s["controller"]["admin_requests"]["unauthorized"] >= 6, "counted")

    # Bad agents: a line that is not JSON, a hello of another cluster, a report first.
    bad_agent(b"garbage\n", "not JSON")
    bad_agent(b'{"v":1,"type":"hello","node":1,"cluster":8,"token":""}\n', "cluster")
    bad_agent(b'{"v":1,"type":"hello","node":9,"cluster":7,"token":""}\n', "member")
    check(ok("status")["controller"]["agent_lines_rejected"] >= 3, "rejected lines counted")

    # Three agents report until one is promoted.
    nodes = [Agent(i) for i in (1, 2, 3)]
    promoted = None
    last = 0
    while time.monotonic() - start < DEADLINE_S:
        if time.monotonic() - last > 0.1:
            for a in nodes:
                a.report()
            last = time.monotonic()
        ready, _, _ = select.select([a.sock for a in nodes], [], [], 0.05)
        for a in nodes:
            if a.sock in ready:
                ms = a.lines()
                check(ms is not None, "node %d: the controller closed" % a.node)
                for m in ms:
                    a.apply(m)
        promoted = [a for a in nodes if a.role == "leader"]
        following = [a for a in nodes if a.role == "follower"]
        if promoted and len(following) == 2:
            break
    check(promoted, "no promote within %d s" % DEADLINE_S)
    leader = promoted[0]
    check(leader.node == 1, "the preferred node 1 leads when all are equal")
    check(all(f.leader == 1 and f.epoch == leader.epoch for f in following), "followers")
    check(any(m["cmd"] == "fence" for m in leader.cmds), "fenced before promotion")
    for _ in range(3):
        for a in nodes:
            a.report()
        time.sleep(0.1)
    s = ok("status")
    status_shape(s, 3)
    check(s["leader"] == 1 and s["epoch"] == leader.epoch and s["phase"] == "steady",
          "status after the election: %s" % s)
    check(all(n["state"] == "up" for n in s["nodes"]), "all up")
    n1 = [n for n in s["nodes"] if n["node"] == 1][0]
    check(n1["role"] == "leader" and n1["sync"] == "leader" and n1["last_lsn"] == 100,
          "node 1 in status")
    ev = ok("events", args={"limit": 1000})
    check(any(e["kind"] == "promoted" and e["node"] == 1 for e in ev["events"]), "events")
    check(ev["next"] == ev["events"][-1]["seq"] + 1, "events next")
    metrics_checks_steady(leader.epoch)
    with open(os.path.join(statedir, "events.jsonl")) as f:
        check(len(f.readlines()) == len(ev["events"]), "events.jsonl")
    snapshot_checks(nodes, leader.epoch)
    print(leader.epoch)


def nosave():
    a = Agent(1)
    a.report()
    while time.monotonic() - start < DEADLINE_S:
        ms = a.lines()
        if ms is None:
            return
        check(not any(m.get("type") == "cmd" for m in ms), "a command of an unsaved epoch")
    check(False, "the controller did not stop")


if mode == "main":
    main()
elif mode == "nosave":
    nosave()
else:
    print(ok("status")["epoch"])
EOF

start
epoch=$(timeout 60 python3 "$dir/smoke.py" main "$dir/state" "$agents" "$admin_tcp" "$metrics") ||
	fail "the admin API and agent checks: $epoch"
[ "$epoch" -ge 1 ] || fail "epoch $epoch after the election"
grep -q "event .* promoted node 1" "$log" || fail "no promotion on stderr"
# The admin socket's missing folder is made 0755; the socket is 0660.
[ "$(stat -c %a "$dir/run")" = 755 ] || fail "$dir/run: mode $(stat -c %a "$dir/run")"
[ "$(stat -c %a "$dir/run/admin.sock")" = 660 ] || fail "admin.sock: mode not 0660"
# Another controller (another state_dir) leaves a live socket alone.
expect_exit 1 "another controller listens on it" --config "$dir/ctl.conf" \
	--controller.state_dir="$dir/state3"
# A metrics port already taken stops the start, naming the address.
expect_exit 1 "listen: $metrics: Address already in use" --config "$dir/ctl.conf" \
	--controller.state_dir="$dir/state3" --controller.admin_socket= \
	--controller.metrics_listen="$metrics"
stop
grep -q "\"epoch\": $epoch," "$dir/state/state.json" || fail "state.json lacks epoch $epoch"

# ---- a restart resumes the epoch and the event sequence
seq_before=$(wc -l <"$dir/state/events.jsonl")
start
again=$(timeout 30 python3 "$dir/smoke.py" epoch "$dir/state" "$agents" "$admin_tcp" "$metrics") ||
	fail "status after the restart: $again"
[ "$again" = "$epoch" ] || fail "epoch $again after the restart, expected $epoch"
grep -q "stored state: epoch $epoch, leader 1, phase steady" "$log" || fail "restart line"
# A second controller on the same folder is refused.
expect_exit 1 "another controller uses this state_dir" --config "$dir/ctl.conf"
stop
[ "$(wc -l <"$dir/state/events.jsonl")" -ge "$seq_before" ] || fail "events.jsonl shrank"

# ---- a corrupt or foreign state stops the start (exit 1), never a fresh cluster
cp "$dir/state/state.json" "$dir/good.json"
sed "s/\"epoch\": $epoch,/\"epoch\": $((epoch + 1)),/" "$dir/good.json" >"$dir/state/state.json"
expect_exit 1 "crc32c: .*refusing to start" --config "$dir/ctl.conf"
head -c 40 "$dir/good.json" >"$dir/state/state.json"
expect_exit 1 "state.json: not JSON" --config "$dir/ctl.conf"
cp "$dir/good.json" "$dir/state/state.json"
expect_exit 1 "belongs to cluster 7, the configuration says 8" --config "$dir/ctl.conf" \
	--controller.cluster_id=8

# ---- a save that fails stops the controller (exit 1) before any command goes out
mkdir -p "$dir/state2/state.json.tmp" # the temporary file cannot be made
start --controller.state_dir="$dir/state2"
timeout 30 python3 "$dir/smoke.py" nosave "$dir/state2" "$agents" "$admin_tcp" "$metrics" ||
	fail "a command left before its epoch was saved"
for _ in $(seq 200); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 1 ] || fail "exit $rc after a failed save, expected 1"
grep -q "save failed: .*stopping" "$log" || fail "the failed save is not reported"
echo "controller-smoke: ok (epoch $epoch)"
