//! Fuzzes the TFTP packet parser, option negotiation (RFC 2347/2348/2349/
//! 7440), file-name normalisation and both transfer state machines.
//!
//! The input is a list of datagrams, each prefixed by a one-octet length:
//! the first is what arrives on the listen port; when it is a request, the
//! rest are fed to its transfer (a datagram of length 0 stands for the
//! retransmission timer firing). Nothing may panic, and a read transfer of
//! a peer that never acknowledges sends its first packet at most twice.
//!
//! Run: `cargo +nightly fuzz run tftp_packet fuzz/corpus/tftp_packet -- -max_total_time=60`.
#![no_main]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use headend_tftp::core::options::{Limits, negotiate};
use headend_tftp::core::packet::Packet;
use headend_tftp::core::receive::{BlockSink, Receive};
use headend_tftp::core::transfer::{Abort, Step, Transfer};
use headend_tftp::path::normalize;
use libfuzzer_sys::fuzz_target;

/// An upload target that keeps at most a few KiB.
struct Sink(usize);

impl BlockSink for Sink {
    fn write(&mut self, data: &[u8]) -> Result<(), Abort> {
        self.0 += data.len();
        Ok(())
    }
    fn finish(&mut self) -> Result<(), Abort> {
        Ok(())
    }
}

fn datagrams(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len).min(rest.len());
        out.push(&rest[..len]);
        data = &rest[len..];
    }
    out
}

/// Feeds the packets (or timer firings) to one machine until it ends.
fn drive(
    mut on_packet: impl FnMut(Packet<'_>, Instant) -> Step,
    mut on_timeout: impl FnMut(Instant) -> Step,
    first: Step,
    packets: &[&[u8]],
    t0: Instant,
) {
    let mut now = t0;
    let mut step = first;
    for p in packets {
        match step {
            Step::Done(_) | Step::Fail { .. } => return,
            Step::Send { .. } | Step::Wait(_) => {}
        }
        now += Duration::from_millis(300);
        step = if p.is_empty() {
            on_timeout(now + Duration::from_secs(60))
        } else if let Ok(pkt) = Packet::parse(p) {
            on_packet(pkt, now)
        } else {
            continue;
        };
    }
}

fuzz_target!(|data: &[u8]| {
    let dgs = datagrams(data);
    let Some((first, rest)) = dgs.split_first() else {
        return;
    };
    // The raw bytes too, as the listener sees them.
    let _ = Packet::parse(data);
    let Ok(pkt) = Packet::parse(first) else {
        return;
    };
    let (req, write) = match pkt {
        Packet::Rrq(req) => (req, false),
        Packet::Wrq(req) => (req, true),
        _ => return,
    };
    let _ = normalize(req.filename, Path::new("/srv/tftp"), &[], 255);
    let limits = Limits {
        max_blksize: 65464,
        max_windowsize: 64,
        default_timeout: Duration::from_secs(1),
    };
    let peer = SocketAddr::from(([127, 0, 0, 1], 4000));
    let t0 = Instant::now();
    if write {
        let n = negotiate(&req.options, limits, None, false);
        assert!(n.blksize >= 8 && n.blksize <= 65464);
        let mut r = Receive::new(peer, Box::new(Sink(0)), &n, 1 << 16, 5, t0);
        let first = r.start(t0);
        let r = std::cell::RefCell::new(r);
        drive(
            |p, now| r.borrow_mut().on_packet(p, now),
            |now| r.borrow_mut().on_timeout(now),
            first,
            rest,
            t0,
        );
    } else {
        let size = rest.len() as u64 * 700;
        let n = negotiate(&req.options, limits, Some(size), true);
        assert!(n.blksize >= 8 && n.blksize <= 65464);
        assert!(n.windowsize >= 1 && n.windowsize <= 64);
        let source = vec![0x5au8; size as usize];
        let mut t = Transfer::new(peer, Box::new(source), &n, 5, t0);
        let first = t.start(t0);
        // Reflection bound: unanswered, the first packet goes out twice.
        let mut sent = match &first {
            Step::Send { datagrams, .. } => datagrams.len(),
            _ => 0,
        };
        let mut now = t0;
        loop {
            now += Duration::from_secs(60);
            match t.on_timeout(now) {
                Step::Send { datagrams, .. } => sent += datagrams.len(),
                _ => break,
            }
            assert!(sent <= 2, "first packet sent {sent} times");
        }
        let mut t = Transfer::new(peer, Box::new(vec![0x5au8; size as usize]), &n, 5, t0);
        let first = t.start(t0);
        let t = std::cell::RefCell::new(t);
        drive(
            |p, now| t.borrow_mut().on_packet(p, now),
            |now| t.borrow_mut().on_timeout(now),
            first,
            rest,
            t0,
        );
    }
});
