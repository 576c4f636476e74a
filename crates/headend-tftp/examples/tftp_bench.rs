//! A fast TFTP benchmark client that checks every byte against the original.
//!
//! ```text
//! tftp_bench big   SERVER:PORT NAME LOCAL_COPY BLKSIZE WINDOWSIZE
//! tftp_bench small SERVER:PORT PREFIX LOCAL_DIR COUNT PARALLEL BLKSIZE
//! ```
//! `big` fetches one file (RFC 7440 windowsize when > 1; a server that does not
//! acknowledge windowsize is driven lock-step) and prints `MB/s`. `small`
//! fetches COUNT files named PREFIX0000.cfg... (cycling over the files present
//! in LOCAL_DIR) with PARALLEL transfers in flight on one thread and prints
//! `files/s` and the p99 latency. Every received byte is compared with the
//! local copy; any mismatch, ERROR or timeout is a failure (exit code 1).
//! Each line of output is `key=value` pairs for the benchmark script.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use headend_tftp::core::packet::{self, OP_RRQ, Packet};

/// What one fetch returned or why it failed.
type Fetched = Result<(), String>;

/// The receiving side of one transfer, shared by both modes.
struct Receiver<'a> {
    reference: &'a [u8],
    blksize: usize,
    window: u64,
    /// Next absolute block expected.
    expect: u64,
    in_window: u64,
    /// `expect` value for which a gap ACK was already sent.
    gap_acked: u64,
    last_ack: Vec<u8>,
    tid: Option<SocketAddr>,
}

enum Event {
    /// Send this ACK.
    Ack(Vec<u8>),
    /// Nothing to do.
    Nothing,
    /// Transfer complete (send the final ACK).
    Done(Vec<u8>),
}

impl<'a> Receiver<'a> {
    fn new(reference: &'a [u8]) -> Self {
        Self {
            reference,
            blksize: 512,
            window: 1,
            expect: 1,
            in_window: 0,
            gap_acked: 0,
            last_ack: Vec::new(),
            tid: None,
        }
    }

    fn on_datagram(&mut self, dg: &[u8], from: SocketAddr) -> Result<Event, String> {
        if let Some(tid) = self.tid {
            if tid != from {
                return Ok(Event::Nothing);
            }
        } else {
            self.tid = Some(from);
        }
        match Packet::parse(dg).map_err(|e| format!("bad packet: {e}"))? {
            Packet::Oack(opts) => {
                for (k, v) in opts {
                    match k.as_str() {
                        "blksize" => self.blksize = v.parse().map_err(|_| "bad blksize")?,
                        "windowsize" => self.window = v.parse().map_err(|_| "bad windowsize")?,
                        _ => {}
                    }
                }
                self.last_ack = packet::ack(0);
                Ok(Event::Ack(self.last_ack.clone()))
            }
            Packet::Data { block, data } => {
                if block != self.expect as u16 {
                    // RFC 7440: on a gap, acknowledge the last block received in
                    // order (once per gap), so the sender restarts after it.
                    if self.gap_acked != self.expect && self.expect > 1 {
                        self.gap_acked = self.expect;
                        self.in_window = 0;
                        self.last_ack = packet::ack((self.expect - 1) as u16);
                        return Ok(Event::Ack(self.last_ack.clone()));
                    }
                    return Ok(Event::Nothing);
                }
                let offset = (self.expect - 1) as usize * self.blksize;
                let want = self
                    .reference
                    .get(offset..(offset + self.blksize).min(self.reference.len()))
                    .unwrap_or_default();
                if data != want {
                    return Err(format!("block {} differs from the original", self.expect));
                }
                self.expect += 1;
                self.in_window += 1;
                self.last_ack = packet::ack(block);
                if data.len() < self.blksize {
                    return Ok(Event::Done(self.last_ack.clone()));
                }
                if self.in_window >= self.window {
                    self.in_window = 0;
                    return Ok(Event::Ack(self.last_ack.clone()));
                }
                Ok(Event::Nothing)
            }
            Packet::Error { code, message } => Err(format!("ERROR {code}: {message}")),
            _ => Ok(Event::Nothing),
        }
    }
}

fn rrq(name: &str, blksize: usize, window: u64) -> Vec<u8> {
    let mut opts = vec![("tsize", "0".to_owned())];
    if blksize != 512 {
        opts.push(("blksize", blksize.to_string()));
    }
    if window > 1 {
        opts.push(("windowsize", window.to_string()));
    }
    packet::request(OP_RRQ, name, "octet", &opts)
}

