//! Either direction's state machine behind one interface, so the socket
//! loop drives an RRQ and a WRQ alike.

use std::time::Instant;

use crate::core::packet::Packet;
use crate::core::receive::Receive;
use crate::core::transfer::{Step, Transfer};

/// The state machine of one transfer.
pub(crate) enum Machine {
    /// RRQ: the server sends.
    Read(Transfer),
    /// WRQ: the server receives.
    Write(Receive),
}

impl Machine {
    /// The first step (OACK, first DATA or first ACK).
    #[inline]
    pub(crate) fn start(&mut self, now: Instant) -> Step {
        match self {
            Self::Read(t) => t.start(now),
            Self::Write(r) => r.start(now),
        }
    }

    /// A packet from the peer arrived at `now`.
    #[inline]
    pub(crate) fn on_packet(&mut self, pkt: Packet<'_>, now: Instant) -> Step {
        match self {
            Self::Read(t) => t.on_packet(pkt, now),
            Self::Write(r) => r.on_packet(pkt, now),
        }
    }

    /// The timer set by the last step fired at `now`.
    #[inline]
    pub(crate) fn on_timeout(&mut self, now: Instant) -> Step {
        match self {
            Self::Read(t) => t.on_timeout(now),
            Self::Write(r) => r.on_timeout(now),
        }
    }

    /// Largest datagram expected from the peer (+1 to spot oversize ones).
    #[inline]
    pub(crate) fn recv_size(&self) -> usize {
        match self {
            // ACKs and ERRORs only.
            Self::Read(_) => 1024,
            Self::Write(r) => r.blksize() + 5,
        }
    }

    /// Bytes moved so far (acknowledged by the peer, or received).
    #[inline]
    pub(crate) fn bytes(&self) -> u64 {
        match self {
            Self::Read(t) => t.bytes_acked(),
            Self::Write(r) => r.bytes(),
        }
    }

    /// The largest datagram a download sends (`None` for an upload, which
    /// sends ACKs and its OACK).
    #[inline]
    pub(crate) fn largest_sent(&self) -> Option<usize> {
        match self {
            Self::Read(t) => Some(t.largest_datagram()),
            Self::Write(_) => None,
        }
    }

    /// True for a lock-step download (window 1): one DATA per ACK.
    #[inline]
    pub(crate) fn is_lock_step_read(&self) -> bool {
        matches!(self, Self::Read(t) if t.window() == 1)
    }

    /// True for an upload (which dallies after its final ACK).
    #[inline]
    pub(crate) fn is_write(&self) -> bool {
        matches!(self, Self::Write(_))
    }
}
