//! What a datagram on the listen port asks for: a request to serve, a
//! malformed request to refuse with an ERROR, or a stray datagram to drop.

use crate::core::packet::{ErrorCode, Packet, PacketError, Request};
use crate::core::transfer::Abort;

/// The verdict on one datagram received on a listen port.
#[derive(Debug)]
pub(crate) enum Incoming<'a> {
    /// An RRQ (`write` false) or a WRQ (`write` true).
    Request {
        /// The parsed request, borrowing the datagram.
        req: Request<'a>,
        /// True for a WRQ.
        write: bool,
    },
    /// A request that cannot be served: answer with this ERROR.
    Refuse(Abort),
    /// Not a request (or garbage): drop it and count it.
    Stray,
}

/// Classifies one datagram received on a listen port (RFC 1350 §4: a
/// transfer begins with an RRQ or WRQ; anything else there is no transfer).
pub(crate) fn classify(dg: &[u8]) -> Incoming<'_> {
    match Packet::parse(dg) {
        Ok(Packet::Rrq(req)) => Incoming::Request { req, write: false },
        Ok(Packet::Wrq(req)) => Incoming::Request { req, write: true },
        Err(PacketError::BadMode(mode)) => {
            // A mode that is no word means the name held a NUL byte
            // (`name\0../x\0octet\0`): refuse it as an access violation.
            Incoming::Refuse(if mode.chars().all(|c| c.is_ascii_alphabetic()) {
                Abort::new(
                    ErrorCode::IllegalOperation,
                    format!("unsupported mode {mode:?}"),
                )
            } else {
                Abort::new(ErrorCode::AccessViolation, "NUL byte in file name")
            })
        }
        Err(PacketError::Unterminated | PacketError::OptionWithoutValue)
            if matches!(dg.get(..2), Some([0, 1 | 2])) =>
        {
            Incoming::Refuse(Abort::new(ErrorCode::IllegalOperation, "malformed request"))
        }
        _ => Incoming::Stray,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::packet::{self, OP_RRQ, OP_WRQ};

    fn refused(dg: &[u8]) -> ErrorCode {
        match classify(dg) {
            Incoming::Refuse(a) => a.code,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn rrq_and_wrq_are_requests() {
        let rrq = packet::request(OP_RRQ, "a.cfg", "octet", &[]);
        assert!(matches!(
            classify(&rrq),
            Incoming::Request { write: false, req } if req.filename == b"a.cfg"
        ));
        let wrq = packet::request(OP_WRQ, "up.bin", "octet", &[]);
        assert!(matches!(
            classify(&wrq),
            Incoming::Request { write: true, .. }
        ));
    }

    #[test]
    fn a_nul_in_the_name_is_an_access_violation() {
        assert_eq!(
            refused(b"\x00\x01name\x00../x\x00octet\x00"),
            ErrorCode::AccessViolation
        );
    }

    #[test]
    fn an_unknown_mode_is_an_illegal_operation() {
        assert_eq!(
            refused(b"\x00\x01a\x00mail\x00"),
            ErrorCode::IllegalOperation
        );
    }

    #[test]
    fn an_unterminated_request_is_refused() {
        assert_eq!(refused(b"\x00\x01a.cfg"), ErrorCode::IllegalOperation);
    }

    #[test]
    fn data_and_garbage_on_the_listen_port_are_strays() {
        assert!(matches!(classify(b"\x00\x03\x00\x01x"), Incoming::Stray));
        assert!(matches!(classify(b"\x00\x04\x00\x01"), Incoming::Stray));
        assert!(matches!(classify(b"\xff"), Incoming::Stray));
        assert!(matches!(classify(b"\x00\x02up"), Incoming::Refuse(_)));
    }
}
