//! A UDP DNS load generator that can saturate one server core from one
//! core of its own: queries are built once from a dnsperf-style file
//! (`name type` per line), then sent with `sendmmsg` and their answers taken
//! with `recvmmsg`, in batches, from a few sockets on one thread, with a cap
//! on queries in flight. dnsperf sends and receives a datagram per system
//! call and tops out near the servers' own rate; bench/dns.sh `SATURATE=1`
//! uses this (or kxdpgun, where the kernel loads its XDP program) so the
//! server's core, not the generator, is the limit.
//!
//! ```text
//! dns_load --server ADDR:PORT --queries FILE [--secs 10] [--sockets 4]
//!          [--in-flight 2048] [--max 100000000] [--do]
//! ```
//! Prints one line of `key=value` figures: queries sent, replies, replies/s,
//! replies by rcode, and the generator's own CPU seconds. Every run stops by
//! itself after `--secs` (and at most `--max` queries).
#![forbid(unsafe_code)]

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};

/// Datagrams per system call.
const BATCH: usize = 64;
/// Room for one answer.
const SLOT: usize = 4096;

#[derive(Debug)]
struct Args {
    server: SocketAddr,
    queries: String,
    secs: f64,
    sockets: usize,
    in_flight: u64,
    max: u64,
    dnssec_ok: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut server = None;
    let mut queries = None;
    let mut args = Args {
        server: SocketAddr::from(([127, 0, 0, 1], 53)),
        queries: String::new(),
        secs: 10.0,
        sockets: 4,
        in_flight: 2048,
        max: 100_000_000,
        dnssec_ok: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--do" {
            args.dnssec_ok = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--server" => server = Some(value.parse().map_err(|e| bad(&e))?),
            "--queries" => queries = Some(value),
            "--secs" => args.secs = value.parse().map_err(|e| bad(&e))?,
            "--sockets" => args.sockets = value.parse().map_err(|e| bad(&e))?,
            "--in-flight" => args.in_flight = value.parse().map_err(|e| bad(&e))?,
            "--max" => args.max = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    args.server = server.ok_or("--server ADDR:PORT is required")?;
    args.queries = queries.ok_or("--queries FILE is required")?;
    if !(args.secs > 0.0 && args.secs <= 3600.0) {
        return Err("--secs must be within (0, 3600]".into());
    }
    args.sockets = args.sockets.clamp(1, 64);
    args.in_flight = args.in_flight.max(BATCH as u64);
    Ok(args)
}

/// The numeric type of a mnemonic dnsperf's files use.
fn qtype(name: &str) -> Option<u16> {
    Some(match name.to_ascii_uppercase().as_str() {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "PTR" => 12,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "SRV" => 33,
        "NAPTR" => 35,
        "DS" => 43,
        "DNSKEY" => 48,
        "ANY" => 255,
        other => other.strip_prefix("TYPE")?.parse().ok()?,
    })
}

/// One query in wire form (ID 0, patched per send), or `None` for a line
/// that is not `name type`.
fn build(line: &str, dnssec_ok: bool) -> Option<Vec<u8>> {
    let mut words = line.split_whitespace();
    let name = words.next()?;
    let qtype = qtype(words.next()?)?;
    let mut out = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|&l| (1..64).contains(&l))?;
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    if out.len() > 12 + 255 + 4 {
        return None;
    }
    // EDNS(0), 1232-byte payload, DO as asked (RFC 6891).
    out[11] = 1;
    let flags: u16 = if dnssec_ok { 0x8000 } else { 0 };
    out.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0]);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    Some(out)
}

/// Replies counted by response code.
#[derive(Default)]
struct Replies {
    all: u64,
    noerror: u64,
    nxdomain: u64,
    other: u64,
}

