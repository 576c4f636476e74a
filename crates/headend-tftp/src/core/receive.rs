//! The sans-I/O write transfer (server receives an upload, lock-step as in
//! RFC 1350 §6): fed packets and the time, it returns ACKs to send; the bytes
//! go to a [`BlockSink`] that enforces the size cap and the no-overwrite rule.

use std::net::SocketAddr;
use std::time::Instant;

use crate::TftpError;
use crate::core::options::Negotiated;
use crate::core::packet::{self, ErrorCode, Packet};
use crate::core::transfer::{Abort, Step, Timing};

/// Where an upload's bytes go.
pub trait BlockSink: Send {
    /// Appends one in-order block.
    fn write(&mut self, data: &[u8]) -> Result<(), Abort>;
    /// The last block arrived: make the file visible (or refuse).
    fn finish(&mut self) -> Result<(), Abort>;
}

/// An upload in progress.
pub struct Receive {
    peer: SocketAddr,
    sink: Box<dyn BlockSink>,
    blksize: usize,
    /// Next block expected (absolute, from 1).
    expected: u64,
    received: u64,
    max_bytes: u64,
    /// The datagram that answers the last good packet (OACK or ACK).
    last_reply: Vec<u8>,
    confirmed: bool,
    retries: u32,
    timing: Timing,
    deadline: Instant,
}

impl Receive {
    /// An upload from `peer` of at most `max_bytes`.
    pub fn new(
        peer: SocketAddr,
        sink: Box<dyn BlockSink>,
        negotiated: &Negotiated,
        max_bytes: u64,
        max_retries: u32,
        now: Instant,
    ) -> Self {
        // RFC 2347 §3: a WRQ with options is answered with an OACK, without
        // options with ACK 0 (RFC 1350 §4).
        let last_reply = if negotiated.oack.is_empty() {
            packet::ack(0)
        } else {
            packet::oack(&negotiated.oack)
        };
        Self {
            peer,
            sink,
            blksize: negotiated.blksize,
            expected: 1,
            received: 0,
            max_bytes,
            last_reply,
            confirmed: false,
            retries: 0,
            timing: Timing {
                timeout: negotiated.timeout,
                fixed: negotiated.timeout_negotiated,
                max_retries,
            },
            deadline: now,
        }
    }

    /// The first reply (ACK 0 or OACK).
    pub fn start(&mut self, now: Instant) -> Step {
        self.resend(now)
    }

    /// The negotiated block size.
    pub fn blksize(&self) -> usize {
        self.blksize
    }

