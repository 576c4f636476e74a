//! A DHCPv4 load generator that can outrun the server: it plays a relay
//! agent (giaddr set, optional option 82), so the server answers it by
//! unicast to port 67, and drives full DORA exchanges for many simulated
//! clients from one thread, with batched system calls (`sendmmsg` and
//! `recvmmsg`), a fixed window of exchanges in flight and a latency
//! histogram. perfdhcp on one core tops out near 26,000 exchanges/s; this
//! one is meant to reach 100,000/s so the server, not the generator, is
//! what a benchmark measures.
//!
//! ```text
//! dhcp_load --server 10.99.0.1 --relay 10.99.0.2 [--clients 50000] [--rate 0]
//!           [--secs 15] [--window 4096] [--option82] [--timeout-ms 1000]
//! ```
//! `--server` may be given several times (each packet goes to every
//! server, as a relay agent configured with several server addresses
//! forwards it) or be a broadcast address; replies are matched by xid
//! whoever sends them, and a second OFFER for the same exchange is ignored. `--rate 0` offers as much as the window allows. Prints one line of
//! `key=value` figures: exchanges/s, completed, NAKs, timeouts, p50/p99
//! latency (DISCOVER sent to ACK received) and the generator's own CPU
//! seconds. Binding port 67 on the relay address needs root (run it inside
//! the benchmark's network namespace). Every run stops by itself after
//! `--secs` (and at most `--max` exchanges).

use std::io::IoSlice;
use std::io::IoSliceMut;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrIn, SockaddrStorage, recvmmsg, sendmmsg,
};

/// Datagrams per system call.
const BATCH: usize = 64;
/// Room for one reply.
const SLOT: usize = 1500;
const DHCP_COOKIE: [u8; 4] = [99, 130, 83, 99];

#[derive(Debug)]
struct Args {
    /// Every packet goes to each of these, as a relay agent with several
    /// server addresses forwards it.
    servers: Vec<Ipv4Addr>,
    relay: Ipv4Addr,
    clients: u32,
    rate: u64,
    secs: f64,
    window: usize,
    option82: bool,
    timeout: Duration,
    max: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        servers: Vec::new(),
        relay: Ipv4Addr::UNSPECIFIED,
        clients: 50_000,
        rate: 0,
        secs: 15.0,
        window: 4096,
        option82: false,
        timeout: Duration::from_secs(1),
        max: u64::MAX,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--option82" {
            args.option82 = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {value:?}");
        match flag.as_str() {
            "--server" => args.servers.push(value.parse().map_err(|_| bad(()))?),
            "--relay" => args.relay = value.parse().map_err(|_| bad(()))?,
            "--clients" => args.clients = value.parse().map_err(|_| bad(()))?,
            "--rate" => args.rate = value.parse().map_err(|_| bad(()))?,
            "--secs" => args.secs = value.parse().map_err(|_| bad(()))?,
            "--window" => args.window = value.parse().map_err(|_| bad(()))?,
            "--timeout-ms" => {
                args.timeout = Duration::from_millis(value.parse().map_err(|_| bad(()))?)
            }
            "--max" => args.max = value.parse().map_err(|_| bad(()))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.servers.is_empty() || args.relay.is_unspecified() {
        return Err("--server and --relay are required".into());
    }
    if args.clients == 0
        || !(1..=65_536).contains(&args.window)
        || args.secs.is_nan()
        || args.secs <= 0.0
    {
        return Err("--clients > 0, --window 1..=65536 and --secs > 0".into());
    }
    Ok(args)
}

/// What an exchange in flight waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Free,
    Offer,
    Ack,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    wait: Wait,
    /// Bumped at each reuse, so a late reply to an old exchange is ignored.
    generation: u16,
    client: u32,
    started: Instant,
}

fn mac_of(client: u32) -> [u8; 6] {
    let c = client.to_be_bytes();
    [0x02, 0x4c, c[0], c[1], c[2], c[3]]
}

