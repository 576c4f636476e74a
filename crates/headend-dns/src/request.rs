//! A request read once: header, question and OPT record.
//!
//! The responder ([`crate::respond`]) reads each request's bytes here, once,
//! and passes the view along: whether it is a zone transfer, whether the
//! answer cache ([`crate::fast`]) may answer it and under which key, where
//! its question ends (for a truncated answer). Anything this view does not
//! recognise goes to the full responder, which parses the message whole
//! ([`crate::answer::Catalog::respond`]); so nothing here decides an answer,
//! it only routes the request.

/// Length of the DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// Longest name in wire form (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;

/// A request's bytes with its header, question and OPT record read.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    bytes: &'a [u8],
    question: Option<Question>,
    plain: Option<PlainQuery>,
}

/// The question of a request that has exactly one, its name written as
/// uncompressed labels (RFC 1035 §4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// Length of the QNAME in wire form (including the root label).
    pub qname_len: usize,
    /// The QTYPE.
    pub qtype: u16,
    /// The QCLASS.
    pub qclass: u16,
}

impl Question {
    /// The offset just past the question (QNAME, QTYPE, QCLASS).
    pub fn end(&self) -> usize {
        HEADER_LEN + self.qname_len + 4
    }
}

/// A plain query, the kind the answer cache serves: QUERY opcode, one
/// question in class IN without compression, at most an EDNS(0) OPT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainQuery {
    /// Length of the QNAME in wire form (including the root label).
    pub qname_len: usize,
    /// The QTYPE.
    pub qtype: u16,
    /// The client's EDNS payload size and DO bit, when it sent OPT.
    pub edns: Option<(u16, bool)>,
}

/// QTYPE AXFR (RFC 5936).
const AXFR: u16 = 252;
/// QTYPE IXFR (RFC 1995).
const IXFR: u16 = 251;

impl<'a> Request<'a> {
    /// Reads `bytes`; `None` when they are too short to hold a header, so
    /// there is nothing to answer.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let header = bytes.first_chunk::<HEADER_LEN>()?;
        let question = if header[4..6] == [0, 1] {
            read_question(bytes)
        } else {
            None
        };
        let plain = question.and_then(|q| read_plain(bytes, header, q));
        Some(Self {
            bytes,
            question,
            plain,
        })
    }

    /// The request as received.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The question, when there is exactly one, written without compression.
    pub fn question(&self) -> Option<Question> {
        self.question
    }

    /// The request as the answer cache sees it; `None` means "use the full
    /// responder".
    pub fn plain(&self) -> Option<PlainQuery> {
        self.plain
    }

    /// A QUERY (QR=0, opcode 0) for AXFR or IXFR: a zone transfer.
    pub fn is_transfer(&self) -> bool {
        self.bytes[2] & 0xf8 == 0
            && self
                .question
                .is_some_and(|q| matches!(q.qtype, AXFR | IXFR))
    }

    /// An IXFR carrying the client's SOA in its authority section (RFC 1995
    /// §3), the one transfer answered over UDP.
    pub fn is_ixfr_with_soa(&self) -> bool {
        self.is_transfer()
            && self.question.is_some_and(|q| q.qtype == IXFR)
            && self.bytes[8..10] != [0, 0]
    }
}

/// RFC 1035 §4.1.2: QNAME as uncompressed labels, then QTYPE and QCLASS.
fn read_question(bytes: &[u8]) -> Option<Question> {
    let mut pos = HEADER_LEN;
    loop {
        let len = usize::from(*bytes.get(pos)?);
        if len > 63 {
            return None; // compression pointer or reserved label type
        }
        pos += 1 + len;
        if len == 0 {
            break;
        }
    }
    let tail = bytes.get(pos..pos + 4)?;
    Some(Question {
        qname_len: pos - HEADER_LEN,
        qtype: u16::from_be_bytes([tail[0], tail[1]]),
        qclass: u16::from_be_bytes([tail[2], tail[3]]),
    })
}

