#!/usr/bin/env python3
"""Sends garbage and foreign frames at shiplog nodes (run on the client host).

garbage.py IFNAME CLUSTER_ID COUNT NODE_IP[=MAC]...

Per node, COUNT of each: random UDP payloads, well-formed headers of another cluster,
our cluster with a wrong CRC, truncated frames; and on the link (AF_PACKET, to the
node's MAC when given, else broadcast): frames of unknown ethertypes, IPv4 with a bad
header checksum, IPv4 fragments, and ICMP. Prints what it sent as JSON.
"""
import json
import os
import random
import socket
import struct
import sys
import time

MAGIC = 0x4C504853


def frame_hdr(cluster, ftype=1, payload_len=0, crc=0):
    return struct.pack("<IBBHIIHHIQII16s", MAGIC, 1, ftype, 0, cluster, 0, 0, 0xFFFF,
                       payload_len, 0, crc, 0, b"\0" * 16)


def ip_csum(h):
    s = sum(struct.unpack("!10H", h))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, payload, frag=0, good_csum=True):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, frag, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    c = ip_csum(h) if good_csum else 0x1234
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def main():
    ifname, cluster, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    nodes = [a.split("=") for a in sys.argv[4:]]
    rnd = random.Random(7)
    sent = {"udp_random": 0, "foreign_cluster": 0, "bad_crc": 0, "truncated": 0,
            "l2_ethertype": 0, "ip_bad_checksum": 0, "ip_fragment": 0, "icmp": 0}
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    raw.bind((ifname, 0))
    my_mac = raw.getsockname()[4]
    src_ip = socket.inet_ntoa(socket.inet_aton("10.77.0.100"))
    for node in nodes:
        ip = node[0]
        mac = bytes.fromhex(node[1].replace(":", "")) if len(node) > 1 else b"\xff" * 6
        for _ in range(count):
            u.sendto(os.urandom(rnd.randint(1, 1400)), (ip, 7400))
            sent["udp_random"] += 1
            t = rnd.randint(1, 7)
            u.sendto(frame_hdr(cluster + 1000, t, 0), (ip, 7400))
            sent["foreign_cluster"] += 1
            body = os.urandom(32)
            u.sendto(frame_hdr(cluster, 1, len(body), 0xDEADBEEF) + body, (ip, 7400))
            sent["bad_crc"] += 1
            u.sendto(frame_hdr(cluster, 3, 200)[: rnd.randint(1, 55)], (ip, 7400))
            sent["truncated"] += 1
            eth = mac + my_mac
            raw.send(eth + struct.pack("!H", rnd.choice([0x86DD, 0x88CC, 0x8100, 0x1234]))
                     + os.urandom(46))
            sent["l2_ethertype"] += 1
            udp = struct.pack("!HHHH", 4000, 7400, 8 + 16, 0) + os.urandom(16)
            raw.send(eth + b"\x08\x00" + ipv4(src_ip, ip, 17, udp, good_csum=False))
            sent["ip_bad_checksum"] += 1
            raw.send(eth + b"\x08\x00" + ipv4(src_ip, ip, 17, udp, frag=0x2000))
            sent["ip_fragment"] += 1
            raw.send(eth + b"\x08\x00" + ipv4(src_ip, ip, 1, b"\x08\x00" + os.urandom(30)))
            sent["icmp"] += 1
            time.sleep(0.0005)  # a flood, but one the kernel's rings can take
    json.dump(sent, sys.stdout)
    print()


if __name__ == "__main__":
    main()