/// One big fetch with a blocking socket (the fastest loop for one transfer).
fn big(server: SocketAddr, name: &str, reference: &[u8], blksize: usize, window: u64) -> Fetched {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(server),
        socket2::Type::DGRAM,
        None,
    )
    .map_err(|e| e.to_string())?;
    let _ = sock.set_recv_buffer_size(4 << 20);
    let local: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0".parse().map_err(|_| "addr")?
    } else {
        "[::1]:0".parse().map_err(|_| "addr")?
    };
    sock.bind(&local.into()).map_err(|e| e.to_string())?;
    let sock: std::net::UdpSocket = sock.into();
    // The client busy-polls (it has CPU 0 to itself) so that its own wake-up
    // latency does not hide the server's speed.
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    let request = rrq(name, blksize, window);
    sock.send_to(&request, server).map_err(|e| e.to_string())?;
    let mut rx = Receiver::new(reference);
    let mut buf = vec![0u8; 65536 + 4];
    let mut silent = 0;
    let mut last_heard = Instant::now();
    loop {
        let got = match sock.recv_from(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if last_heard.elapsed() < Duration::from_millis(300) {
                    std::hint::spin_loop();
                    continue;
                }
                last_heard = Instant::now();
                Err(e)
            }
            other => other,
        };
        match got {
            Ok((n, from)) => {
                silent = 0;
                last_heard = Instant::now();
                match rx.on_datagram(buf.get(..n).unwrap_or_default(), from)? {
                    Event::Ack(a) => {
                        let _ = sock.send_to(&a, from);
                    }
                    Event::Nothing => {}
                    Event::Done(a) => {
                        // Every block matched the original and the short last
                        // block matched its tail, so the whole file arrived.
                        let _ = sock.send_to(&a, from);
                        return Ok(());
                    }
                }
            }
            Err(_) => {
                silent += 1;
                if silent > 30 {
                    return Err("server silent for 9 s".into());
                }
                match rx.tid {
                    Some(tid) if !rx.last_ack.is_empty() => {
                        rx.in_window = 0;
                        let _ = sock.send_to(&rx.last_ack, tid);
                    }
                    _ => {
                        let _ = sock.send_to(&request, server);
                    }
                }
            }
        }
    }
}

/// One fetch slot of [`small`]: a socket of its own (a port per transfer in
/// flight, as servers tell transfers apart by the client's address and port;
/// the slot keeps it for all its fetches, so one core drives more fetches)
/// and the fetch running on it.
struct Slot<'a> {
    sock: std::net::UdpSocket,
    fetch: Option<Fetch<'a>>,
}

/// A small fetch in progress.
struct Fetch<'a> {
    name: String,
    request: Vec<u8>,
    rx: Receiver<'a>,
    started: Instant,
    /// When to resend (the request, or the last ACK) if nothing came.
    deadline: Instant,
    silent: u32,
}

/// How long a small fetch waits for the server before it resends.
const SMALL_TIMEOUT: Duration = Duration::from_millis(500);

