//! The sans-I/O read transfer (server sends a file): fed packets and the time,
//! it returns the datagrams to send and when to wake up. No sockets and no
//! clock reads in here; the data comes from a [`BlockSource`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::TftpError;
use crate::core::options::Negotiated;
use crate::core::packet::{self, ErrorCode, Packet};

/// Retransmissions allowed before the client has acknowledged anything
/// (the OACK or the first DATA). Source addresses can be spoofed, so an
/// unconfirmed peer gets the first packet at most twice: a request without
/// options draws at most two DATA packets (two full 512-byte blocks, 1,032
/// bytes of UDP payload, for a request of 20-odd bytes), and one with options
/// at most two OACKs. README "TFTP reflection" gives the factor.
pub const UNCONFIRMED_RETRIES: u32 = 1;

/// What the socket loop does next.
#[derive(Debug)]
pub enum Step {
    /// Send these datagrams in order, then wait for a packet until `until`.
    Send {
        /// Datagrams to send to the peer.
        datagrams: Vec<Vec<u8>>,
        /// When to call `on_timeout` if nothing arrives.
        until: Instant,
    },
    /// Nothing to send; wait for a packet until the instant given.
    Wait(Instant),
    /// Send these final datagrams (possibly none); the transfer succeeded.
    Done(Vec<Vec<u8>>),
    /// Send these datagrams (an ERROR, or none) and end with the error.
    Fail {
        /// Usually one ERROR packet; empty when the peer ended the transfer.
        datagrams: Vec<Vec<u8>>,
        /// Why the transfer ended.
        error: TftpError,
    },
}

/// A transfer-ending problem with the code and message sent to the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abort {
    /// RFC 1350 error code to send.
    pub code: ErrorCode,
    /// Message to send (and log).
    pub message: String,
}