    /// Bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.received
    }

    fn resend(&mut self, now: Instant) -> Step {
        self.deadline = now + self.timing.after(self.retries);
        Step::Send {
            datagrams: vec![self.last_reply.clone()],
            until: self.deadline,
        }
    }

    fn abort(&self, abort: Abort) -> Step {
        Step::Fail {
            datagrams: vec![packet::error(abort.code, &abort.message)],
            error: TftpError::Refused {
                peer: self.peer,
                code: abort.code as u16,
                message: abort.message,
            },
        }
    }

    /// Feeds one packet from the peer's TID.
    pub fn on_packet(&mut self, pkt: Packet<'_>, now: Instant) -> Step {
        match pkt {
            Packet::Error { code, message } => Step::Fail {
                datagrams: Vec::new(),
                error: TftpError::PeerError {
                    peer: self.peer,
                    code,
                    message,
                },
            },
            Packet::Data { block, data } => self.on_data(block, data, now),
            _ => Step::Wait(self.deadline),
        }
    }

    fn on_data(&mut self, block: u16, data: &[u8], now: Instant) -> Step {
        if block == self.expected as u16 {
            if data.len() > self.blksize {
                return self.abort(Abort {
                    code: ErrorCode::IllegalOperation,
                    message: format!("DATA larger than the block size {}", self.blksize),
                });
            }
            self.received += data.len() as u64;
            if self.received > self.max_bytes {
                return self.abort(Abort {
                    code: ErrorCode::DiskFull,
                    message: format!("upload exceeds the {} byte limit", self.max_bytes),
                });
            }
            if let Err(abort) = self.sink.write(data) {
                return self.abort(abort);
            }
            self.confirmed = true;
            self.retries = 0;
            self.last_reply = packet::ack(block);
            self.expected += 1;
            // RFC 1350 §6: a block shorter than blksize ends the transfer.
            if data.len() < self.blksize {
                return match self.sink.finish() {
                    Ok(()) => Step::Done(vec![self.last_reply.clone()]),
                    Err(abort) => self.abort(abort),
                };
            }
            return self.resend(now);
        }
        if self.confirmed && block == (self.expected - 1) as u16 {
            // Our ACK was lost and the client resent the block: acknowledge again.
            return self.resend(now);
        }
        Step::Wait(self.deadline)
    }

    /// The retransmission timer fired: resend the last ACK (or OACK).
    pub fn on_timeout(&mut self, now: Instant) -> Step {
        let (deadline, confirmed, peer) = (self.deadline, self.confirmed, self.peer);
        if let Some(step) = self
            .timing
            .on_timer(now, deadline, &mut self.retries, confirmed, peer)
        {
            return step;
        }
        self.resend(now)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::core::options::{Limits, negotiate};

    #[derive(Clone, Default)]
    struct Memory(Arc<Mutex<(Vec<u8>, bool)>>);

    impl BlockSink for Memory {
        fn write(&mut self, data: &[u8]) -> Result<(), Abort> {
            self.0.lock().unwrap().0.extend_from_slice(data);
            Ok(())
        }
        fn finish(&mut self) -> Result<(), Abort> {
            self.0.lock().unwrap().1 = true;
            Ok(())
        }
    }

    fn upload(opts: &[(&str, &str)], max: u64, sink: Memory, now: Instant) -> Receive {
        let opts: Vec<(String, String)> = opts
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let limits = Limits {
            max_blksize: 1468,
            max_windowsize: 16,
            default_timeout: Duration::from_secs(1),
        };
        let n = negotiate(&opts, limits, None, false);
        Receive::new(
            SocketAddr::from(([127, 0, 0, 1], 5000)),
            Box::new(sink),
            &n,
            max,
            5,
            now,
        )
    }

    fn replies(step: Step) -> Vec<Packet<'static>> {
        let dgs = match step {
            Step::Send { datagrams, .. } | Step::Done(datagrams) => datagrams,
            other => panic!("unexpected {other:?}"),
        };
        dgs.into_iter()
            .map(|d| match Packet::parse(&d).unwrap() {
                Packet::Ack { block } => Packet::Ack { block },
                Packet::Oack(o) => Packet::Oack(o),
                other => panic!("unexpected reply {other:?}"),
            })
            .collect()
    }

    #[test]
    fn upload_is_acked_block_by_block_and_finished_on_a_short_block() {
        let t0 = Instant::now();
        let sink = Memory::default();
        let mut r = upload(&[], 1 << 20, sink.clone(), t0);
        assert_eq!(replies(r.start(t0)), vec![Packet::Ack { block: 0 }]);
        let full = [7u8; 512];
        let step = r.on_packet(
            Packet::Data {
                block: 1,
                data: &full,
            },
            t0,
        );
        assert_eq!(replies(step), vec![Packet::Ack { block: 1 }]);
        let step = r.on_packet(
            Packet::Data {
                block: 2,
                data: b"end",
            },
            t0,
        );
        assert!(matches!(&step, Step::Done(_)));
        assert_eq!(replies(step), vec![Packet::Ack { block: 2 }]);
        let got = sink.0.lock().unwrap();
        assert_eq!(got.0.len(), 515);
        assert!(got.1, "finished");
    }

    #[test]
    fn duplicate_data_is_acknowledged_again_but_written_once() {
        let t0 = Instant::now();
        let sink = Memory::default();
        let mut r = upload(&[], 1 << 20, sink.clone(), t0);
        r.start(t0);
        let full = [1u8; 512];
        r.on_packet(
            Packet::Data {
                block: 1,
                data: &full,
            },
            t0,
        );
        let step = r.on_packet(
            Packet::Data {
                block: 1,
                data: &full,
            },
            t0,
        );
        assert_eq!(replies(step), vec![Packet::Ack { block: 1 }]);
        assert_eq!(sink.0.lock().unwrap().0.len(), 512);
    }

    #[test]
    fn oversize_upload_is_refused_with_error_3() {
        let t0 = Instant::now();
        let mut r = upload(&[], 600, Memory::default(), t0);
        r.start(t0);
        let full = [1u8; 512];
        r.on_packet(
            Packet::Data {
                block: 1,
                data: &full,
            },
            t0,
        );
        match r.on_packet(
            Packet::Data {
                block: 2,
                data: &full,
            },
            t0,
        ) {
            Step::Fail { datagrams, .. } => assert!(matches!(
                Packet::parse(&datagrams[0]).unwrap(),
                Packet::Error { code: 3, .. }
            )),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn upload_with_options_starts_with_an_oack() {
        let t0 = Instant::now();
        let mut r = upload(
            &[("blksize", "1024"), ("tsize", "10")],
            1 << 20,
            Memory::default(),
            t0,
        );
        assert_eq!(
            replies(r.start(t0)),
            vec![Packet::Oack(vec![
                ("blksize".into(), "1024".into()),
                ("tsize".into(), "10".into())
            ])]
        );
    }

    #[test]
    fn silent_uploader_gets_the_first_ack_twice_then_is_abandoned() {
        let t0 = Instant::now();
        let mut r = upload(&[], 1 << 20, Memory::default(), t0);
        r.start(t0);
        let mut now = t0;
        let mut resends = 0;
        loop {
            now += Duration::from_secs(60);
            match r.on_timeout(now) {
                Step::Send { .. } => resends += 1,
                Step::Fail { error, .. } => {
                    assert!(matches!(error, TftpError::Unconfirmed { sent: 2, .. }));
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(resends, 1);
    }
}