/// Fetches `count` files with `parallel` in flight from one thread: one
/// socket per fetch slot, all waited on with one epoll (level-triggered, one
/// datagram read per ready socket per wait, so no read ever comes back
/// empty), each ACK sent the moment its DATA is checked.
fn small<'f>(
    server: SocketAddr,
    prefix: &str,
    files: &'f [(String, Vec<u8>)],
    count: usize,
    parallel: usize,
    blksize: usize,
) -> Result<(f64, Duration), String> {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| err(&e))?;
    let local = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let mut slots = Vec::new();
    for i in 0..parallel.max(1) {
        let sock = std::net::UdpSocket::bind(local).map_err(|e| err(&e))?;
        sock.set_nonblocking(true).map_err(|e| err(&e))?;
        epoll
            .add(&sock, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))
            .map_err(|e| err(&e))?;
        slots.push(Slot { sock, fetch: None });
    }
    let mut next = 0;
    let mut done = 0;
    let mut lat = Vec::with_capacity(count);
    let started = Instant::now();
    // Starts the next file on `slot`, if any is left.
    let start = |slot: &mut Slot<'f>, next: &mut usize, now: Instant| -> Result<(), String> {
        if *next >= count {
            slot.fetch = None;
            return Ok(());
        }
        let (fname, data) = &files[*next % files.len()];
        *next += 1;
        let name = format!("{prefix}{fname}");
        let request = rrq(&name, blksize, 1);
        slot.sock.send_to(&request, server).map_err(|e| err(&e))?;
        slot.fetch = Some(Fetch {
            name,
            request,
            rx: Receiver::new(data),
            started: now,
            deadline: now + SMALL_TIMEOUT,
            silent: 0,
        });
        Ok(())
    };
    let now = Instant::now();
    for slot in &mut slots {
        start(slot, &mut next, now)?;
    }
    let mut events = vec![EpollEvent::empty(); slots.len()];
    let mut buf = vec![0u8; 65536 + 4];
    while done < count {
        let ready = epoll.wait(&mut events, 100u16).map_err(|e| err(&e))?;
        let now = Instant::now();
        for ev in events.iter().take(ready) {
            let Some(slot) = usize::try_from(ev.data())
                .ok()
                .and_then(|i| slots.get_mut(i))
            else {
                continue;
            };
            let (n, from) = match slot.sock.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e.to_string()),
            };
            let Some(fetch) = slot.fetch.as_mut() else {
                continue; // a late duplicate after the last fetch
            };
            match fetch
                .rx
                .on_datagram(buf.get(..n).unwrap_or_default(), from)?
            {
                Event::Ack(a) => {
                    fetch.silent = 0;
                    fetch.deadline = now + SMALL_TIMEOUT;
                    let _ = slot.sock.send_to(&a, from);
                }
                Event::Nothing => {}
                Event::Done(a) => {
                    let _ = slot.sock.send_to(&a, from);
                    lat.push(now - fetch.started);
                    done += 1;
                    start(slot, &mut next, now)?;
                }
            }
        }
        // Resend for every fetch the server left waiting.
        for slot in &mut slots {
            let Some(fetch) = slot.fetch.as_mut() else {
                continue;
            };
            if now < fetch.deadline {
                continue;
            }
            fetch.silent += 1;
            if fetch.silent > 10 {
                return Err(format!("{}: server silent", fetch.name));
            }
            fetch.deadline = now + SMALL_TIMEOUT;
            let (again, to) = match fetch.rx.tid {
                Some(tid) if !fetch.rx.last_ack.is_empty() => (&fetch.rx.last_ack, tid),
                _ => (&fetch.request, server),
            };
            let _ = slot.sock.send_to(again, to);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let p99 = lat.get(lat.len() * 99 / 100).copied().unwrap_or_default();
    Ok((count as f64 / secs, p99))
}

fn own_cpu_secs() -> f64 {
    headend_util::time::process_cpu().as_secs_f64()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: tftp_bench big SERVER NAME LOCAL_COPY BLKSIZE WINDOW | small SERVER PREFIX LOCAL_DIR COUNT PARALLEL BLKSIZE";
    let result = (|| -> Result<String, String> {
        let mode = args.get(1).ok_or(usage)?;
        let server: SocketAddr = args
            .get(2)
            .ok_or(usage)?
            .parse()
            .map_err(|_| "bad SERVER:PORT")?;
        let num = |i: usize| -> Result<usize, String> {
            args.get(i)
                .ok_or(usage)?
                .parse()
                .map_err(|_| format!("bad number: {:?}", args.get(i)))
        };
        match mode.as_str() {
            "big" => {
                let name = args.get(3).ok_or(usage)?;
                let reference =
                    std::fs::read(args.get(4).ok_or(usage)?).map_err(|e| e.to_string())?;
                let (blksize, window) = (num(5)?, num(6)? as u64);
                let t = Instant::now();
                big(server, name, &reference, blksize, window)?;
                let secs = t.elapsed().as_secs_f64();
                Ok(format!(
                    "ok=1 bytes={} secs={secs:.3} mbps={:.1}",
                    reference.len(),
                    reference.len() as f64 / secs / 1e6
                ))
            }
            "small" => {
                let prefix = args.get(3).ok_or(usage)?;
                let dir = args.get(4).ok_or(usage)?;
                let mut files = Vec::new();
                for e in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
                    let e = e.map_err(|e| e.to_string())?;
                    let data = std::fs::read(e.path()).map_err(|e| e.to_string())?;
                    files.push((e.file_name().to_string_lossy().into_owned(), data));
                }
                files.sort();
                if files.is_empty() {
                    return Err("LOCAL_DIR is empty".into());
                }
                let count = num(5)?;
                let cpu0 = own_cpu_secs();
                let (rate, p99) = small(server, prefix, &files, count, num(6)?, num(7)?)?;
                let cpu = (own_cpu_secs() - cpu0).max(0.01);
                Ok(format!(
                    "ok=1 files_per_sec={rate:.0} p99_ms={:.2} client_cpu_s={cpu:.2} client_files_per_cpu_s={:.0}",
                    p99.as_secs_f64() * 1e3,
                    count as f64 / cpu
                ))
            }
            _ => Err(usage.into()),
        }
    })();
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("ok=0 error={e:?}");
            ExitCode::FAILURE
        }
    }
}
