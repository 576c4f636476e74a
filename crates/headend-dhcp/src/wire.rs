//! Wire format: validating a received datagram before trusting a decode, and
//! encoding replies with the option order, size limit and padding clients need.
//!
//! dhcproto decodes the fixed BOOTP header; the options area is walked here,
//! because dhcproto does not check the magic cookie and silently drops every
//! option after a malformed one.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use dhcproto::v4::{Flags, Message, Opcode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};

/// RFC 2131 §3: the first four octets of the options field.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Fixed BOOTP header (RFC 951) plus the magic cookie.
const HEADER_LEN: usize = 240;
/// RFC 2131 §2: every client can receive a 576-octet IP datagram.
const MIN_MAX_MESSAGE: usize = 576;
/// IP + UDP headers, subtracted from option 57 / 576 to get the DHCP size.
const IP_UDP_HEADERS: usize = 28;
/// RFC 1542 §3.4 / common practice: BOOTP relays and some PXE ROMs drop
/// replies shorter than a BOOTP message (300 octets).
pub const MIN_REPLY_LEN: usize = 300;

/// Option codes used by the server.
pub mod code {
    #![allow(missing_docs)]
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const HOST_NAME: u8 = 12;
    pub const REQUESTED_ADDRESS: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const MESSAGE: u8 = 56;
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const VENDOR_CLASS: u8 = 60;
    pub const CLIENT_ID: u8 = 61;
    pub const TFTP_SERVER_NAME: u8 = 66;
    pub const BOOTFILE_NAME: u8 = 67;
    pub const USER_CLASS: u8 = 77;
    pub const RELAY_AGENT_INFO: u8 = 82;
    pub const CLIENT_ARCH: u8 = 93;
    pub const END: u8 = 255;
}

/// DHCP message types (RFC 2132 §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageType {
    /// 1
    Discover,
    /// 2
    Offer,
    /// 3
    Request,
    /// 4
    Decline,
    /// 5
    Ack,
    /// 6
    Nak,
    /// 7
    Release,
    /// 8
    Inform,
}

impl MessageType {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Discover,
            2 => Self::Offer,
            3 => Self::Request,
            4 => Self::Decline,
            5 => Self::Ack,
            6 => Self::Nak,
            7 => Self::Release,
            8 => Self::Inform,
            _ => return None,
        })
    }

    /// The option 53 value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Discover => 1,
            Self::Offer => 2,
            Self::Request => 3,
            Self::Decline => 4,
            Self::Ack => 5,
            Self::Nak => 6,
            Self::Release => 7,
            Self::Inform => 8,
        }
    }
}

/// Why a datagram was dropped before reaching the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// Shorter than the BOOTP header plus cookie.
    Truncated,
    /// Not a BOOTREQUEST (op = 2 or unknown).
    NotRequest,
    /// hlen larger than the 16-octet chaddr field.
    BadHlen,
    /// The magic cookie is not 99.130.83.99.
    BadCookie,
    /// An option's length runs past the end of the packet, or no End option.
    BadOptions,
    /// Option 53 has a bad length or an unknown value.
    BadMessageType,
    /// More relay hops than allowed.
    TooManyHops,
    /// dhcproto refused the header.
    Header,
}

impl Malformed {
    /// A short name for counters and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::NotRequest => "not_request",
            Self::BadHlen => "bad_hlen",
            Self::BadCookie => "bad_cookie",
            Self::BadOptions => "bad_options",
            Self::BadMessageType => "bad_message_type",
            Self::TooManyHops => "too_many_hops",
            Self::Header => "bad_header",
        }
    }
}

/// A validated client message: the decoded header and the raw options.
#[derive(Debug, Clone)]
pub struct Request {
    /// The BOOTP header as decoded by dhcproto (its options are not used).
    pub header: Message,
    /// Option 53, or None for a BOOTP request.
    pub kind: Option<MessageType>,
    /// Every option, by code; repeated codes concatenated (RFC 3396).
    pub options: BTreeMap<u8, Vec<u8>>,
}