/// Recognises a plain query.
///
/// RFC 1035 §4.1: header, then QNAME as uncompressed labels, QTYPE, QCLASS;
/// RFC 6891 §6.1.2: an OPT RR with root owner in the additional section.
fn read_plain(req: &[u8], header: &[u8; HEADER_LEN], q: Question) -> Option<PlainQuery> {
    // QR=0, opcode QUERY (0), no TC; QD=1, AN=0, NS=0, AR<=1.
    if header[2] & 0xfa != 0 || header[4..10] != [0, 1, 0, 0, 0, 0] {
        return None;
    }
    let arcount = u16::from_be_bytes([header[10], header[11]]);
    if arcount > 1 || q.qname_len > MAX_NAME {
        return None;
    }
    // Class IN only; AXFR/IXFR/ANY and meta types go the full way.
    if q.qclass != 1 || matches!(q.qtype, 41 | 251 | 252 | 255 | 0) {
        return None;
    }
    let pos = q.end();
    let edns = if arcount == 1 {
        // Root owner (0), TYPE=OPT(41), CLASS=payload, TTL=ext-rcode|version|DO|Z, RDLEN.
        let opt = req.get(pos..pos + 11)?;
        if opt[0] != 0 || opt[1..3] != [0, 41] || opt[6] != 0 {
            return None; // not OPT, or EDNS version > 0 (BADVERS is the full path's)
        }
        let payload = u16::from_be_bytes([opt[3], opt[4]]);
        let dnssec_ok = opt[7] & 0x80 != 0;
        let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
        if req.len() != pos + 11 + rdlen {
            return None;
        }
        // Options the answer depends on (NSID, RFC 5001) go the full way;
        // others (a client cookie, padding) do not change the answer.
        let mut options = req.get(pos + 11..)?;
        while let Some((head, rest)) = options.split_first_chunk::<4>() {
            if u16::from_be_bytes([head[0], head[1]]) == 3 {
                return None;
            }
            let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
            options = rest.get(len..)?;
        }
        if !options.is_empty() {
            return None;
        }
        Some((payload, dnssec_ok))
    } else {
        if req.len() != pos {
            return None;
        }
        None
    };
    Some(PlainQuery {
        qname_len: q.qname_len,
        qtype: q.qtype,
        edns,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The fast path's recogniser before the request was read once, kept
    /// as the oracle the view must agree with.
    fn parse_plain_before(req: &[u8]) -> Option<PlainQuery> {
        let header = req.get(..12)?;
        if header[2] & 0xfa != 0 || header[4..8] != [0, 1, 0, 0] || header[8..10] != [0, 0] {
            return None;
        }
        let arcount = u16::from_be_bytes([header[10], header[11]]);
        if arcount > 1 {
            return None;
        }
        let mut pos = 12;
        let mut k = 6;
        loop {
            let len = usize::from(*req.get(pos)?);
            if len > 63 || k + 1 + len > 6 + 255 {
                return None;
            }
            req.get(pos + 1..pos + 1 + len)?;
            k += 1 + len;
            pos += 1 + len;
            if len == 0 {
                break;
            }
        }
        let qname_len = pos - 12;
        let tail = req.get(pos..pos + 4)?;
        let qtype = u16::from_be_bytes([tail[0], tail[1]]);
        let qclass = u16::from_be_bytes([tail[2], tail[3]]);
        if qclass != 1 || matches!(qtype, 41 | 251 | 252 | 255 | 0) {
            return None;
        }
        pos += 4;
        let edns = if arcount == 1 {
            let opt = req.get(pos..pos + 11)?;
            if opt[0] != 0 || opt[1..3] != [0, 41] || opt[6] != 0 {
                return None;
            }
            let payload = u16::from_be_bytes([opt[3], opt[4]]);
            let dnssec_ok = opt[7] & 0x80 != 0;
            let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
            if req.len() != pos + 11 + rdlen {
                return None;
            }
            let mut options = req.get(pos + 11..)?;
            while let Some((head, rest)) = options.split_first_chunk::<4>() {
                if u16::from_be_bytes([head[0], head[1]]) == 3 {
                    return None;
                }
                let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
                options = rest.get(len..)?;
            }
            if !options.is_empty() {
                return None;
            }
            Some((payload, dnssec_ok))
        } else {
            if req.len() != pos {
                return None;
            }
            None
        };
        Some(PlainQuery {
            qname_len,
            qtype,
            edns,
        })
    }

    fn query(name: &[&str], qtype: u16, nscount: u8) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, nscount, 0, 0];
        for label in name {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    #[test]
    fn a_plain_query_is_read_with_its_question() {
        let bytes = query(&["www", "example", "test"], 1, 0);
        let r = Request::parse(&bytes).unwrap();
        let q = r.question().unwrap();
        assert_eq!((q.qname_len, q.qtype, q.qclass), (18, 1, 1));
        assert_eq!(q.end(), bytes.len());
        assert_eq!(
            r.plain(),
            Some(PlainQuery {
                qname_len: 18,
                qtype: 1,
                edns: None
            })
        );
        assert!(!r.is_transfer());
    }

    #[test]
    fn transfers_are_recognised_by_their_type() {
        let axfr = query(&["example", "test"], 252, 0);
        let r = Request::parse(&axfr).unwrap();
        assert!(r.is_transfer() && !r.is_ixfr_with_soa() && r.plain().is_none());
        let ixfr = query(&["example", "test"], 251, 1);
        assert!(Request::parse(&ixfr).unwrap().is_ixfr_with_soa());
        // Without the client's SOA an IXFR is not the UDP kind.
        let bare = query(&["example", "test"], 251, 0);
        assert!(!Request::parse(&bare).unwrap().is_ixfr_with_soa());
        // A response (QR=1) is no transfer request.
        let mut response = axfr.clone();
        response[2] |= 0x80;
        assert!(!Request::parse(&response).unwrap().is_transfer());
    }

    #[test]
    fn a_compressed_or_cut_question_is_not_read() {
        let mut pointer = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert!(Request::parse(&pointer).unwrap().question().is_none());
        pointer.truncate(12);
        assert!(Request::parse(&pointer).unwrap().question().is_none());
        assert!(Request::parse(&pointer[..11]).is_none());
    }

    proptest! {
        /// The view classifies as the separate scanners did: the fast
        /// path's recogniser exactly, and the transfer check wherever the
        /// question is whole.
        #[test]
        fn the_view_agrees_with_the_scanners_it_replaces(
            bytes in prop::collection::vec(any::<u8>(), 0..80),
            shape in 0usize..4,
            qtype in prop::sample::select(vec![1u16, 28, 41, 251, 252, 255]),
        ) {
            // Mostly well-formed requests, sometimes with random bytes after.
            let mut req = match shape {
                0 => bytes.clone(),
                _ => {
                    let mut q = query(&["a", "bc"], qtype, u8::from(shape == 3));
                    q[2] = bytes.first().copied().unwrap_or(0) & 0x13;
                    if shape == 2 { q.extend_from_slice(&bytes); }
                    q
                }
            };
            if shape == 1 && !bytes.is_empty() {
                req[11] = 1;
                req.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, bytes[0] & 0x80, 0, 0, 0]);
            }
            let view = Request::parse(&req);
            prop_assert_eq!(view.and_then(|v| v.plain()), parse_plain_before(&req));
            if let Some(view) = view {
                if view.is_transfer() {
                    prop_assert!(crate::xfr::is_transfer(&req));
                }
                if crate::xfr::is_transfer(&req) && view.question().is_some() {
                    prop_assert!(view.is_transfer());
                }
            }
        }
    }
}