impl Replies {
    /// Counts one datagram, if it is long enough to be a DNS message.
    fn count(&mut self, reply: &[u8]) {
        let Some(&flags) = reply.get(3).filter(|_| reply.len() >= 12) else {
            return;
        };
        self.all += 1;
        match flags & 0x0f {
            0 => self.noerror += 1,
            3 => self.nxdomain += 1,
            _ => self.other += 1,
        }
    }
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc/self/stat (clock ticks).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

fn run(args: &Args) -> Result<String, String> {
    let text = std::fs::read_to_string(&args.queries)
        .map_err(|e| format!("cannot read {}: {e}", args.queries))?;
    let queries: Vec<Vec<u8>> = text
        .lines()
        .filter_map(|l| build(l, args.dnssec_ok))
        .collect();
    if queries.is_empty() {
        return Err(format!("{}: no `name type` lines", args.queries));
    }
    let local: SocketAddr = if args.server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let mut sockets = Vec::new();
    for _ in 0..args.sockets {
        let s = UdpSocket::bind(local).map_err(|e| format!("bind: {e}"))?;
        s.connect(args.server)
            .map_err(|e| format!("connect {}: {e}", args.server))?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        sockets.push(s);
    }

    let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut slots = vec![0u8; BATCH * SLOT];
    let mut batch: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(300)).collect();
    let mut sent = 0u64;
    let mut replies = Replies::default();
    let mut next = 0usize;
    let mut id: u16 = 0;
    let mut turn = 0usize;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.secs);
    // Queries in flight lost for good (a full server queue drops them) are
    // written off after a quiet spell, so the window cannot close forever.
    let mut last_reply = start;
    let mut written_off = 0u64;
    while Instant::now() < deadline && sent < args.max {
        let in_flight = sent - replies.all - written_off;
        if in_flight + BATCH as u64 <= args.in_flight {
            let count = BATCH.min((args.max - sent) as usize);
            for out in batch.iter_mut().take(count) {
                out.clear();
                out.extend_from_slice(&queries[next]);
                out[..2].copy_from_slice(&id.to_be_bytes());
                id = id.wrapping_add(1);
                next = (next + 1) % queries.len();
            }
            let iovs: [[IoSlice<'_>; 1]; BATCH] =
                std::array::from_fn(|i| [IoSlice::new(&batch[i])]);
            let to: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            let socket = &sockets[turn % sockets.len()];
            turn += 1;
            if let Ok(done) = sendmmsg(
                socket.as_raw_fd(),
                &mut send_headers,
                &iovs[..count],
                &to[..count],
                no_cmsgs,
                MsgFlags::MSG_DONTWAIT,
            ) {
                sent += done.count() as u64;
            }
        } else if last_reply.elapsed() > Duration::from_millis(200) {
            written_off += in_flight;
            last_reply = Instant::now();
        }
        for socket in &sockets {
            let mut chunks = slots.chunks_exact_mut(SLOT);
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
            let Ok(results) = recvmmsg(
                socket.as_raw_fd(),
                &mut recv_headers,
                &mut iovs,
                MsgFlags::MSG_DONTWAIT,
                None,
            ) else {
                continue;
            };
            let mut lens = [0usize; BATCH];
            let mut got = 0;
            for (msg, len) in results.zip(lens.iter_mut()) {
                *len = msg.bytes.min(SLOT);
                got += 1;
            }
            for (len, slot) in lens[..got].iter().zip(slots.chunks_exact(SLOT)) {
                replies.count(&slot[..*len]);
            }
            if got > 0 {
                last_reply = Instant::now();
            }
        }
    }
    // Answers still on their way when the time is up.
    let drain_until = Instant::now() + Duration::from_millis(100);
    while Instant::now() < drain_until && replies.all + written_off < sent {
        let mut got = false;
        for socket in &sockets {
            let mut buf = [0u8; SLOT];
            while let Ok(n) = socket.recv(&mut buf) {
                got = true;
                replies.count(&buf[..n]);
            }
        }
        if !got {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(format!(
        "sent={sent} replies={} replies_per_s={:.0} noerror={} nxdomain={} \
         other_rcode={} secs={secs:.3} generator_cpu_s={:.2}",
        replies.all,
        replies.all as f64 / args.secs,
        replies.noerror,
        replies.nxdomain,
        replies.other,
        cpu_seconds() - cpu0
    ))
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dns_load: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_query_has_one_question_and_an_opt_record() {
        let q = build("h1.bench.test AAAA", true).expect("builds");
        assert_eq!(&q[4..12], &[0, 1, 0, 0, 0, 0, 0, 1]);
        let name_end = 12 + 1 + 2 + 1 + 5 + 1 + 4 + 1;
        assert_eq!(&q[12..name_end], b"\x02h1\x05bench\x04test\x00");
        assert_eq!(&q[name_end..name_end + 4], &[0, 28, 0, 1]);
        // OPT: root name, type 41, DO set.
        assert_eq!(&q[name_end + 4..name_end + 7], &[0, 0, 41]);
        assert_eq!(&q[name_end + 11..name_end + 13], &[0x80, 0]);
    }

    #[test]
    fn lines_that_are_not_a_query_are_skipped() {
        assert!(build("", false).is_none());
        assert!(build("name", false).is_none());
        assert!(build("name NOSUCHTYPE", false).is_none());
        assert!(build("a..b A", false).is_none());
        assert_eq!(qtype("TYPE65"), Some(65));
    }
}
