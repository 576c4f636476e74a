//! The reboot-storm generator (bench/storm.sh): N cable modems come back
//! at once, at most WINDOW in flight. Each modem does DORA through a relay
//! (this program is the relay: giaddr = LOCAL, option 82 with a circuit-id
//! per modem and its MAC as remote-id, option 12 `cm-<mac>`), then reads
//! its own config by TFTP (`modems/<mac>.cfg`, which must name its MAC),
//! then asks DNS for `cm-<mac>.<ZONE>` A, which must answer the leased
//! address. A step gets no answer: resent after 1 s, at most 4 times, then
//! the modem fails; a DNS answer without the address (a name added after
//! the ACK, as Kea's D2 does) is asked again after 50 ms, for at most 10 s.
//!
//! One thread, non-blocking std sockets under epoll: the DHCP socket
//! (LOCAL:67, so the server answers the relay by unicast), one DNS socket,
//! and one TFTP socket per window slot (a transfer's DATA comes from a
//! port of its own, RFC 1350 §4).
//!
//! ```text
//! storm_load LOCAL SERVER N WINDOW ZONE [DNS_PORT] [SECS_LIMIT]
//! ```
//! Prints `done=N failed=N secs=S rate=R p50_ms=X p99_ms=Y cpu_s=C`
//! (rate: modems fully provisioned per second; cpu_s: this program's own
//! user + system CPU seconds). Stops by itself after SECS_LIMIT (120).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsFd as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage, setrlimit};

const DHCP_COOKIE: [u8; 4] = [99, 130, 83, 99];
const RESEND: Duration = Duration::from_secs(1);
const MAX_RESENDS: u32 = 4;
const DNS_AGAIN: Duration = Duration::from_millis(50);
const DNS_PATIENCE: Duration = Duration::from_secs(10);
const TOKEN_DHCP: u64 = u64::MAX;
const TOKEN_DNS: u64 = u64::MAX - 1;

struct Args {
    local: Ipv4Addr,
    server: Ipv4Addr,
    modems: u32,
    window: usize,
    zone: String,
    dns_port: u16,
    limit: Duration,
}

fn parse_args() -> Result<Args, String> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if !(5..=7).contains(&a.len()) {
        return Err("usage: storm_load LOCAL SERVER N WINDOW ZONE [DNS_PORT] [SECS_LIMIT]".into());
    }
    let bad = |what: &str, v: &str| format!("bad {what}: {v:?}");
    let args = Args {
        local: a[0].parse().map_err(|_| bad("LOCAL", &a[0]))?,
        server: a[1].parse().map_err(|_| bad("SERVER", &a[1]))?,
        modems: a[2].parse().map_err(|_| bad("N", &a[2]))?,
        window: a[3].parse().map_err(|_| bad("WINDOW", &a[3]))?,
        zone: a[4].trim_end_matches('.').to_owned(),
        dns_port: match a.get(5) {
            Some(p) => p.parse().map_err(|_| bad("DNS_PORT", p))?,
            None => 53,
        },
        limit: match a.get(6) {
            Some(s) => {
                let secs: f64 = s.parse().map_err(|_| bad("SECS_LIMIT", s))?;
                if !(secs > 0.0 && secs < 86_400.0) {
                    return Err(bad("SECS_LIMIT", s));
                }
                Duration::from_secs_f64(secs)
            }
            None => Duration::from_secs(120),
        },
    };
    if args.modems == 0 || !(1..=60_000).contains(&args.window) {
        return Err("N > 0 and WINDOW 1..=60000".into());
    }
    Ok(args)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Discover,
    Request,
    Tftp,
    Dns,
}

struct Modem {
    /// 1..=N; also the DHCP xid.
    id: u32,
    step: Step,
    started: Instant,
    /// When the current step's last datagram left.
    sent: Instant,
    resends: u32,
    /// A DNS answer without the address: ask again at this time.
    again: Option<Instant>,
    /// When the DNS step began.
    dns_since: Instant,
    ip: Ipv4Addr,
    server_id: [u8; 4],
    /// The TFTP transfer's port on the server side, once DATA came.
    tid: Option<SocketAddr>,
    block: u16,
    data: Vec<u8>,
}