/// A relayed DISCOVER (`requested` and `server_id` unset) or REQUEST.
fn build(
    out: &mut Vec<u8>,
    xid: u32,
    client: u32,
    relay: Ipv4Addr,
    request: Option<(Ipv4Addr, Ipv4Addr)>,
    option82: bool,
) {
    out.clear();
    out.extend_from_slice(&[1, 1, 6, 1]); // BOOTREQUEST, Ethernet, hlen 6, one hop
    out.extend_from_slice(&xid.to_be_bytes());
    out.extend_from_slice(&[0; 4]); // secs, flags
    out.extend_from_slice(&[0; 12]); // ciaddr, yiaddr, siaddr
    out.extend_from_slice(&relay.octets()); // giaddr
    out.extend_from_slice(&mac_of(client));
    out.extend_from_slice(&[0; 10 + 64 + 128]); // chaddr padding, sname, file
    out.extend_from_slice(&DHCP_COOKIE);
    match request {
        None => out.extend_from_slice(&[53, 1, 1]),
        Some((ip, server)) => {
            out.extend_from_slice(&[53, 1, 3, 50, 4]);
            out.extend_from_slice(&ip.octets());
            out.extend_from_slice(&[54, 4]);
            out.extend_from_slice(&server.octets());
        }
    }
    out.extend_from_slice(&[55, 3, 1, 3, 6]);
    if option82 {
        // Circuit-id: one of 64 "ports"; remote-id: the modem's MAC.
        let port = (client % 64) as u8;
        out.extend_from_slice(&[82, 14, 1, 4, b'p', b'o', b'r', port, 2, 6]);
        out.extend_from_slice(&mac_of(client));
    }
    out.push(255);
    // The minimum BOOTP message length that many servers expect.
    if out.len() < 300 {
        out.resize(300, 0);
    }
}

/// The parts of a reply the generator needs: xid, message type, yiaddr,
/// server identifier.
fn parse(reply: &[u8]) -> Option<(u32, u8, Ipv4Addr, Option<Ipv4Addr>)> {
    if reply.len() < 240 || reply[0] != 2 || reply[236..240] != DHCP_COOKIE {
        return None;
    }
    let xid = u32::from_be_bytes(reply[4..8].try_into().ok()?);
    let yiaddr = Ipv4Addr::from(<[u8; 4]>::try_from(&reply[16..20]).ok()?);
    let (mut kind, mut server) = (0, None);
    let mut i = 240;
    while i < reply.len() {
        let code = reply[i];
        if code == 0 {
            i += 1;
            continue;
        }
        if code == 255 {
            break;
        }
        let len = *reply.get(i + 1)? as usize;
        let value = reply.get(i + 2..i + 2 + len)?;
        match (code, len) {
            (53, 1) => kind = value[0],
            (54, 4) => server = Some(Ipv4Addr::new(value[0], value[1], value[2], value[3])),
            _ => {}
        }
        i += 2 + len;
    }
    Some((xid, kind, yiaddr, server))
}

/// Latency histogram in 10 µs buckets up to 10 s.
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            buckets: vec![0; 1_000_001],
            count: 0,
        }
    }
    fn record(&mut self, d: Duration) {
        let i = ((d.as_micros() / 10) as usize).min(self.buckets.len() - 1);
        self.buckets[i] += 1;
        self.count += 1;
    }
    fn quantile_ms(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let target = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return i as f64 * 0.01;
            }
        }
        0.0
    }
}

fn own_cpu_secs() -> f64 {
    headend_util::time::process_cpu().as_secs_f64()
}

#[derive(Default, Debug)]
struct Tally {
    started: u64,
    completed: u64,
    naks: u64,
    timeouts: u64,
    ignored: u64,
    send_errors: u64,
}

