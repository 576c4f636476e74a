#!/usr/bin/env python3
"""RFC 2136 update load: CLIENTS processes, each sending one UPDATE at a time
over UDP to 127.0.0.1:PORT (one A add and one delete of the previous add per
message, TSIG hmac-sha256 signed), for SECS seconds. Prints one line:
`ok=N fail=N timeouts=N secs=S rate=R` (rate = answered NOERROR per second).

Usage: dns_update_load.py PORT ZONE KEYNAME SECRET_B64 SECS CLIENTS
Only loopback is addressed; every run ends by itself after SECS seconds.
"""
import base64
import hashlib
import hmac
import multiprocessing
import random
import socket
import struct
import sys
import time


def wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(name, rtype, rclass, ttl, rdata):
    return wire(name) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def sign(msg, msg_id, key, secret):
    """Appends a TSIG RR (RFC 8945 §4.3) to an unsigned message."""
    alg = wire("hmac-sha256")
    now = int(time.time())
    signed = struct.pack("!HI", now >> 32, now & 0xFFFFFFFF) + struct.pack("!H", 300)
    variables = wire(key) + struct.pack("!HI", 255, 0) + alg + signed + struct.pack("!HH", 0, 0)
    mac = hmac.new(secret, msg + variables, hashlib.sha256).digest()
    rdata = alg + signed + struct.pack("!H", len(mac)) + mac + struct.pack("!HHH", msg_id, 0, 0)
    arcount = struct.unpack("!H", msg[10:12])[0] + 1
    return msg[:10] + struct.pack("!H", arcount) + msg[12:] + rr(key, 250, 255, 0, rdata)


def client(idx, port, zone, key, secret, secs, out):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2.0)
    ok = fail = timeouts = 0
    prev = None
    i = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        i += 1
        msg_id = random.randint(0, 0xFFFF)
        name = f"u{idx}-{i}.{zone}"
        addr = bytes([10, idx % 256, (i >> 8) & 255, i & 255])
        updates = [rr(name, 1, 1, 300, addr)]
        if prev:
            updates.append(rr(prev[0], 1, 254, 0, prev[1]))
        header = struct.pack("!HHHHHH", msg_id, 5 << 11, 1, 0, len(updates), 0)
        body = header + wire(zone) + struct.pack("!HH", 6, 1) + b"".join(updates)
        sock.sendto(sign(body, msg_id, key, secret), ("127.0.0.1", port))
        try:
            while True:
                data = sock.recv(4096)
                if len(data) >= 4 and struct.unpack("!H", data[:2])[0] == msg_id:
                    break
        except socket.timeout:
            timeouts += 1
            continue
        if data[3] & 0x0F == 0:
            ok += 1
            prev = (name, addr)
        else:
            fail += 1
    out.put((ok, fail, timeouts))


def main():
    port, zone, key, secret, secs, clients = sys.argv[1:7]
    port, secs, clients = int(port), float(secs), int(clients)
    secret = base64.b64decode(secret)
    q = multiprocessing.Queue()
    start = time.monotonic()
    procs = [
        multiprocessing.Process(target=client, args=(c, port, zone, key, secret, secs, q))
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    totals = [0, 0, 0]
    for _ in procs:
        for n, v in enumerate(q.get()):
            totals[n] += v
    for p in procs:
        p.join()
    took = time.monotonic() - start
    print(f"ok={totals[0]} fail={totals[1]} timeouts={totals[2]} secs={took:.1f} rate={totals[0] / took:.0f}")


if __name__ == "__main__":
    main()