struct Slot {
    tftp: UdpSocket,
    modem: Option<Modem>,
}

fn mac_of(id: u32) -> [u8; 6] {
    let c = id.to_be_bytes();
    [0x02, 0xdd, c[0], c[1], c[2], c[3]]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A relayed DISCOVER (`request` unset) or REQUEST (address, server id).
fn dhcp_packet(out: &mut Vec<u8>, id: u32, relay: Ipv4Addr, request: Option<(Ipv4Addr, [u8; 4])>) {
    out.clear();
    out.extend_from_slice(&[1, 1, 6, 1]);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&relay.octets());
    let mac = mac_of(id);
    out.extend_from_slice(&mac);
    out.extend_from_slice(&[0; 10 + 64 + 128]);
    out.extend_from_slice(&DHCP_COOKIE);
    let kind = if request.is_some() { 3 } else { 1 };
    out.extend_from_slice(&[53, 1, kind]);
    out.extend_from_slice(&[60, 9]);
    out.extend_from_slice(b"docsis3.0");
    let host = format!("cm-{}", hex(&mac));
    out.extend_from_slice(&[12, host.len() as u8]);
    out.extend_from_slice(host.as_bytes());
    if let Some((ip, sid)) = request {
        out.extend_from_slice(&[50, 4]);
        out.extend_from_slice(&ip.octets());
        out.extend_from_slice(&[54, 4]);
        out.extend_from_slice(&sid);
    }
    let circuit = format!("cm{id}");
    let agent_len = 2 + circuit.len() + 2 + mac.len();
    out.extend_from_slice(&[82, agent_len as u8, 1, circuit.len() as u8]);
    out.extend_from_slice(circuit.as_bytes());
    out.extend_from_slice(&[2, mac.len() as u8]);
    out.extend_from_slice(&mac);
    out.push(255);
}

/// The value of option `code` of a DHCP message.
fn option(msg: &[u8], code: u8) -> Option<&[u8]> {
    let mut rest = msg.get(240..)?;
    while let Some((&c, tail)) = rest.split_first() {
        match c {
            0 => rest = tail,
            255 => return None,
            _ => {
                let (&len, tail) = tail.split_first()?;
                let value = tail.get(..usize::from(len))?;
                if c == code {
                    return Some(value);
                }
                rest = &tail[usize::from(len)..];
            }
        }
    }
    None
}

fn qname(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn dns_query(out: &mut Vec<u8>, id: u16, name: &str) {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    qname(out, name);
    out.extend_from_slice(&[0, 1, 0, 1]);
}

/// Skips a (possibly compressed) name at `at`; the offset after it.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        if len & 0xc0 == 0xc0 {
            return Some(at + 2);
        }
        if len == 0 {
            return Some(at + 1);
        }
        at += 1 + usize::from(len);
    }
}