impl Request {
    /// The option's raw value, if present.
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options.get(&code).map(Vec::as_slice)
    }

    /// An option holding one IPv4 address (e.g. 50, 54); None if absent or not 4 octets.
    pub fn option_addr(&self, code: u8) -> Option<Ipv4Addr> {
        let v: [u8; 4] = self.option(code)?.try_into().ok()?;
        Some(Ipv4Addr::from(v))
    }

    /// The hardware address (`hlen` octets of chaddr).
    pub fn hwaddr(&self) -> &[u8] {
        let hlen = usize::from(self.header.hlen()).min(16);
        self.header.chaddr().get(..hlen).unwrap_or_default()
    }

    /// RFC 2131 §4.2: the client is identified by option 61 when present,
    /// else by chaddr (we prefix the hardware type, as option 61 does).
    pub fn client_key(&self) -> Vec<u8> {
        if let Some(id) = self.option(code::CLIENT_ID).filter(|id| !id.is_empty()) {
            return id.to_vec();
        }
        let mut key = vec![u8::from(self.header.htype())];
        key.extend_from_slice(self.hwaddr());
        key
    }

    /// Option 57 (RFC 2132 §9.10), never below 576.
    pub fn max_message_size(&self) -> usize {
        self.option(code::MAX_MESSAGE_SIZE)
            .and_then(|v| <[u8; 2]>::try_from(v).ok())
            .map_or(MIN_MAX_MESSAGE, |v| usize::from(u16::from_be_bytes(v)))
            .max(MIN_MAX_MESSAGE)
    }
}

/// Validates a datagram and decodes it (RFC 2131 §2, §3; RFC 2132 §2, §9.6).
pub fn parse(buf: &[u8], max_hops: u8) -> Result<Request, Malformed> {
    if buf.len() < HEADER_LEN {
        return Err(Malformed::Truncated);
    }
    let fixed = buf.get(..HEADER_LEN).ok_or(Malformed::Truncated)?;
    if fixed.first() != Some(&1) {
        return Err(Malformed::NotRequest);
    }
    if fixed.get(2).copied().unwrap_or(0) > 16 {
        return Err(Malformed::BadHlen);
    }
    // RFC 1542 §4.1.1: relays discard at a hop limit; so do we.
    if fixed.get(3).copied().unwrap_or(0) > max_hops {
        return Err(Malformed::TooManyHops);
    }
    if fixed.get(236..240) != Some(&MAGIC_COOKIE[..]) {
        return Err(Malformed::BadCookie);
    }
    let options = walk_options(buf.get(HEADER_LEN..).unwrap_or_default())?;
    let kind = match options.get(&code::MESSAGE_TYPE) {
        None => None,
        Some(v) => match v.as_slice() {
            [t] => Some(MessageType::from_u8(*t).ok_or(Malformed::BadMessageType)?),
            _ => return Err(Malformed::BadMessageType),
        },
    };
    // Hand dhcproto the header and cookie only, terminated by End, so its
    // option decoder has nothing to misread.
    let mut head = fixed.to_vec();
    head.push(code::END);
    let header = Message::decode(&mut Decoder::new(&head)).map_err(|_| Malformed::Header)?;
    if header.opcode() != Opcode::BootRequest {
        return Err(Malformed::NotRequest);
    }
    Ok(Request {
        header,
        kind,
        options,
    })
}

/// RFC 2132 §2: options are code, length, value; Pad (0) and End (255) are
/// single octets. A length running past the buffer, or a missing End, makes
/// the whole packet malformed (we do not guess at the rest).
fn walk_options(mut rest: &[u8]) -> Result<BTreeMap<u8, Vec<u8>>, Malformed> {
    let mut out: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
    loop {
        let Some((&code, tail)) = rest.split_first() else {
            return Err(Malformed::BadOptions);
        };
        match code {
            code::PAD => rest = tail,
            code::END => return Ok(out),
            _ => {
                let (&len, tail) = tail.split_first().ok_or(Malformed::BadOptions)?;
                let len = usize::from(len);
                let value = tail.get(..len).ok_or(Malformed::BadOptions)?;
                // RFC 3396 §7: repeated instances are concatenated.
                out.entry(code).or_default().extend_from_slice(value);
                rest = tail.get(len..).unwrap_or_default();
            }
        }
    }
}

/// RFC 3046 §2.0: sub-options of option 82 (1 = circuit-id, 2 = remote-id).
pub fn relay_sub_option(info: &[u8], wanted: u8) -> Option<&[u8]> {
    let mut rest = info;
    while let [sub, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let value = tail.get(..len)?;
        if *sub == wanted {
            return Some(value);
        }
        rest = tail.get(len..)?;
    }
    None
}

/// The fields of a reply other than its options.
#[derive(Debug, Clone)]
pub struct ReplyHeader {
    /// The address given to the client (0 for NAK and INFORM).
    pub yiaddr: Ipv4Addr,
    /// `siaddr`: the next server (TFTP) in the boot process.
    pub siaddr: Ipv4Addr,
    /// `sname`: server host name (at most 63 octets).
    pub sname: Option<String>,
    /// `file`: boot file name (at most 127 octets).
    pub file: Option<String>,
    /// `ciaddr` copied from the request (INFORM, renewals).
    pub ciaddr: Ipv4Addr,
}