impl Abort {
    /// An abort with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Where the bytes of a read transfer come from (a file, or a rendered template).
pub trait BlockSource: Send {
    /// Total size in bytes (known up front, so tsize works).
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`; returns the number of bytes read, which is
    /// `buf.len()` unless the end of the data is reached.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, Abort>;
    /// The whole data when it is in memory (lets windows be built without a copy
    /// into a scratch buffer).
    fn as_slice(&self) -> Option<&[u8]> {
        None
    }
}

/// In-memory data: owned (rendered templates, netascii translations,
/// tests) or shared (small files the server keeps).
macro_rules! in_memory_source {
    ($($t:ty),*) => {$(
        impl BlockSource for $t {
            fn size(&self) -> u64 {
                self.len() as u64
            }

            fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, Abort> {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(self.len());
                let chunk = self.get(start..).unwrap_or_default();
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                Ok(n)
            }

            fn as_slice(&self) -> Option<&[u8]> {
                Some(self)
            }
        }
    )*};
}

in_memory_source!(Vec<u8>, std::sync::Arc<[u8]>);

/// Retransmission timing shared by both directions.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// First retransmission timeout.
    pub timeout: Duration,
    /// When false, each retransmission doubles the timeout (capped at 8×).
    pub fixed: bool,
    /// Retransmissions allowed once the peer has answered.
    pub max_retries: u32,
}

impl Timing {
    /// The timeout after `retries` retransmissions.
    pub fn after(&self, retries: u32) -> Duration {
        if self.fixed {
            self.timeout
        } else {
            self.timeout * (1u32 << retries.min(3))
        }
    }

    /// Retransmissions allowed in the current state.
    pub fn limit(&self, confirmed: bool) -> u32 {
        if confirmed {
            self.max_retries
        } else {
            self.max_retries.min(UNCONFIRMED_RETRIES)
        }
    }

    /// The retransmission timer fired at `now`: `Some(step)` when the transfer
    /// must wait longer (the deadline is not reached) or give up (the retry
    /// budget is spent); `None` when it should retransmit (`retries` counted).
    pub(crate) fn on_timer(
        &self,
        now: Instant,
        deadline: Instant,
        retries: &mut u32,
        confirmed: bool,
        peer: SocketAddr,
    ) -> Option<Step> {
        if now < deadline {
            return Some(Step::Wait(deadline));
        }
        *retries += 1;
        (*retries > self.limit(confirmed)).then(|| Step::Fail {
            datagrams: Vec::new(),
            error: if confirmed {
                TftpError::TimedOut {
                    peer,
                    retries: *retries - 1,
                }
            } else {
                TftpError::Unconfirmed {
                    peer,
                    sent: *retries,
                }
            },
        })
    }
}

/// A read transfer: OACK (if options were negotiated), then DATA windows.
pub struct Transfer {
    peer: SocketAddr,
    source: Box<dyn BlockSource>,
    blksize: usize,
    window: u64,
    /// Number of DATA blocks; the last one is shorter than blksize (maybe empty).
    total: u64,
    /// The OACK datagram while it is not yet acknowledged.
    oack: Option<Vec<u8>>,
    /// Highest block (absolute, from 1) the client acknowledged.
    acked: u64,
    /// Highest block sent in the current window.
    sent_upto: u64,
    retries: u32,
    confirmed: bool,
    timing: Timing,
    deadline: Instant,
    /// Reused buffer for one window's bytes.
    scratch: Vec<u8>,
}

impl Transfer {
    /// A transfer of `source` to `peer` with the negotiated options.
    pub fn new(
        peer: SocketAddr,
        source: Box<dyn BlockSource>,
        negotiated: &Negotiated,
        max_retries: u32,
        now: Instant,
    ) -> Self {
        let blksize = negotiated.blksize.max(1);
        let total = source.size() / blksize as u64 + 1;
        let oack = (!negotiated.oack.is_empty()).then(|| packet::oack(&negotiated.oack));
        Self {
            peer,
            source,
            blksize,
            window: u64::from(negotiated.windowsize.max(1)),
            total,
            oack,
            acked: 0,
            sent_upto: 0,
            retries: 0,
            confirmed: false,
            timing: Timing {
                timeout: negotiated.timeout,
                fixed: negotiated.timeout_negotiated,
                max_retries,
            },
            deadline: now,
            scratch: Vec::new(),
        }
    }

    /// The first datagrams: the OACK, or the first DATA block.
    pub fn start(&mut self, now: Instant) -> Step {
        if self.oack.is_some() {
            self.send_oack(now)
        } else {
            // RFC 1350 §4: without options the server answers a RRQ with DATA 1,
            // and lock-step until confirmed (no window before an ACK).
            self.send_window(now)
        }
    }

    /// The window negotiated (1: lock-step).
    pub fn window(&self) -> u64 {
        self.window
    }

    /// The largest datagram this transfer can send: a full DATA block, or
    /// the OACK.
    pub fn largest_datagram(&self) -> usize {
        (4 + self.blksize).max(self.oack.as_ref().map_or(0, Vec::len))
    }

    /// Bytes acknowledged so far (for logs).
    pub fn bytes_acked(&self) -> u64 {
        (self.acked.saturating_mul(self.blksize as u64)).min(self.source.size())
    }

    /// Total size being sent.
    pub fn size(&self) -> u64 {
        self.source.size()
    }

    /// Feeds one packet from the peer's TID.
    pub fn on_packet(&mut self, pkt: Packet<'_>, now: Instant) -> Step {
        match pkt {
            // RFC 2347 §3 / RFC 1350 §7: an ERROR from the client ends the
            // transfer, including ERROR 8 after the OACK (a tsize probe).
            Packet::Error { code, message } => Step::Fail {
                datagrams: Vec::new(),
                error: TftpError::PeerError {
                    peer: self.peer,
                    code,
                    message,
                },
            },
            Packet::Ack { block } => self.on_ack(block, now),
            // Anything else on this TID is ignored (and counted by the caller).
            _ => Step::Wait(self.deadline),
        }
    }

    fn on_ack(&mut self, block: u16, now: Instant) -> Step {
        if self.oack.is_some() {
            // RFC 2347 §3: the client acknowledges the OACK with ACK 0.
            if block != 0 {
                return Step::Wait(self.deadline);
            }
            self.oack = None;
            self.confirmed = true;
            self.retries = 0;
            return self.send_window(now);
        }
        // Block numbers wrap (rollover to 0 past 65535, as tftpd-hpa does);
        // map the 16-bit number onto the outstanding window.
        let diff = u64::from(block.wrapping_sub(self.acked as u16));
        let outstanding = self.sent_upto - self.acked;
        if diff == 0 || diff > outstanding {
            // RFC 1123 §4.2.3.1 (Sorcerer's Apprentice): a duplicate or stale
            // ACK never triggers a retransmission; only the timer does.
            return Step::Wait(self.deadline);
        }
        self.acked += diff;
        self.confirmed = true;
        self.retries = 0;
        if self.acked >= self.total {
            return Step::Done(Vec::new());
        }
        // RFC 7440 §4: an ACK for a block inside the window means the blocks
        // after it were lost; the next window starts right after it.
        self.send_window(now)
    }

    /// The retransmission timer fired.
    pub fn on_timeout(&mut self, now: Instant) -> Step {
        let (deadline, confirmed, peer) = (self.deadline, self.confirmed, self.peer);
        if let Some(step) = self
            .timing
            .on_timer(now, deadline, &mut self.retries, confirmed, peer)
        {
            return step;
        }
        if self.oack.is_some() {
            self.send_oack(now)
        } else {
            self.send_window(now)
        }
    }

    fn send_oack(&mut self, now: Instant) -> Step {
        self.deadline = now + self.timing.after(self.retries);
        Step::Send {
            datagrams: self.oack.iter().cloned().collect(),
            until: self.deadline,
        }
    }

    /// Sends blocks acked+1 ..= acked+window (window 1 until confirmed).
    fn send_window(&mut self, now: Instant) -> Step {
        let window = if self.confirmed { self.window } else { 1 };
        let first = self.acked + 1;
        let last = (self.acked + window).min(self.total);
        let start = (first - 1) * self.blksize as u64;
        let want = ((last + 1 - first) as usize) * self.blksize;
        if let Some(all) = self.source.as_slice() {
            let begin = usize::try_from(start).unwrap_or(usize::MAX).min(all.len());
            let mut datagrams = Vec::with_capacity((last + 1 - first) as usize);
            for (i, block) in (first..=last).enumerate() {
                let from = (begin + i * self.blksize).min(all.len());
                let to = (from + self.blksize).min(all.len());
                let mut dg = Vec::with_capacity(4 + to - from);
                packet::data_header(&mut dg, block as u16);
                dg.extend_from_slice(all.get(from..to).unwrap_or_default());
                datagrams.push(dg);
            }
            self.sent_upto = last;
            self.deadline = now + self.timing.after(self.retries);
            return Step::Send {
                datagrams,
                until: self.deadline,
            };
        }
        // One read for the whole window (one pread instead of one per block).
        self.scratch.resize(want, 0);
        let got = match self.source.read_at(start, &mut self.scratch) {
            Ok(n) => n,
            Err(abort) => {
                return Step::Fail {
                    datagrams: vec![packet::error(abort.code, &abort.message)],
                    error: TftpError::Refused {
                        peer: self.peer,
                        code: abort.code as u16,
                        message: abort.message,
                    },
                };
            }
        };
        let mut datagrams = Vec::with_capacity((last + 1 - first) as usize);
        for (i, block) in (first..=last).enumerate() {
            let from = (i * self.blksize).min(got);
            let to = (from + self.blksize).min(got);
            let mut dg = Vec::with_capacity(4 + to - from);
            packet::data_header(&mut dg, block as u16);
            dg.extend_from_slice(self.scratch.get(from..to).unwrap_or_default());
            datagrams.push(dg);
        }
        self.sent_upto = last;
        self.deadline = now + self.timing.after(self.retries);
        Step::Send {
            datagrams,
            until: self.deadline,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::options::{Limits, negotiate};

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4000))
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn transfer(len: usize, opts: &[(&str, &str)], now: Instant) -> Transfer {
        let opts: Vec<(String, String)> = opts
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let limits = Limits {
            max_blksize: 65464,
            max_windowsize: 64,
            default_timeout: Duration::from_secs(1),
        };
        let n = negotiate(&opts, limits, Some(len as u64), true);
        Transfer::new(peer(), Box::new(data(len)), &n, 5, now)
    }

    fn sent(step: Step) -> Vec<Vec<u8>> {
        match step {
            Step::Send { datagrams, .. } => datagrams,
            other => panic!("expected Send, got {other:?}"),
        }
    }

    fn blocks(dgs: &[Vec<u8>]) -> Vec<u16> {
        dgs.iter()
            .map(|d| match Packet::parse(d).unwrap() {
                Packet::Data { block, .. } => block,
                other => panic!("not DATA: {other:?}"),
            })
            .collect()
    }

    fn ack(block: u16) -> Packet<'static> {
        Packet::Ack { block }
    }

    #[test]
    fn plain_request_sends_data_one_then_finishes_on_last_ack() {
        let t0 = Instant::now();
        let mut t = transfer(1000, &[], t0);
        assert_eq!(blocks(&sent(t.start(t0))), vec![1]);
        assert_eq!(blocks(&sent(t.on_packet(ack(1), t0))), vec![2]);
        assert!(matches!(t.on_packet(ack(2), t0), Step::Done(_)));
    }

    #[test]
    fn exact_multiple_of_blksize_ends_with_an_empty_block() {
        let t0 = Instant::now();
        let mut t = transfer(512, &[], t0);
        sent(t.start(t0));
        let last = sent(t.on_packet(ack(1), t0));
        assert_eq!(last, vec![vec![0, 3, 0, 2]]);
        assert!(matches!(t.on_packet(ack(2), t0), Step::Done(_)));
    }

    #[test]
    fn lost_data_is_retransmitted_on_timeout_with_backoff() {
        let t0 = Instant::now();
        let mut t = transfer(2000, &[], t0);
        sent(t.start(t0));
        sent(t.on_packet(ack(1), t0));
        // DATA 2 is lost: nothing arrives; the timer resends it.
        let Step::Send { datagrams, until } = t.on_timeout(t0 + Duration::from_secs(1)) else {
            panic!("no retransmission")
        };
        assert_eq!(blocks(&datagrams), vec![2]);
        assert_eq!(until, t0 + Duration::from_secs(3), "second wait doubles");
    }

    #[test]
    fn early_timer_wakeup_sends_nothing() {
        let t0 = Instant::now();
        let mut t = transfer(2000, &[], t0);
        sent(t.start(t0));
        assert!(matches!(
            t.on_timeout(t0 + Duration::from_millis(10)),
            Step::Wait(_)
        ));
    }

    #[test]
    fn lost_ack_resends_the_block_once_per_timeout() {
        let t0 = Instant::now();
        let mut t = transfer(2000, &[], t0);
        sent(t.start(t0));
        // ACK 1 lost: the timer resends DATA 1, then the ACK moves on.
        assert_eq!(
            blocks(&sent(t.on_timeout(t0 + Duration::from_secs(1)))),
            vec![1]
        );
        assert_eq!(blocks(&sent(t.on_packet(ack(1), t0))), vec![2]);
    }

    #[test]
    fn duplicate_ack_sends_nothing() {
        let t0 = Instant::now();
        let mut t = transfer(5000, &[], t0);
        sent(t.start(t0));
        sent(t.on_packet(ack(1), t0));
        // Sorcerer's Apprentice: the duplicate ACK 1 must not resend DATA 2.
        assert!(matches!(t.on_packet(ack(1), t0), Step::Wait(_)));
        assert_eq!(blocks(&sent(t.on_packet(ack(2), t0))), vec![3]);
    }

    #[test]
    fn error_8_after_oack_ends_quietly() {
        let t0 = Instant::now();
        let mut t = transfer(5000, &[("tsize", "0")], t0);
        let oack = sent(t.start(t0));
        assert_eq!(
            Packet::parse(&oack[0]).unwrap(),
            Packet::Oack(vec![("tsize".into(), "5000".into())])
        );
        let step = t.on_packet(
            Packet::Error {
                code: 8,
                message: "tsize probe".into(),
            },
            t0,
        );
        match step {
            Step::Fail { datagrams, error } => {
                assert!(datagrams.is_empty(), "no reply to a client ERROR");
                assert!(matches!(error, TftpError::PeerError { code: 8, .. }));
            }
            other => panic!("expected Fail, got {other:?}"),
        }
    }

    #[test]
    fn ack_zero_confirms_the_oack_and_starts_the_window() {
        let t0 = Instant::now();
        let mut t = transfer(10 * 512, &[("windowsize", "4")], t0);
        sent(t.start(t0));
        assert_eq!(blocks(&sent(t.on_packet(ack(0), t0))), vec![1, 2, 3, 4]);
        assert_eq!(blocks(&sent(t.on_packet(ack(4), t0))), vec![5, 6, 7, 8]);
    }

    #[test]
    fn block_numbers_roll_over_to_zero() {
        let t0 = Instant::now();
        let len = 70_000 * 8;
        let mut t = transfer(len, &[("blksize", "8")], t0);
        sent(t.start(t0));
        let mut wire = sent(t.on_packet(ack(0), t0));
        let mut expected: u64 = 1;
        loop {
            assert_eq!(blocks(&wire), vec![expected as u16]);
            match t.on_packet(ack(expected as u16), t0) {
                Step::Send { datagrams, .. } => wire = datagrams,
                Step::Done(_) => break,
                other => panic!("unexpected {other:?}"),
            }
            expected += 1;
        }
        assert_eq!(expected, 70_001, "70 000 full blocks plus the empty one");
        assert!(expected > 65_536);
    }

    #[test]
    fn lost_block_in_window_restarts_after_the_last_acked_block() {
        let t0 = Instant::now();
        let mut t = transfer(20 * 512, &[("windowsize", "8")], t0);
        sent(t.start(t0));
        assert_eq!(
            blocks(&sent(t.on_packet(ack(0), t0))),
            (1..=8).collect::<Vec<_>>()
        );
        // Block 4 lost: the client acknowledges 3; the window restarts at 4.
        assert_eq!(
            blocks(&sent(t.on_packet(ack(3), t0))),
            (4..=11).collect::<Vec<_>>()
        );
        // A late duplicate of that ACK does not resend the window.
        assert!(matches!(t.on_packet(ack(3), t0), Step::Wait(_)));
    }

    #[test]
    fn window_timeout_resends_the_whole_unacknowledged_window() {
        let t0 = Instant::now();
        let mut t = transfer(20 * 512, &[("windowsize", "4")], t0);
        sent(t.start(t0));
        sent(t.on_packet(ack(0), t0));
        let again = sent(t.on_timeout(t0 + Duration::from_secs(5)));
        assert_eq!(blocks(&again), vec![1, 2, 3, 4]);
    }

    #[test]
    fn confirmed_transfer_gives_up_after_max_retries() {
        let t0 = Instant::now();
        let mut t = transfer(5000, &[], t0);
        sent(t.start(t0));
        sent(t.on_packet(ack(1), t0));
        let mut now = t0;
        for _ in 0..5 {
            now += Duration::from_secs(60);
            sent(t.on_timeout(now));
        }
        now += Duration::from_secs(60);
        assert!(matches!(
            t.on_timeout(now),
            Step::Fail {
                error: TftpError::TimedOut { retries: 5, .. },
                ..
            }
        ));
    }

    #[test]
    fn unconfirmed_first_packet_is_resent_at_most_once() {
        let t0 = Instant::now();
        let mut t = transfer(5000, &[("tsize", "0")], t0);
        let mut sends = sent(t.start(t0)).len();
        let mut now = t0;
        loop {
            now += Duration::from_secs(60);
            match t.on_timeout(now) {
                Step::Send { datagrams, .. } => sends += datagrams.len(),
                Step::Fail { datagrams, .. } => {
                    assert!(datagrams.is_empty());
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(sends, 1 + UNCONFIRMED_RETRIES as usize);
    }

    /// Drives a transfer that nobody acknowledges until it gives up; returns
    /// the DATA block numbers sent and the error it ended with.
    fn unanswered(t: &mut Transfer, t0: Instant) -> (Vec<Vec<u8>>, TftpError) {
        let mut out = sent(t.start(t0));
        let mut now = t0;
        for _ in 0..100 {
            now += Duration::from_secs(60);
            match t.on_timeout(now) {
                Step::Send { datagrams, .. } => out.extend(datagrams),
                Step::Fail { datagrams, error } => {
                    assert!(datagrams.is_empty());
                    return (out, error);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        panic!("the transfer never gave up");
    }

    #[test]
    fn bare_rrq_from_a_silent_peer_draws_data_one_twice_then_unconfirmed() {
        let t0 = Instant::now();
        // A full first block: the worst case for reflection.
        let mut t = transfer(5000, &[], t0);
        let (dgs, error) = unanswered(&mut t, t0);
        assert_eq!(blocks(&dgs), vec![1, 1]);
        assert!(dgs.iter().all(|d| d.len() == 4 + 512));
        assert!(
            matches!(error, TftpError::Unconfirmed { sent: 2, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn oack_to_a_silent_peer_is_sent_twice_even_with_a_big_window() {
        let t0 = Instant::now();
        let mut t = transfer(
            100_000,
            &[("blksize", "1468"), ("windowsize", "16"), ("tsize", "0")],
            t0,
        );
        let (dgs, error) = unanswered(&mut t, t0);
        assert_eq!(dgs.len(), 2);
        assert!(dgs.iter().all(|d| d.starts_with(&[0, 6])), "{dgs:?}");
        assert!(matches!(error, TftpError::Unconfirmed { sent: 2, .. }));
    }

    #[test]
    fn largest_datagram_is_a_full_block_or_the_oack() {
        let t0 = Instant::now();
        let mut t = transfer(5000, &[], t0);
        assert_eq!(t.largest_datagram(), 516, "RFC 1350's 512-byte blocks");
        let largest = sent(t.start(t0)).iter().map(Vec::len).max();
        assert_eq!(largest, Some(516));
        let t = transfer(5000, &[("blksize", "1468"), ("tsize", "0")], t0);
        assert_eq!(t.largest_datagram(), 1472);
        // A tiny block with a long OACK: the OACK is the largest.
        let t = transfer(
            100,
            &[("blksize", "8"), ("tsize", "0"), ("timeout", "5")],
            t0,
        );
        let oack = t.oack.as_ref().map_or(0, Vec::len);
        assert!(oack > 12, "{oack}");
        assert_eq!(t.largest_datagram(), oack);
    }

    #[test]
    fn ack_for_a_block_never_sent_is_ignored() {
        let t0 = Instant::now();
        let mut t = transfer(5000, &[], t0);
        sent(t.start(t0));
        assert!(matches!(t.on_packet(ack(7), t0), Step::Wait(_)));
        assert!(matches!(t.on_packet(ack(65535), t0), Step::Wait(_)));
    }

    /// A source that only supports reads (like a file).
    struct ReadOnly(Vec<u8>);

    impl BlockSource for ReadOnly {
        fn size(&self) -> u64 {
            self.0.size()
        }
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, Abort> {
            self.0.read_at(offset, buf)
        }
    }

    #[test]
    fn read_only_source_gives_the_same_windows_as_memory() {
        let t0 = Instant::now();
        let limits = Limits {
            max_blksize: 65464,
            max_windowsize: 64,
            default_timeout: Duration::from_secs(1),
        };
        let opts = vec![
            ("blksize".to_owned(), "100".to_owned()),
            ("windowsize".to_owned(), "7".to_owned()),
        ];
        let len = 1234;
        let n = negotiate(&opts, limits, Some(len as u64), true);
        let mut a = Transfer::new(peer(), Box::new(data(len)), &n, 5, t0);
        let mut b = Transfer::new(peer(), Box::new(ReadOnly(data(len))), &n, 5, t0);
        sent(a.start(t0));
        sent(b.start(t0));
        let mut acked = 0u16;
        loop {
            let (sa, sb) = (a.on_packet(ack(acked), t0), b.on_packet(ack(acked), t0));
            match (sa, sb) {
                (Step::Send { datagrams: da, .. }, Step::Send { datagrams: db, .. }) => {
                    assert_eq!(da, db);
                    acked = *blocks(&da).last().unwrap();
                }
                (Step::Done(_), Step::Done(_)) => break,
                other => panic!("diverged: {other:?}"),
            }
        }
        assert_eq!(acked, 13, "12 full blocks of 100 and one of 34");
    }

    #[test]
    fn negotiated_timeout_is_used_without_backoff() {
        let t0 = Instant::now();
        let mut t = transfer(5000, &[("timeout", "2")], t0);
        sent(t.start(t0));
        let Step::Send { until, .. } = t.on_timeout(t0 + Duration::from_secs(2)) else {
            panic!()
        };
        assert_eq!(until, t0 + Duration::from_secs(4));
    }
}
