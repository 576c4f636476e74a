#!/usr/bin/env python3
"""Reboot storm generator: N cable modems come back at once, at most WINDOW
in flight. Each modem: DORA through a relay (this program is the relay:
giaddr = LOCAL, option 82 circuit-id per modem), then a TFTP read of its own
config (modems/<mac>.cfg, must be non-empty and name its MAC), then a DNS
query for cm-<mac>.<ZONE> that must answer the leased address. Retries:
each step is resent after 1 s, at most 4 times; then the modem fails.

usage: storm.py LOCAL SERVER N WINDOW ZONE DNS_PORT [SECS_LIMIT]
Prints `done=N failed=N secs=S rate=R p50_ms=X p99_ms=Y` (rate = modems
fully provisioned per second). Bounded: stops after SECS_LIMIT (default 120).
"""
import selectors, socket, struct, sys, time

local, server = sys.argv[1], sys.argv[2]
n, window, zone, dns_port = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
limit = float(sys.argv[7]) if len(sys.argv) > 7 else 120.0
giaddr = socket.inet_aton(local)
sel = selectors.DefaultSelector()
dhcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dhcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
dhcp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
dhcp.bind((local, 67))
dhcp.setblocking(False)
dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dns.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
dns.setblocking(False)
sel.register(dhcp, selectors.EVENT_READ, "dhcp")
sel.register(dns, selectors.EVENT_READ, "dns")


def mac(i):
    return bytes([0x02, 0xDD]) + struct.pack(">I", i)


def dhcp_packet(kind, i, opts=b""):
    head = struct.pack(">BBBBIHH4s4s4s4s", 1, 1, 6, 1, i, 0, 0, b"\0" * 4, b"\0" * 4, b"\0" * 4, giaddr)
    circuit = b"cm%d" % i
    agent = bytes([1, len(circuit)]) + circuit
    return (head + mac(i) + b"\0" * 10 + b"\0" * 192 + b"\x63\x82\x53\x63" + bytes([53, 1, kind])
            + bytes([60, 8]) + b"docsis3." + opts + bytes([82, len(agent)]) + agent + b"\xff")


def options(data):
    out, rest = {}, data[240:]
    while rest:
        c = rest[0]
        if c == 0:
            rest = rest[1:]
            continue
        if c == 255 or len(rest) < 2:
            break
        out[c] = rest[2:2 + rest[1]]
        rest = rest[2 + rest[1]:]
    return out


def qname(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"


class Modem:
    __slots__ = ("i", "step", "sent", "tries", "started", "ip", "sid", "tftp", "data", "block", "last")

    def __init__(self, i, now):
        self.i, self.step, self.sent, self.tries, self.started = i, "discover", now, 0, now
        self.ip = self.sid = self.tftp = None
        self.data, self.block, self.last = b"", 0, None


active, done_lat, failed = {}, [], 0
hexmac = lambda i: mac(i).hex()


def send(m, now):
    m.sent = now
    if m.step == "discover":
        dhcp.sendto(dhcp_packet(1, m.i), (server, 67))
    elif m.step == "request":
        dhcp.sendto(dhcp_packet(3, m.i, bytes([54, 4]) + m.sid + bytes([50, 4]) + socket.inet_aton(m.ip)), (server, 67))
    elif m.step == "tftp":
        if m.tftp is None:
            m.tftp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            m.tftp.setblocking(False)
            sel.register(m.tftp, selectors.EVENT_READ, m)
        if m.last is None:
            rrq = b"\0\x01" + f"modems/{hexmac(m.i)}.cfg".encode() + b"\0octet\0"
            m.tftp.sendto(rrq, (server, 69))
        else:
            m.tftp.sendto(*m.last)
    elif m.step == "dns":
        q = struct.pack(">HHHHHH", m.i & 0xFFFF, 0, 1, 0, 0, 0) + qname(f"cm-{hexmac(m.i)}.{zone}") + b"\0\x01\0\x01"
        by_dns[m.i & 0xFFFF] = m
        dns.sendto(q, (server, dns_port))


def advance(m, step, now):
    m.step, m.tries = step, 0
    send(m, now)


def finish(m, ok, now):
    global failed
    if m.tftp is not None:
        sel.unregister(m.tftp)
        m.tftp.close()
    active.pop(m.i, None)
    if ok:
        done_lat.append(now - m.started)
    else:
        failed += 1


start = time.monotonic()
nxt = 1
by_dns = {}
while (nxt <= n or active) and time.monotonic() - start < limit:
    now = time.monotonic()
    while nxt <= n and len(active) < window:
        m = Modem(nxt, now)
        active[nxt] = m
        send(m, now)
        nxt += 1
    for key, _ in sel.select(timeout=0.05):
        sock, tag = key.fileobj, key.data
        while True:
            try:
                data, peer = sock.recvfrom(4096)
            except (BlockingIOError, OSError):
                break
            now = time.monotonic()
            if tag == "dhcp":
                if len(data) < 240:
                    continue
                m = active.get(struct.unpack(">I", data[4:8])[0])
                if m is None:
                    continue
                opts = options(data)
                kind = opts.get(53, b"\0")[0]
                if kind == 2 and m.step == "discover":
                    m.ip, m.sid = socket.inet_ntoa(data[16:20]), opts.get(54, b"\0" * 4)
                    advance(m, "request", now)
                elif kind == 5 and m.step == "request":
                    advance(m, "tftp", now)
                elif kind == 6:
                    finish(m, False, now)
            elif tag == "dns":
                if len(data) < 12:
                    continue
                m = by_dns.get(struct.unpack(">H", data[:2])[0])
                if m is None or m.step != "dns" or m.i not in active:
                    continue
                an = struct.unpack(">H", data[6:8])[0]
                if an >= 1 and socket.inet_aton(m.ip) in data[-4:]:
                    finish(m, True, now)
            else:
                m = tag
                if m.step != "tftp" or len(data) < 4:
                    continue
                op, block = struct.unpack(">HH", data[:4])
                if op != 3 or block != m.block + 1:
                    continue
                m.block = block
                m.data += data[4:]
                m.last = (struct.pack(">HH", 4, block), peer)
                m.tftp.sendto(*m.last)
                if len(data) - 4 < 512:
                    if hexmac(m.i).encode() in m.data or mac(m.i).hex(":").encode() in m.data:
                        advance(m, "dns", now)
                    else:
                        finish(m, False, now)
    now = time.monotonic()
    for m in list(active.values()):
        if now - m.sent > 1.0:
            m.tries += 1
            if m.tries > 4:
                finish(m, False, now)
            else:
                send(m, now)
took = time.monotonic() - start
failed += len(active) + max(0, n - nxt + 1)
lat = sorted(done_lat)
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0
print(f"done={len(lat)} failed={failed} secs={took:.2f} rate={len(lat) / took:.0f} p50_ms={pct(0.5):.1f} p99_ms={pct(0.99):.1f}")
