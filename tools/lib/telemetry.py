#!/usr/bin/env python3
"""One DPDK telemetry query: telemetry.py SOCKET COMMAND -> the answer's JSON on stdout.

DPDK's telemetry v2 socket (SOCK_SEQPACKET) greets with a JSON object, then answers
each command with {"COMMAND": value}. Exit 1 when the socket or the command fails.
"""
import json
import socket
import sys


def main():
    if len(sys.argv) != 3:
        print("usage: telemetry.py SOCKET COMMAND", file=sys.stderr)
        return 2
    path, cmd = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.settimeout(5)
        s.connect(path)
        hello = json.loads(s.recv(16384).decode())
        bufsize = int(hello.get("max_output_len", 16384))
        s.send(cmd.encode())
        answer = json.loads(s.recv(bufsize).decode())
    except (OSError, ValueError) as e:
        print(f"telemetry.py: {path}: {e}", file=sys.stderr)
        return 1
    finally:
        s.close()
    value = answer.get(cmd.split(",")[0])
    if value is None:
        print(f"telemetry.py: {cmd}: no answer ({answer})", file=sys.stderr)
        return 1
    json.dump(value, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