/// Encodes a reply to `req` (RFC 2131 §4.3.1 table 3): xid, flags, giaddr and
/// chaddr copied; options in `ordered` order, each split into 255-octet chunks
/// (RFC 3396), dropped from the end when over the client's size limit;
/// option 82 echoed last (RFC 3046 §2.2); padded to at least 300 octets.
pub fn encode_reply(
    req: &Request,
    head: &ReplyHeader,
    ordered: &[(u8, Vec<u8>)],
    relay_info: Option<&[u8]>,
) -> Vec<u8> {
    let mut msg = Message::default();
    msg.set_opcode(Opcode::BootReply)
        .set_htype(req.header.htype())
        .set_xid(req.header.xid())
        .set_flags(Flags::from(u16::from(req.header.flags())))
        .set_ciaddr(head.ciaddr)
        .set_yiaddr(head.yiaddr)
        .set_siaddr(head.siaddr)
        .set_giaddr(req.header.giaddr());
    // set_chaddr also sets hlen to the slice's length: the client's hlen.
    msg.set_chaddr(req.hwaddr());
    if let Some(s) = &head.sname {
        msg.set_sname(truncate(s.as_bytes(), 63));
    }
    if let Some(f) = &head.file {
        msg.set_fname(truncate(f.as_bytes(), 127));
    }
    let mut out = Vec::with_capacity(MIN_MAX_MESSAGE);
    // Encoding a header with no options writes the header and cookie only.
    if msg.encode(&mut Encoder::new(&mut out)).is_err() || out.len() != HEADER_LEN {
        out.clear();
        out.resize(HEADER_LEN, 0);
    }
    let limit = req.max_message_size().saturating_sub(IP_UDP_HEADERS);
    let tail_len = relay_info.map_or(0, |r| encoded_len(r.len())) + 1;
    for (code, value) in ordered {
        let need = encoded_len(value.len());
        if out.len() + need + tail_len > limit {
            continue;
        }
        push_option(&mut out, *code, value);
    }
    if let Some(info) = relay_info {
        push_option(&mut out, code::RELAY_AGENT_INFO, info);
    }
    out.push(code::END);
    if out.len() < MIN_REPLY_LEN {
        out.resize(MIN_REPLY_LEN, code::PAD);
    }
    out
}

fn truncate(b: &[u8], max: usize) -> &[u8] {
    b.get(..max).unwrap_or(b)
}

fn encoded_len(len: usize) -> usize {
    if len == 0 {
        return 2;
    }
    len + 2 * len.div_ceil(255)
}

