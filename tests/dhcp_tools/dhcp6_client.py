#!/usr/bin/env python3
"""A small scripted DHCPv6 client for the end-to-end tests (standard library
only): SOLICIT/ADVERTISE/REQUEST/REPLY or Rapid Commit exchanges with chosen
DUIDs and vendor class (a DOCSIS modem: enterprise 4491 "docsis3.0"), a
malformed-datagram flood, and a bounded load loop that records every REPLY
that grants a binding (for the kill -9 test).

Every mode is bounded in time and count. Output: one JSON object per line.
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import time

ALL_AGENTS = "ff02::1:2"


def opt(code, data):
    return struct.pack("!HH", code, len(data)) + data


def parse_opts(b):
    out = []
    while len(b) >= 4:
        code, ln = struct.unpack("!HH", b[:4])
        out.append((code, b[4 : 4 + ln]))
        b = b[4 + ln :]
    return out


def ia(code, iaid):
    return opt(code, struct.pack("!III", iaid, 0, 0))


def message(kind, xid, duid, args, server_id=None, ias=b"", rapid=False):
    o = opt(1, duid) + opt(8, b"\0\0")
    if server_id is not None:
        o += opt(2, server_id)
    o += ias
    oro = [23, 24, 17]
    o += opt(6, b"".join(struct.pack("!H", c) for c in oro))
    if args.vendor:
        v = args.vendor.encode()
        o += opt(16, struct.pack("!IH", 4491, len(v)) + v)
    if rapid:
        o += opt(14, b"")
    return bytes([kind]) + xid + o


def decode_reply(b):
    res = {"type": b[0], "addrs": [], "prefixes": [], "status": [], "vendor": {}}
    for code, d in parse_opts(b[4:]):
        if code == 2:
            res["server_id"] = d.hex()
        elif code == 13:
            res["status"].append(struct.unpack("!H", d[:2])[0])
        elif code in (3, 25):
            for c2, d2 in parse_opts(d[12:]):
                if c2 == 5 and struct.unpack("!I", d2[20:24])[0] > 0:
                    res["addrs"].append(socket.inet_ntop(socket.AF_INET6, d2[:16]))
                elif c2 == 26 and struct.unpack("!I", d2[4:8])[0] > 0:
                    res["prefixes"].append(
                        "%s/%d" % (socket.inet_ntop(socket.AF_INET6, d2[9:25]), d2[8])
                    )
                elif c2 == 13:
                    res["status"].append(struct.unpack("!H", d2[:2])[0])
        elif code == 17 and len(d) >= 4:
            ent = struct.unpack("!I", d[:4])[0]
            subs = {}
            for c2, d2 in parse_opts(d[4:]):
                if c2 in (32, 34, 37):
                    subs[c2] = [
                        socket.inet_ntop(socket.AF_INET6, d2[i : i + 16])
                        for i in range(0, len(d2), 16)
                    ]
                elif c2 == 33:
                    subs[c2] = d2.decode()
                elif c2 == 38:
                    subs[c2] = struct.unpack("!i", d2)[0]
            res["vendor"][str(ent)] = {str(k): v for k, v in subs.items()}
        elif code == 24:
            res["domain_search"] = d.hex()
    return res


def sock(iface):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind(("::", 546))
    return s, socket.if_nametoindex(iface)


def transact(s, dest, pkt, xid, timeout):
    """Sends `pkt`, retrying, until a reply with `xid` arrives or `timeout`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        s.sendto(pkt, dest)
        s.settimeout(0.5)
        end = min(deadline, time.time() + 1.0)
        while time.time() < end:
            try:
                b, _ = s.recvfrom(65536)
            except (socket.timeout, BlockingIOError):
                break
            if len(b) >= 4 and b[1:4] == xid:
                return decode_reply(b)
    return None


def exchange(s, dest, duid, args, rapid):
    ias = ia(3, 1) if not args.no_na else b""
    if args.pd:
        ias += ia(25, 2)
    xid = os.urandom(3)
    adv = transact(s, dest, message(1, xid, duid, args, ias=ias, rapid=rapid), xid, args.timeout)
    if adv is None or rapid:
        return adv
    if adv["type"] != 2:
        return adv
    xid = os.urandom(3)
    return transact(
        s, dest, message(3, xid, duid, args, server_id=bytes.fromhex(adv["server_id"]), ias=ias),
        xid, args.timeout,
    )


def duid_of(args, i):
    if args.duid:
        return bytes.fromhex(args.duid.replace(":", ""))
    # DUID-EN (type 2), enterprise 4491, a per-run random tag and the index.
    return struct.pack("!HI", 2, 4491) + args.tag + struct.pack("!I", i)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["exchange", "flood", "load"])
    p.add_argument("--iface", required=True)
    p.add_argument("--duid")
    p.add_argument("--vendor")
    p.add_argument("--pd", action="store_true")
    p.add_argument("--no-na", action="store_true")
    p.add_argument("--rapid", action="store_true")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--out")
    args = p.parse_args()
    args.tag = os.urandom(4)
    s, index = sock(args.iface)
    dest = (ALL_AGENTS, 547, 0, index)
    if args.mode == "exchange":
        for i in range(min(args.count, 10000)):
            r = exchange(s, dest, duid_of(args, i), args, args.rapid)
            print(json.dumps({"duid": duid_of(args, i).hex(), "reply": r}), flush=True)
    elif args.mode == "flood":
        rnd = random.Random(1)
        n = min(args.count, 100000)
        for i in range(n):
            k = i % 5
            if k == 0:
                pkt = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64)))
            elif k == 1:  # option length past the end
                pkt = b"\x01abc" + struct.pack("!HH", 1, 500) + b"x"
            elif k == 2:  # relay nesting 20 deep
                pkt = b"\x01abc"
                for _ in range(20):
                    pkt = b"\x0c\x00" + b"\0" * 32 + opt(9, pkt)
            elif k == 3:  # IA_NA too short
                pkt = b"\x01abc" + opt(1, b"\0\3\0\1abcdef") + opt(3, b"\0\0")
            else:  # a REPLY sent to the server
                pkt = b"\x07abc" + opt(1, b"\0\3\0\1abcdef")
            s.sendto(pkt, dest)
            if i % 500 == 499:
                time.sleep(0.01)
        print(json.dumps({"sent": n}), flush=True)
    else:
        # Bounded load: 4-way exchanges with new DUIDs until --seconds pass,
        # every granting REPLY appended (and flushed) to --out at once.
        args.timeout = 1.0
        end = time.time() + min(args.seconds, 60)
        i = 0
        with open(args.out, "a") as f:
            while time.time() < end and i < 100000:
                duid = duid_of(args, i)
                i += 1
                r = exchange(s, dest, duid, args, False)
                if r and r["type"] == 7:
                    for a in r["addrs"] + r["prefixes"]:
                        f.write("%s %s\n" % (duid.hex(), a))
                    f.flush()
        print(json.dumps({"tried": i}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
