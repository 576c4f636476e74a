//! The kernel socket limit, measured: a UDP "DNS server" that does nothing
//! but turn each query around. It takes a batch of datagrams with one
//! `recvmmsg`, sets the QR bit of each (the answer is the question, rcode
//! NOERROR, no records), and sends them back with one `sendmmsg` — the same
//! batching and socket options as headend's listener, with no parsing, no
//! lookup and no encoding. bench/dns.sh `SATURATE=1` runs it beside the real
//! servers, so the share of a server's CPU that is its own work shows up as the
//! distance to this row.
//!
//! Usage: `bare_responder ADDR:PORT [SECONDS]` (stops by itself after SECONDS,
//! 600 unless given).
#![forbid(unsafe_code)]

use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd as _;
use std::time::{Duration, Instant};

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use socket2::{Domain, Protocol, Socket, Type};

/// Datagrams per system call, as in headend's listener.
const BATCH: usize = 32;
/// Room for one datagram.
const SLOT: usize = 4096;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next().and_then(|a| a.parse::<SocketAddr>().ok()) else {
        eprintln!("usage: bare_responder ADDR:PORT [SECONDS]");
        std::process::exit(2);
    };
    let seconds = args.next().and_then(|s| s.parse().ok()).unwrap_or(600u64);
    if let Err(e) = run(addr, Duration::from_secs(seconds)) {
        eprintln!("bare_responder: {e}");
        std::process::exit(1);
    }
}

fn run(addr: SocketAddr, lifetime: Duration) -> std::io::Result<()> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.bind(&addr.into())?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    let socket: std::net::UdpSocket = socket.into();
    let fd = socket.as_raw_fd();
    let deadline = Instant::now() + lifetime;

    let mut slots = vec![0u8; BATCH * SLOT];
    let mut lens = [0usize; BATCH];
    let mut peers: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
    let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut answered: u64 = 0;
    while Instant::now() < deadline {
        let count = {
            let mut chunks = slots.chunks_exact_mut(SLOT);
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
            let Ok(results) = recvmmsg(
                fd,
                &mut recv_headers,
                &mut iovs,
                MsgFlags::MSG_WAITFORONE,
                None,
            ) else {
                continue; // the read timeout: look at the deadline
            };
            let mut count = 0;
            for msg in results {
                if msg.bytes >= 12 && !msg.flags.contains(MsgFlags::MSG_TRUNC) {
                    lens[count] = msg.bytes;
                    peers[count] = msg.address;
                    count += 1;
                }
            }
            count
        };
        // The answer is the question with QR set and the rcode left NOERROR.
        for (slot, _) in slots.chunks_exact_mut(SLOT).zip(0..count) {
            slot[2] |= 0x80;
            slot[3] &= 0xf0;
        }
        let iovs: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
            let start = i * SLOT;
            [IoSlice::new(&slots[start..start + lens[i]])]
        });
        let no_cmsgs: [ControlMessage<'_>; 0] = [];
        if let Ok(sent) = sendmmsg(
            fd,
            &mut send_headers,
            &iovs[..count],
            &peers[..count],
            no_cmsgs,
            MsgFlags::empty(),
        ) {
            answered += sent.count() as u64;
        }
    }
    eprintln!("bare_responder: answered {answered} queries");
    Ok(())
}
