#!/usr/bin/env python3
"""A relay-agent-style DHCP load client: sends DISCOVER and REQUEST for
sequential MACs (giaddr = its own address), at most 32 clients in flight, and
prints every OFFER (a REQUEST goes to the first one only) and ACK it receives as `OFFER|ACK mac address`, a NAK as
`NAK mac`, and a client left unanswered for 2 s (or at the end) as
`TIMEOUT mac`, flushed at once, so the test knows exactly which addresses the
server acknowledged and which requests went unanswered. Nothing is retried,
unless the environment sets DISCOVER_RETRIES=n: then a client that got no
OFFER sends its DISCOVER again after 1 s, up to n more times, as a real client
retransmits (RFC 2131 section 4.1), before its 2 s timeout runs; and a client
that got a NAK starts over with a new DISCOVER, as RFC 2131 section 3.1 says a
client does, within the same n (its NAK is still printed).

usage: relay_client.py LOCAL_ADDR SERVER_ADDR FIRST_INDEX COUNT SECONDS [OPTION82_HEX]
Bounded: starts no client after COUNT clients or SECONDS, whichever comes
first, and ends at most 2 s later.
OPTION82_HEX, if given, is the relay agent information (option 82) payload
(sub-options, hex) added to every DISCOVER and REQUEST, as a relay would.
"""
import os, socket, struct, sys, time

local, server, first, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
agent = bytes.fromhex(sys.argv[6]) if len(sys.argv) > 6 else b""
relay_opts = bytes([82, len(agent)]) + agent if agent else b""
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
# SERVER_ADDR may be a broadcast address, so that several servers answer.
sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
sock.bind((local, 67))
sock.settimeout(0.02)
giaddr = socket.inet_aton(local)

def mac(i):
    return bytes([0x02, 0xcc]) + struct.pack(">I", i)

def packet(kind, i, opts=b""):
    head = struct.pack(">BBBBIHH4s4s4s4s", 1, 1, 6, 1, i, 0, 0, b"\0" * 4, b"\0" * 4, b"\0" * 4, giaddr)
    return head + mac(i) + b"\0" * 10 + b"\0" * 192 + b"\x63\x82\x53\x63" + bytes([53, 1, kind]) + opts + relay_opts + b"\xff"

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

retries = int(os.environ.get("DISCOVER_RETRIES", "0"))
deadline = time.time() + seconds
nxt, end, outstanding, requested, sent = first, first + count, {}, set(), {}
# New clients start until COUNT or SECONDS; those in flight then still get
# their 2 s to be answered.
while (time.time() < deadline and nxt < end) or outstanding:
    now = time.time()
    for i, t in list(outstanding.items()):
        if i not in requested and sent[i] <= retries and now - t > 1.0:
            sock.sendto(packet(1, i), (server, 67))
            outstanding[i] = now
            sent[i] += 1
        elif now - t > 2.0:
            del outstanding[i]
            print("TIMEOUT", ":".join("%02x" % b for b in mac(i)), flush=True)
    while nxt < end and len(outstanding) < 32 and now < deadline:
        try:
            sock.sendto(packet(1, nxt), (server, 67))
        except OSError:
            break
        outstanding[nxt] = now
        sent[nxt] = 1
        nxt += 1
    try:
        data, _ = sock.recvfrom(2048)
    except (socket.timeout, OSError):
        continue
    if len(data) < 240:
        continue
    xid = struct.unpack(">I", data[4:8])[0]
    yiaddr = socket.inet_ntoa(data[16:20])
    opts = options(data)
    kind = opts.get(53, b"\0")[0]
    m = ":".join("%02x" % b for b in data[28:34])
    if kind == 2 and xid in outstanding:
        print("OFFER", m, yiaddr, flush=True)
        # Several servers may offer: like a client, take the first offer.
        if xid in requested:
            continue
        requested.add(xid)
        sid = opts.get(54, b"")
        sock.sendto(packet(3, xid, bytes([54, 4]) + sid + bytes([50, 4]) + data[16:20]), (server, 67))
        outstanding[xid] = time.time()
    elif kind == 5:
        print("ACK", m, yiaddr, flush=True)
        outstanding.pop(xid, None)
    elif kind == 6:
        print("NAK", m, flush=True)
        if xid in outstanding and retries and sent[xid] <= retries:
            # Start over: a new DISCOVER, a new OFFER to take.
            requested.discard(xid)
            sock.sendto(packet(1, xid), (server, 67))
            outstanding[xid] = time.time()
            sent[xid] += 1
        else:
            outstanding.pop(xid, None)
for i in outstanding:
    print("TIMEOUT", ":".join("%02x" % b for b in mac(i)), flush=True)