fn push_option(out: &mut Vec<u8>, code: u8, value: &[u8]) {
    if value.is_empty() {
        out.extend_from_slice(&[code, 0]);
        return;
    }
    for chunk in value.chunks(255) {
        out.push(code);
        out.push(u8::try_from(chunk.len()).unwrap_or(255));
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A client message with the given options (already TLV-encoded, no End).
    pub(crate) fn packet(kind: u8, mac: [u8; 6], extra: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        p[28..34].copy_from_slice(&mac);
        p[236..240].copy_from_slice(&MAGIC_COOKIE);
        p.extend_from_slice(&[53, 1, kind]);
        p.extend_from_slice(extra);
        p.push(255);
        p
    }

    #[test]
    fn valid_discover_parses_with_type_and_client_key() {
        let req = parse(&packet(1, [2, 0, 0, 0, 0, 1], &[]), 4).unwrap();
        assert_eq!(req.kind, Some(MessageType::Discover));
        assert_eq!(req.client_key(), vec![1, 2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn client_id_option_is_the_identity_when_present() {
        let req = parse(&packet(1, [2, 0, 0, 0, 0, 1], &[61, 3, 0xff, 1, 2]), 4).unwrap();
        assert_eq!(req.client_key(), vec![0xff, 1, 2]);
    }

    #[test]
    fn bad_cookie_is_refused() {
        let mut p = packet(1, [2; 6], &[]);
        p[236] = 0;
        assert_eq!(parse(&p, 4).unwrap_err(), Malformed::BadCookie);
    }

    #[test]
    fn option_running_past_the_end_is_refused() {
        let mut p = packet(1, [2; 6], &[]);
        p.pop();
        p.extend_from_slice(&[12, 40, b'a']);
        assert_eq!(parse(&p, 4).unwrap_err(), Malformed::BadOptions);
    }

    #[test]
    fn missing_end_option_is_refused() {
        let mut p = packet(1, [2; 6], &[]);
        p.pop();
        assert_eq!(parse(&p, 4).unwrap_err(), Malformed::BadOptions);
    }

    #[test]
    fn short_packet_is_truncated() {
        assert_eq!(parse(&[1; 100], 4).unwrap_err(), Malformed::Truncated);
    }

    #[test]
    fn hops_over_the_limit_are_refused() {
        let mut p = packet(1, [2; 6], &[]);
        p[3] = 5;
        assert_eq!(parse(&p, 4).unwrap_err(), Malformed::TooManyHops);
    }

    #[test]
    fn unknown_or_long_message_type_is_refused() {
        assert_eq!(
            parse(&packet(99, [2; 6], &[]), 4).unwrap_err(),
            Malformed::BadMessageType
        );
        let mut p = packet(1, [2; 6], &[]);
        p[241] = 2;
        p.insert(243, 1);
        assert_eq!(parse(&p, 4).unwrap_err(), Malformed::BadMessageType);
    }

    #[test]
    fn no_message_type_is_bootp() {
        let mut p = packet(1, [2; 6], &[]);
        p.truncate(240);
        p.push(255);
        assert_eq!(parse(&p, 4).unwrap().kind, None);
    }

    #[test]
    fn reply_request_is_not_accepted() {
        let mut p = packet(1, [2; 6], &[]);
        p[0] = 2;
        assert_eq!(parse(&p, 4).unwrap_err(), Malformed::NotRequest);
    }

    #[test]
    fn repeated_options_are_concatenated() {
        let req = parse(&packet(1, [2; 6], &[43, 2, 1, 2, 43, 1, 3]), 4).unwrap();
        assert_eq!(req.option(43), Some(&[1, 2, 3][..]));
    }

    #[test]
    fn every_truncation_of_a_valid_packet_is_handled_without_panic() {
        let p = packet(
            3,
            [2; 6],
            &[
                50, 4, 10, 0, 0, 1, 55, 3, 1, 3, 6, 82, 6, 1, 4, b'e', b't', b'h', b'0',
            ],
        );
        for n in 0..p.len() {
            let _ = parse(&p[..n], 4);
        }
        for i in 240..p.len() {
            let mut q = p.clone();
            q[i] = 0xff - q[i];
            let _ = parse(&q, 4);
        }
    }

    #[test]
    fn reply_is_padded_and_echoes_option_82_last() {
        let req = parse(&packet(1, [2, 0, 0, 0, 0, 1], &[]), 4).unwrap();
        let head = ReplyHeader {
            yiaddr: Ipv4Addr::new(10, 0, 0, 5),
            siaddr: Ipv4Addr::UNSPECIFIED,
            sname: None,
            file: Some("pxelinux.0".into()),
            ciaddr: Ipv4Addr::UNSPECIFIED,
        };
        let info = [1u8, 4, b'e', b't', b'h', b'0'];
        let out = encode_reply(
            &req,
            &head,
            &[(53, vec![2]), (3, vec![10, 0, 0, 1])],
            Some(&info),
        );
        assert!(out.len() >= MIN_REPLY_LEN);
        assert_eq!(out[0], 2);
        assert_eq!(&out[28..34], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(&out[108..118], b"pxelinux.0");
        let opts = &out[240..];
        assert_eq!(&opts[..9], &[53, 1, 2, 3, 4, 10, 0, 0, 1]);
        assert_eq!(&opts[9..17], &[82, 6, 1, 4, b'e', b't', b'h', b'0']);
        assert_eq!(opts[17], 255);
    }

    #[test]
    fn reply_drops_options_that_exceed_the_size_limit() {
        let req = parse(&packet(1, [2; 6], &[]), 4).unwrap();
        let head = ReplyHeader {
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            sname: None,
            file: None,
            ciaddr: Ipv4Addr::UNSPECIFIED,
        };
        let big = vec![b'x'; 200];
        let opts = vec![
            (53, vec![2]),
            (15, big.clone()),
            (17, big.clone()),
            (18, big),
        ];
        let out = encode_reply(&req, &head, &opts, None);
        assert!(out.len() <= 576 - 28, "{}", out.len());
        assert_eq!(relay_sub_option(&[1, 2, 9, 9, 2, 1, 7], 2), Some(&[7][..]));
    }
}