/// Whether a DNS answer to `question` (wire form) holds A `ip`.
fn answers(msg: &[u8], question: &[u8], ip: Ipv4Addr) -> bool {
    if msg.len() < 12 || msg[3] & 0x0f != 0 || msg.get(12..12 + question.len()) != Some(question) {
        return false;
    }
    let count = u16::from_be_bytes([msg[6], msg[7]]);
    let mut at = 12 + question.len() + 4;
    for _ in 0..count {
        let Some(end) = skip_name(msg, at) else {
            return false;
        };
        let Some(fixed) = msg.get(end..end + 10) else {
            return false;
        };
        let kind = u16::from_be_bytes([fixed[0], fixed[1]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let Some(rdata) = msg.get(end + 10..end + 10 + len) else {
            return false;
        };
        if kind == 1 && rdata == ip.octets() {
            return true;
        }
        at = end + 10 + len;
    }
    false
}

struct Storm {
    args: Args,
    dhcp: UdpSocket,
    dns: UdpSocket,
    slots: Vec<Slot>,
    /// Modem id → its slot (usize::MAX when not in flight).
    slot_of: Vec<usize>,
    free: Vec<usize>,
    buf: Vec<u8>,
    latencies: Vec<Duration>,
    failed: u64,
}

impl Storm {
    fn send(&mut self, s: usize, now: Instant) {
        let Some(m) = self.slots[s].modem.as_mut() else {
            return;
        };
        m.sent = now;
        m.again = None;
        let server = self.args.server;
        let r = match m.step {
            Step::Discover | Step::Request => {
                let request = (m.step == Step::Request).then_some((m.ip, m.server_id));
                dhcp_packet(&mut self.buf, m.id, self.args.local, request);
                self.dhcp.send_to(&self.buf, SocketAddrV4::new(server, 67))
            }
            Step::Tftp => {
                m.tid = None;
                m.block = 0;
                m.data.clear();
                self.buf.clear();
                self.buf.extend_from_slice(&[0, 1]);
                self.buf
                    .extend_from_slice(format!("modems/{}.cfg", hex(&mac_of(m.id))).as_bytes());
                self.buf.extend_from_slice(b"\0octet\0");
                self.slots[s]
                    .tftp
                    .send_to(&self.buf, SocketAddrV4::new(server, 69))
            }
            Step::Dns => {
                let name = format!("cm-{}.{}", hex(&mac_of(m.id)), self.args.zone);
                dns_query(&mut self.buf, s as u16, &name);
                self.dns
                    .send_to(&self.buf, SocketAddrV4::new(server, self.args.dns_port))
            }
        };
        // A full socket buffer is a lost datagram: the resend covers it.
        let _ = r;
    }

    fn advance(&mut self, s: usize, step: Step, now: Instant) {
        if let Some(m) = self.slots[s].modem.as_mut() {
            m.step = step;
            m.resends = 0;
            if step == Step::Dns {
                m.dns_since = now;
            }
        }
        self.send(s, now);
    }

    fn finish(&mut self, s: usize, ok: bool, now: Instant) {
        if let Some(m) = self.slots[s].modem.take() {
            self.slot_of[m.id as usize] = usize::MAX;
            if ok {
                self.latencies.push(now - m.started);
            } else {
                self.failed += 1;
            }
            self.free.push(s);
        }
    }

    fn start(&mut self, id: u32, now: Instant) {
        let Some(s) = self.free.pop() else { return };
        // Drain what an earlier modem's transfer may have left behind.
        let mut scratch = [0u8; 1024];
        while self.slots[s].tftp.recv_from(&mut scratch).is_ok() {}
        self.slots[s].modem = Some(Modem {
            id,
            step: Step::Discover,
            started: now,
            sent: now,
            resends: 0,
            again: None,
            dns_since: now,
            ip: Ipv4Addr::UNSPECIFIED,
            server_id: [0; 4],
            tid: None,
            block: 0,
            data: Vec::new(),
        });
        self.slot_of[id as usize] = s;
        self.send(s, now);
    }

    fn on_dhcp(&mut self, msg: &[u8], now: Instant) {
        if msg.len() < 240 || msg[0] != 2 || msg[236..240] != DHCP_COOKIE {
            return;
        }
        let id = u32::from_be_bytes([msg[4], msg[5], msg[6], msg[7]]);
        let Some(&s) = self.slot_of.get(id as usize) else {
            return;
        };
        if s == usize::MAX || msg[28..34] != mac_of(id) {
            return;
        }
        let kind = option(msg, 53).and_then(|k| k.first().copied());
        let server_id = option(msg, 54).and_then(|v| <[u8; 4]>::try_from(v).ok());
        let Some(m) = self.slots[s].modem.as_mut() else {
            return;
        };
        match (kind, m.step) {
            (Some(2), Step::Discover) => {
                m.ip = Ipv4Addr::new(msg[16], msg[17], msg[18], msg[19]);
                m.server_id = server_id.unwrap_or(self.args.server.octets());
                self.advance(s, Step::Request, now);
            }
            (Some(5), Step::Request) => self.advance(s, Step::Tftp, now),
            (Some(6), Step::Request) => self.finish(s, false, now),
            _ => {}
        }
    }

    fn on_tftp(&mut self, s: usize, msg: &[u8], peer: SocketAddr, now: Instant) {
        let Some(m) = self.slots[s].modem.as_mut() else {
            return;
        };
        if m.step != Step::Tftp || msg.len() < 4 || msg[..2] != [0, 3] {
            return;
        }
        if m.tid.is_some_and(|t| t != peer) {
            return;
        }
        let block = u16::from_be_bytes([msg[2], msg[3]]);
        if block == m.block.wrapping_add(1) {
            m.tid = Some(peer);
            m.block = block;
            m.data.extend_from_slice(&msg[4..]);
            m.sent = now;
            m.resends = 0;
        } else if block != m.block {
            return;
        }
        // Complete (the last block is short): does the config name this modem?
        let verdict = (msg.len() - 4 < 512).then(|| {
            let mac = mac_of(m.id);
            let colons = mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            let text = String::from_utf8_lossy(&m.data).to_ascii_lowercase();
            text.contains(&hex(&mac)) || text.contains(&colons)
        });
        let ack = [0, 4, msg[2], msg[3]];
        let _ = self.slots[s].tftp.send_to(&ack, peer);
        match verdict {
            Some(true) => self.advance(s, Step::Dns, now),
            Some(false) => self.finish(s, false, now),
            None => {}
        }
    }

    fn on_dns(&mut self, msg: &[u8], now: Instant) {
        if msg.len() < 12 {
            return;
        }
        let s = usize::from(u16::from_be_bytes([msg[0], msg[1]]));
        let Some(Some(m)) = self.slots.get(s).map(|x| x.modem.as_ref()) else {
            return;
        };
        if m.step != Step::Dns {
            return;
        }
        let mut question = Vec::new();
        qname(
            &mut question,
            &format!("cm-{}.{}", hex(&mac_of(m.id)), self.args.zone),
        );
        if answers(msg, &question, m.ip) {
            self.finish(s, true, now);
        } else if let Some(m) = self.slots[s].modem.as_mut() {
            // Not (yet) there: ask again shortly.
            m.again = Some(now + DNS_AGAIN);
        }
    }

    /// Resends what got no answer, fails what got none too often.
    fn timers(&mut self, now: Instant) {
        for s in 0..self.slots.len() {
            let Some(m) = self.slots[s].modem.as_mut() else {
                continue;
            };
            if let Some(at) = m.again {
                if now - m.dns_since > DNS_PATIENCE {
                    self.finish(s, false, now);
                } else if now >= at {
                    self.send(s, now);
                }
                continue;
            }
            if now - m.sent > RESEND {
                m.resends += 1;
                if m.resends > MAX_RESENDS {
                    self.finish(s, false, now);
                } else {
                    self.send(s, now);
                }
            }
        }
    }
}

fn udp(addr: SocketAddrV4) -> std::io::Result<UdpSocket> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    sock.set_reuse_address(true)?;
    sock.set_recv_buffer_size(8 << 20)?;
    sock.set_send_buffer_size(8 << 20)?;
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

fn cpu_secs() -> f64 {
    getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| {
            let t = |v: nix::sys::time::TimeVal| v.tv_sec() as f64 + v.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        })
        .unwrap_or(0.0)
}

fn run(args: Args) -> Result<String, String> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |e: std::io::Error| format!("{what}: {e}")
    };
    // One TFTP socket per slot, plus a few.
    let need = args.window as u64 + 64;
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < need
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, need.max(hard), need.max(hard));
    }
    let dhcp = udp(SocketAddrV4::new(args.local, 67)).map_err(io("bind DHCP port 67"))?;
    let dns = udp(SocketAddrV4::new(args.local, 0)).map_err(io("DNS socket"))?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| e.to_string())?;
    let readable = |token| EpollEvent::new(EpollFlags::EPOLLIN, token);
    epoll
        .add(dhcp.as_fd(), readable(TOKEN_DHCP))
        .map_err(|e| e.to_string())?;
    epoll
        .add(dns.as_fd(), readable(TOKEN_DNS))
        .map_err(|e| e.to_string())?;
    let mut slots = Vec::with_capacity(args.window);
    for s in 0..args.window {
        let tftp = UdpSocket::bind(SocketAddrV4::new(args.local, 0)).map_err(io("TFTP socket"))?;
        tftp.set_nonblocking(true).map_err(io("TFTP socket"))?;
        epoll
            .add(tftp.as_fd(), readable(s as u64))
            .map_err(|e| e.to_string())?;
        slots.push(Slot { tftp, modem: None });
    }
    let n = args.modems;
    let limit = args.limit;
    let mut storm = Storm {
        dhcp,
        dns,
        free: (0..args.window).rev().collect(),
        slots,
        slot_of: vec![usize::MAX; n as usize + 1],
        buf: Vec::with_capacity(600),
        latencies: Vec::with_capacity(n as usize),
        failed: 0,
        args,
    };
    let cpu0 = cpu_secs();
    let began = Instant::now();
    let mut next = 1u32;
    let mut events = vec![EpollEvent::empty(); 256];
    let mut rx = vec![0u8; 2048];
    let mut last_timers = began;
    loop {
        let now = Instant::now();
        while next <= n && !storm.free.is_empty() {
            storm.start(next, now);
            next += 1;
        }
        if next > n && storm.free.len() == storm.slots.len() {
            break;
        }
        if now - began > limit {
            break;
        }
        let ready = epoll.wait(&mut events, 10u16).or_else(|e| {
            if e == nix::errno::Errno::EINTR {
                Ok(0)
            } else {
                Err(e.to_string())
            }
        })?;
        for ev in &events[..ready] {
            let token = ev.data();
            loop {
                let now = Instant::now();
                match token {
                    TOKEN_DHCP => match storm.dhcp.recv_from(&mut rx) {
                        Ok((len, _)) => {
                            let msg = rx[..len].to_vec();
                            storm.on_dhcp(&msg, now);
                        }
                        Err(_) => break,
                    },
                    TOKEN_DNS => match storm.dns.recv_from(&mut rx) {
                        Ok((len, _)) => {
                            let msg = rx[..len].to_vec();
                            storm.on_dns(&msg, now);
                        }
                        Err(_) => break,
                    },
                    s => {
                        let s = s as usize;
                        match storm.slots[s].tftp.recv_from(&mut rx) {
                            Ok((len, peer)) => {
                                let msg = rx[..len].to_vec();
                                storm.on_tftp(s, &msg, peer, now);
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
        }
        let now = Instant::now();
        if now - last_timers >= Duration::from_millis(10) {
            last_timers = now;
            storm.timers(now);
        }
    }
    let took = began.elapsed().as_secs_f64();
    let in_flight = storm.slots.iter().filter(|s| s.modem.is_some()).count() as u64;
    let failed = storm.failed + in_flight + u64::from(n + 1 - next);
    let mut lat = storm.latencies;
    lat.sort_unstable();
    let pct = |p: f64| {
        if lat.is_empty() {
            0.0
        } else {
            let i = ((p * lat.len() as f64) as usize).min(lat.len() - 1);
            lat[i].as_secs_f64() * 1000.0
        }
    };
    Ok(format!(
        "done={} failed={} secs={:.2} rate={:.0} p50_ms={:.1} p99_ms={:.1} cpu_s={:.2}",
        lat.len(),
        failed,
        took,
        lat.len() as f64 / took,
        pct(0.5),
        pct(0.99),
        cpu_secs() - cpu0
    ))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("storm_load: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("storm_load: {e}");
            ExitCode::FAILURE
        }
    }
}
