//! Wire format: validating a received datagram before trusting a decode, and
//! encoding replies with the option order, size limit and padding clients need.
//!
//! dhcproto decodes the fixed BOOTP header; the options area is walked here,
//! because dhcproto does not check the magic cookie, silently drops every
//! option after a malformed one, and does not read options overloaded into
//! the `file` and `sname` fields (option 52, RFC 2132 §9.3).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use dhcproto::v4::{Message, Opcode};
use dhcproto::{Decodable, Decoder};

mod reply;
pub use reply::{ReplyHeader, encode_reply};

/// RFC 2131 §3: the first four octets of the options field.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Fixed BOOTP header (RFC 951) plus the magic cookie.
const HEADER_LEN: usize = 240;
/// The `sname` header field (64 octets), RFC 2131 §2.
const SNAME: std::ops::Range<usize> = 44..108;
/// The `file` header field (128 octets), RFC 2131 §2.
const FILE: std::ops::Range<usize> = 108..236;
/// Option 52 values (RFC 2132 §9.3): which header fields hold options.
const OVERLOAD_FILE: u8 = 1;
const OVERLOAD_SNAME: u8 = 2;
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
    pub const CABLELABS_CLIENT_CONFIG: u8 = 122;
    pub const VENDOR_IDENTIFYING: u8 = 125;
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
    /// Option 52 is not one octet of 1, 2 or 3, or appears inside the
    /// `file`/`sname` field it would overload (RFC 2132 §9.3).
    BadOverload,
    /// An option in an overloaded `file` or `sname` field runs past the
    /// field (RFC 2131 §4.1: each option lies entirely inside its field).
    BadOverloadedField,
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
            Self::BadOverload => "bad_overload",
            Self::BadOverloadedField => "bad_overloaded_field",
        }
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Truncated => "shorter than the 240-octet BOOTP header and magic cookie",
            Self::NotRequest => "not a BOOTREQUEST (op is not 1)",
            Self::BadHlen => "hlen is larger than the 16-octet chaddr field",
            Self::BadCookie => "the magic cookie is not 99.130.83.99",
            Self::BadOptions => "an option runs past the end of the packet, or there is no End option",
            Self::BadMessageType => "option 53 has a bad length or an unknown message type",
            Self::TooManyHops => "relayed through more hops than dhcp.max_hops allows",
            Self::Header => "the BOOTP header could not be decoded",
            Self::BadOverload => {
                "option 52 (overload) is not one octet of 1, 2 or 3, or appears inside an overloaded field"
            }
            Self::BadOverloadedField => {
                "an option overloaded into the file or sname field runs past that field"
            }
        })
    }
}

/// A validated client message: the decoded header and the raw options.
#[derive(Debug, Clone)]
pub struct Request {
    /// The BOOTP header as decoded by dhcproto (its options are not used).
    pub header: Message,
    /// Option 53, or None for a BOOTP request.
    pub kind: Option<MessageType>,
    /// Every option, by code; repeated codes concatenated (RFC 3396), read
    /// from the options field, then `file`, then `sname` when option 52 says
    /// they hold options (then the header's `file`/`sname` are cleared, so
    /// they are never taken for a boot file or server name).
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
    let mut options = BTreeMap::new();
    walk_options(
        buf.get(HEADER_LEN..).unwrap_or_default(),
        Area::Options,
        &mut options,
    )?;
    // RFC 2132 §9.3 / RFC 2131 §4.1: "The options in the 'options' field MUST
    // be interpreted first, so that any 'option overload' options may be
    // interpreted. The 'file' field MUST be interpreted next (if the 'option
    // overload' option indicates that the 'file' field contains DHCP
    // options), followed by the 'sname' field."
    let overload = match options.get(&code::OVERLOAD).map(Vec::as_slice) {
        None => 0,
        Some(&[v @ 1..=3]) => v,
        Some(_) => return Err(Malformed::BadOverload),
    };
    if overload & OVERLOAD_FILE != 0 {
        walk_options(
            fixed.get(FILE).unwrap_or_default(),
            Area::Field,
            &mut options,
        )?;
    }
    if overload & OVERLOAD_SNAME != 0 {
        walk_options(
            fixed.get(SNAME).unwrap_or_default(),
            Area::Field,
            &mut options,
        )?;
    }
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
    let mut header = Message::decode(&mut Decoder::new(&head)).map_err(|_| Malformed::Header)?;
    if header.opcode() != Opcode::BootRequest {
        return Err(Malformed::NotRequest);
    }
    // An overloaded field holds options, not a boot file or server name.
    if overload & OVERLOAD_FILE != 0 {
        header.clear_fname();
    }
    if overload & OVERLOAD_SNAME != 0 {
        header.clear_sname();
    }
    Ok(Request {
        header,
        kind,
        options,
    })
}