fn run(args: &Args) -> Result<String, String> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(|e| e.to_string())?;
    socket.set_reuse_address(true).map_err(|e| e.to_string())?;
    // `--server` may be a subnet's broadcast address, so that every server
    // on a shared segment hears each request (the chosen one is named by
    // option 54 in the REQUEST, as a client does).
    socket.set_broadcast(true).map_err(|e| e.to_string())?;
    let _ = socket.set_recv_buffer_size(8 << 20);
    let _ = socket.set_send_buffer_size(8 << 20);
    socket
        .bind(&SocketAddr::V4(SocketAddrV4::new(args.relay, 67)).into())
        .map_err(|e| format!("bind {}:67: {e} (run as root in the namespace)", args.relay))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(1)))
        .map_err(|e| e.to_string())?;
    let fd = socket.as_raw_fd();

    let mut slots = vec![
        Slot {
            wait: Wait::Free,
            generation: 0,
            client: 0,
            started: Instant::now(),
        };
        args.window
    ];
    let mut free: Vec<u16> = (0..args.window as u32).rev().map(|i| i as u16).collect();
    let mut next_client = 0u32;
    let mut tally = Tally::default();
    let mut hist = Histogram::new();
    let mut outgoing: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(320)).collect();
    let mut queued = 0usize;
    let mut send_headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, None);
    let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut buffers = vec![0u8; BATCH * SLOT];
    let mut lengths = [0usize; BATCH];
    let destinations: Vec<[Option<SockaddrIn>; BATCH]> = args
        .servers
        .iter()
        .map(|s| [Some(SockaddrIn::from(SocketAddrV4::new(*s, 67))); BATCH])
        .collect();

    let flush = |outgoing: &[Vec<u8>],
                 queued: &mut usize,
                 headers: &mut MultiHeaders<SockaddrIn>,
                 tally: &mut Tally| {
        for destinations in &destinations {
            let mut start = 0;
            while start < *queued {
                let iovs: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
                    [IoSlice::new(
                        outgoing
                            .get(start + i)
                            .filter(|_| start + i < *queued)
                            .map_or(&[][..], Vec::as_slice),
                    )]
                });
                let count = *queued - start;
                let no_cmsgs: [ControlMessage<'_>; 0] = [];
                match sendmmsg(
                    fd,
                    headers,
                    &iovs[..count],
                    &destinations[..count],
                    no_cmsgs,
                    MsgFlags::empty(),
                ) {
                    Ok(sent) => start += sent.count().max(1),
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => {
                        tally.send_errors += 1;
                        start += 1;
                    }
                }
            }
        }
        *queued = 0;
    };

    let began = Instant::now();
    let end = began + Duration::from_secs_f64(args.secs);
    let cpu0 = own_cpu_secs();
    let mut credit = 0.0f64;
    let mut last = began;
    let mut last_sweep = began;
    loop {
        let now = Instant::now();
        let sending = now < end && tally.started < args.max;
        if !sending && free.len() == args.window {
            break;
        }
        // Exchanges in flight longer than the timeout are counted and their
        // slots reused (a late answer then finds a new generation).
        if now.duration_since(last_sweep) >= Duration::from_millis(10) {
            last_sweep = now;
            for (i, slot) in slots.iter_mut().enumerate() {
                if slot.wait != Wait::Free && now.duration_since(slot.started) > args.timeout {
                    slot.wait = Wait::Free;
                    free.push(i as u16);
                    tally.timeouts += 1;
                }
            }
            if !sending && now > end + args.timeout * 2 {
                break;
            }
        }
        // New exchanges: as the rate allows, within the window.
        if sending {
            if args.rate > 0 {
                credit += now.duration_since(last).as_secs_f64() * args.rate as f64;
                credit = credit.min(args.window as f64);
            } else {
                credit = args.window as f64;
            }
            last = now;
            while credit >= 1.0 && tally.started < args.max {
                let Some(index) = free.pop() else { break };
                let slot = &mut slots[index as usize];
                slot.generation = slot.generation.wrapping_add(1);
                slot.wait = Wait::Offer;
                slot.client = next_client;
                slot.started = now;
                next_client = (next_client + 1) % args.clients;
                let xid = (u32::from(slot.generation) << 16) | u32::from(index);
                build(
                    &mut outgoing[queued],
                    xid,
                    slot.client,
                    args.relay,
                    None,
                    args.option82,
                );
                queued += 1;
                credit -= 1.0;
                tally.started += 1;
                if queued == BATCH {
                    flush(&outgoing, &mut queued, &mut send_headers, &mut tally);
                }
            }
        }
        flush(&outgoing, &mut queued, &mut send_headers, &mut tally);

        // Replies: wait up to the socket's 1 ms read timeout for the first
        // only when nothing else is due.
        let idle = free.len() == args.window || !sending || credit < 1.0 || free.is_empty();
        let flags = if idle {
            MsgFlags::MSG_WAITFORONE
        } else {
            MsgFlags::MSG_DONTWAIT
        };
        let got = {
            let mut chunks = buffers.chunks_exact_mut(SLOT);
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
            match recvmmsg(fd, &mut recv_headers, &mut iovs, flags, None) {
                Ok(results) => {
                    let mut n = 0;
                    for (msg, len) in results.zip(lengths.iter_mut()) {
                        *len = msg.bytes;
                        n += 1;
                    }
                    n
                }
                Err(_) => 0,
            }
        };
        let now = Instant::now();
        for (i, len) in lengths[..got].iter().enumerate() {
            let reply = &buffers[i * SLOT..i * SLOT + (*len).min(SLOT)];
            let Some((xid, kind, yiaddr, server)) = parse(reply) else {
                tally.ignored += 1;
                continue;
            };
            let index = (xid & 0xffff) as usize;
            let generation = (xid >> 16) as u16;
            let Some(slot) = slots.get_mut(index) else {
                tally.ignored += 1;
                continue;
            };
            if slot.generation != generation || slot.wait == Wait::Free {
                tally.ignored += 1;
                continue;
            }
            match (slot.wait, kind) {
                (Wait::Offer, 2) => {
                    slot.wait = Wait::Ack;
                    build(
                        &mut outgoing[queued],
                        xid,
                        slot.client,
                        args.relay,
                        Some((yiaddr, server.unwrap_or(args.servers[0]))),
                        args.option82,
                    );
                    queued += 1;
                    if queued == BATCH {
                        flush(&outgoing, &mut queued, &mut send_headers, &mut tally);
                    }
                }
                (Wait::Ack, 5) => {
                    hist.record(now.duration_since(slot.started));
                    tally.completed += 1;
                    slot.wait = Wait::Free;
                    free.push(index as u16);
                }
                (Wait::Ack, 6) => {
                    tally.naks += 1;
                    slot.wait = Wait::Free;
                    free.push(index as u16);
                }
                _ => tally.ignored += 1,
            }
        }
        flush(&outgoing, &mut queued, &mut send_headers, &mut tally);
    }
    let secs = Instant::now()
        .duration_since(began)
        .as_secs_f64()
        .min(args.secs + 0.001);
    let cpu = own_cpu_secs() - cpu0;
    Ok(format!(
        "ok=1 exchanges_per_sec={:.0} completed={} started={} naks={} timeouts={} ignored={} send_errors={} p50_ms={:.2} p99_ms={:.2} secs={:.2} generator_cpu_s={:.2}",
        tally.completed as f64 / args.secs.min(secs),
        tally.completed,
        tally.started,
        tally.naks,
        tally.timeouts,
        tally.ignored,
        tally.send_errors,
        hist.quantile_ms(0.5),
        hist.quantile_ms(0.99),
        secs,
        cpu
    ))
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dhcp_load: {e}");
            println!("ok=0 error={e:?}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_request_parses_as_dhcp() {
        let mut out = Vec::new();
        let relay = Ipv4Addr::new(10, 99, 0, 2);
        let server = Ipv4Addr::new(10, 99, 0, 1);
        build(
            &mut out,
            0x0001_0002,
            7,
            relay,
            Some((Ipv4Addr::new(10, 99, 1, 7), server)),
            true,
        );
        use dhcproto::Decodable as _;
        let packet = dhcproto::v4::Message::from_bytes(&out).expect("a valid DHCP message");
        assert_eq!(packet.giaddr(), relay);
        assert_eq!(packet.xid(), 0x0001_0002);
        assert_eq!(&packet.chaddr()[..6], &mac_of(7));
    }
}