/// Where options are being read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    /// The options field after the cookie: it must end with End.
    Options,
    /// An overloaded `file` or `sname` field.
    Field,
}

/// RFC 2132 §2: options are code, length, value; Pad (0) and End (255) are
/// single octets. In the options field, a length running past the buffer or
/// a missing End makes the whole packet malformed (we do not guess at the
/// rest). An overloaded `file`/`sname` field (RFC 2131 §4.1) has a fixed end,
/// which counts as End if the client left End out (as in ISC dhcpd); an
/// option running past the field, or option 52 inside it, makes the packet
/// malformed.
fn walk_options(
    mut rest: &[u8],
    area: Area,
    out: &mut BTreeMap<u8, Vec<u8>>,
) -> Result<(), Malformed> {
    let overrun = match area {
        Area::Options => Malformed::BadOptions,
        Area::Field => Malformed::BadOverloadedField,
    };
    loop {
        let Some((&code, tail)) = rest.split_first() else {
            return match area {
                Area::Options => Err(Malformed::BadOptions),
                Area::Field => Ok(()),
            };
        };
        match code {
            code::PAD => rest = tail,
            code::END => return Ok(()),
            code::OVERLOAD if area == Area::Field => return Err(Malformed::BadOverload),
            _ => {
                let (&len, tail) = tail.split_first().ok_or(overrun)?;
                let len = usize::from(len);
                let value = tail.get(..len).ok_or(overrun)?;
                // RFC 3396 §7: repeated instances are concatenated, in the
                // order options field, file, sname.
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
    fn relay_sub_option_finds_circuit_and_remote_id() {
        let info = [1, 2, 9, 9, 2, 1, 7];
        assert_eq!(relay_sub_option(&info, 1), Some(&[9, 9][..]));
        assert_eq!(relay_sub_option(&info, 2), Some(&[7][..]));
        assert_eq!(relay_sub_option(&info[..5], 2), None, "truncated");
    }

    /// `packet` with `file` and `sname` filled in and option 52 set to `overload`.
    fn overloaded(overload: u8, file: &[u8], sname: &[u8], extra: &[u8]) -> Vec<u8> {
        let mut opts = vec![code::OVERLOAD, 1, overload];
        opts.extend_from_slice(extra);
        let mut p = packet(1, [2; 6], &opts);
        p[FILE][..file.len()].copy_from_slice(file);
        p[SNAME][..sname.len()].copy_from_slice(sname);
        p
    }

    #[test]
    fn overload_1_reads_options_from_file_and_clears_the_boot_file() {
        let p = overloaded(1, &[12, 3, b'p', b'c', b'1', 255], b"srv", &[]);
        let req = parse(&p, 4).unwrap();
        assert_eq!(req.option(code::HOST_NAME), Some(&b"pc1"[..]));
        assert_eq!(
            req.header.fname(),
            None,
            "file holds options, not a file name"
        );
        assert!(req.header.sname().is_some(), "sname is not overloaded");
    }

    #[test]
    fn overload_2_reads_options_from_sname_only() {
        let p = overloaded(2, b"boot.img", &[60, 2, b'h', b'i', 255], &[]);
        let req = parse(&p, 4).unwrap();
        assert_eq!(req.option(code::VENDOR_CLASS), Some(&b"hi"[..]));
        assert_eq!(req.header.sname(), None);
        assert!(req.header.fname().is_some(), "file is not overloaded");
    }

    #[test]
    fn overload_3_concatenates_options_then_file_then_sname() {
        // RFC 3396 §5: the parts of a split option are joined in the order
        // options field, file, sname.
        let p = overloaded(3, &[43, 2, 3, 4, 255], &[43, 1, 5, 255], &[43, 2, 1, 2]);
        let req = parse(&p, 4).unwrap();
        assert_eq!(req.option(43), Some(&[1, 2, 3, 4, 5][..]));
        assert_eq!((req.header.fname(), req.header.sname()), (None, None));
    }

    #[test]
    fn message_type_may_live_in_the_file_field() {
        let mut p = packet(1, [2; 6], &[]);
        p.truncate(240);
        p.extend_from_slice(&[code::OVERLOAD, 1, 1, 255]);
        p[FILE][..4].copy_from_slice(&[53, 1, 3, 255]);
        assert_eq!(parse(&p, 4).unwrap().kind, Some(MessageType::Request));
    }

    #[test]
    fn without_option_52_file_and_sname_are_names_not_options() {
        let mut p = packet(1, [2; 6], &[]);
        p[FILE][..6].copy_from_slice(&[12, 3, b'p', b'c', b'1', 255]);
        let req = parse(&p, 4).unwrap();
        assert_eq!(req.option(code::HOST_NAME), None);
        assert!(req.header.fname().is_some());
    }

    #[test]
    fn overload_value_other_than_1_2_3_is_refused() {
        for bad in [0u8, 4, 255] {
            let p = overloaded(bad, &[12, 1, b'x', 255], &[], &[]);
            assert_eq!(parse(&p, 4).unwrap_err(), Malformed::BadOverload, "{bad}");
        }
        let mut p = packet(1, [2; 6], &[code::OVERLOAD, 2, 1, 2]);
        p[FILE][0] = 255;
        assert_eq!(
            parse(&p, 4).unwrap_err(),
            Malformed::BadOverload,
            "two octets"
        );
    }

    #[test]
    fn option_52_inside_an_overloaded_field_is_refused() {
        let p = overloaded(3, &[code::OVERLOAD, 1, 3, 255], &[255], &[]);
        assert_eq!(parse(&p, 4).unwrap_err(), Malformed::BadOverload);
    }

    #[test]
    fn option_running_past_an_overloaded_field_is_refused() {
        let mut file = vec![0u8; 128];
        file[120..124].copy_from_slice(&[12, 20, b'a', b'b']);
        let p = overloaded(1, &file, &[], &[]);
        assert_eq!(parse(&p, 4).unwrap_err(), Malformed::BadOverloadedField);
        // A code in the field's last octet has no room for its length.
        let mut sname = vec![0u8; 64];
        sname[63] = 12;
        let p = overloaded(2, &[], &sname, &[]);
        assert_eq!(parse(&p, 4).unwrap_err(), Malformed::BadOverloadedField);
    }

    #[test]
    fn overloaded_field_filled_to_its_last_octet_without_end_is_read() {
        let mut sname = vec![12u8, 62];
        sname.extend_from_slice(&[b'h'; 62]);
        let req = parse(&overloaded(2, &[], &sname, &[]), 4).unwrap();
        assert_eq!(req.option(code::HOST_NAME), Some(&[b'h'; 62][..]));
    }

    #[test]
    fn malformed_reasons_have_names_and_sentences() {
        assert_eq!(Malformed::BadOverload.as_str(), "bad_overload");
        assert!(Malformed::BadOverloadedField.to_string().contains("sname"));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn random_file_and_sname_with_any_overload_never_panic(
                // Small octets often: Pad, short lengths, codes that walk on.
                file in proptest::collection::vec(prop_oneof![0u8..8, any::<u8>()], 128),
                sname in proptest::collection::vec(prop_oneof![0u8..8, any::<u8>()], 64),
                // Mostly a valid value, else any length and content.
                overload in prop_oneof![
                    3 => (1u8..=3).prop_map(|v| vec![v]),
                    1 => proptest::collection::vec(any::<u8>(), 0..4),
                ],
                extra in proptest::collection::vec(any::<u8>(), 0..16),
            ) {
                let mut opts = Vec::new();
                if !overload.is_empty() {
                    opts.push(code::OVERLOAD);
                    opts.push(overload.len() as u8);
                    opts.extend_from_slice(&overload);
                }
                opts.extend_from_slice(&extra);
                let mut p = packet(1, [2; 6], &opts);
                p[FILE].copy_from_slice(&file);
                p[SNAME].copy_from_slice(&sname);
                if let Ok(req) = parse(&p, 4)
                    && let Some(&[o]) = req.options.get(&code::OVERLOAD).map(Vec::as_slice)
                {
                    prop_assert!((1..=3).contains(&o));
                    prop_assert!(o & 1 == 0 || req.header.fname().is_none());
                    prop_assert!(o & 2 == 0 || req.header.sname().is_none());
                }
            }

        }
    }
}
