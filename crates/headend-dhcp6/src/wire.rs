//! The DHCPv6 wire format (RFC 8415 §8, §9, §21), sans-I/O.
//!
//! [`parse`] validates a datagram received on port 547 and unwraps any
//! RELAY-FORW nesting (§9: each relay adds a hop; the innermost message is
//! the client's); every length is checked before it is used, so a
//! malformed datagram is a [`Malformed`] reason, never a panic.
//! [`Reply::encode`] writes the answer and wraps it back in RELAY-REPL
//! messages, innermost first, copying each relay's interface-id (§19.3).

use std::net::Ipv6Addr;

/// Message types (RFC 8415 §7.3).
pub mod msg {
    /// SOLICIT.
    pub const SOLICIT: u8 = 1;
    /// ADVERTISE.
    pub const ADVERTISE: u8 = 2;
    /// REQUEST.
    pub const REQUEST: u8 = 3;
    /// CONFIRM.
    pub const CONFIRM: u8 = 4;
    /// RENEW.
    pub const RENEW: u8 = 5;
    /// REBIND.
    pub const REBIND: u8 = 6;
    /// REPLY.
    pub const REPLY: u8 = 7;
    /// RELEASE.
    pub const RELEASE: u8 = 8;
    /// DECLINE.
    pub const DECLINE: u8 = 9;
    /// INFORMATION-REQUEST.
    pub const INFORMATION_REQUEST: u8 = 11;
    /// RELAY-FORW.
    pub const RELAY_FORW: u8 = 12;
    /// RELAY-REPL.
    pub const RELAY_REPL: u8 = 13;
}

/// Option codes (RFC 8415 §21 and the RFCs named).
pub mod opt {
    /// Client identifier (DUID).
    pub const CLIENTID: u16 = 1;
    /// Server identifier (DUID).
    pub const SERVERID: u16 = 2;
    /// Identity association for non-temporary addresses.
    pub const IA_NA: u16 = 3;
    /// Identity association for temporary addresses (not served).
    pub const IA_TA: u16 = 4;
    /// An address inside IA_NA.
    pub const IAADDR: u16 = 5;
    /// Option request option.
    pub const ORO: u16 = 6;
    /// Server preference.
    pub const PREFERENCE: u16 = 7;
    /// Elapsed time.
    pub const ELAPSED_TIME: u16 = 8;
    /// The relayed message inside RELAY-FORW/RELAY-REPL.
    pub const RELAY_MSG: u16 = 9;
    /// Server unicast.
    pub const UNICAST: u16 = 12;
    /// Status code.
    pub const STATUS_CODE: u16 = 13;
    /// Rapid commit.
    pub const RAPID_COMMIT: u16 = 14;
    /// User class.
    pub const USER_CLASS: u16 = 15;
    /// Vendor class.
    pub const VENDOR_CLASS: u16 = 16;
    /// Vendor-specific information.
    pub const VENDOR_OPTS: u16 = 17;
    /// Relay's interface-id.
    pub const INTERFACE_ID: u16 = 18;
    /// DNS recursive name servers (RFC 3646).
    pub const DNS_SERVERS: u16 = 23;
    /// Domain search list (RFC 3646).
    pub const DOMAIN_LIST: u16 = 24;
    /// Identity association for prefix delegation.
    pub const IA_PD: u16 = 25;
    /// A prefix inside IA_PD.
    pub const IAPREFIX: u16 = 26;
    /// SNTP servers (RFC 4075).
    pub const SNTP_SERVERS: u16 = 31;
    /// Information refresh time.
    pub const INFORMATION_REFRESH_TIME: u16 = 32;
    /// Relay agent remote-id (RFC 4649).
    pub const REMOTE_ID: u16 = 37;
    /// Client FQDN (RFC 4704).
    pub const CLIENT_FQDN: u16 = 39;
    /// NTP server (RFC 5908).
    pub const NTP_SERVER: u16 = 56;
    /// Boot file URL (RFC 5970).
    pub const BOOTFILE_URL: u16 = 59;
    /// Client system architecture (RFC 5970).
    pub const CLIENT_ARCH: u16 = 61;
    /// Client link-layer address (RFC 6939).
    pub const CLIENT_LINKLAYER_ADDR: u16 = 79;
}

/// Status codes (RFC 8415 §21.13).
pub mod status {
    /// Success.
    pub const SUCCESS: u16 = 0;
    /// Unspecified failure.
    pub const UNSPEC_FAIL: u16 = 1;
    /// No addresses available.
    pub const NO_ADDRS_AVAIL: u16 = 2;
    /// No binding for the IA.
    pub const NO_BINDING: u16 = 3;
    /// The addresses are not on the client's link.
    pub const NOT_ON_LINK: u16 = 4;
    /// Use multicast.
    pub const USE_MULTICAST: u16 = 5;
    /// No prefixes available.
    pub const NO_PREFIX_AVAIL: u16 = 6;
}

/// Relays nested deeper than this are refused (RFC 8415 §7.6 HOP_COUNT_LIMIT).
pub const HOP_COUNT_LIMIT: u8 = 8;

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// Shorter than a message header.
    Short,
    /// An option's length runs past the end of its container.
    OptionOverrun,
    /// A message type a server does not accept (ADVERTISE, REPLY, ...).
    NotForServer,
    /// RELAY-FORW without a relay-message option.
    NoRelayMessage,
    /// More relay hops than allowed.
    TooManyHops,
    /// An IA_NA/IA_PD/IAADDR/IAPREFIX/status with a wrong length.
    BadIa,
}

impl Malformed {
    /// A short name for logs and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Short => "short",
            Self::OptionOverrun => "option_overrun",
            Self::NotForServer => "not_for_server",
            Self::NoRelayMessage => "no_relay_message",
            Self::TooManyHops => "too_many_hops",
            Self::BadIa => "bad_ia",
        }
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A list of options in wire order (code, data); codes may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options(pub Vec<(u16, Vec<u8>)>);

impl Options {
    /// Decodes a run of options filling all of `buf`.
    pub fn parse(mut buf: &[u8]) -> Result<Self, Malformed> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let (Some(code), Some(len)) = (be16(buf, 0), be16(buf, 2)) else {
                return Err(Malformed::OptionOverrun);
            };
            let end = 4 + usize::from(len);
            let data = buf.get(4..end).ok_or(Malformed::OptionOverrun)?;
            out.push((code, data.to_vec()));
            buf = buf.get(end..).unwrap_or_default();
        }
        Ok(Self(out))
    }

    /// The first option with `code`.
    pub fn get(&self, code: u16) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d.as_slice())
    }

    /// Every option with `code`, in order.
    pub fn all(&self, code: u16) -> impl Iterator<Item = &[u8]> {
        self.0
            .iter()
            .filter(move |(c, _)| *c == code)
            .map(|(_, d)| d.as_slice())
    }

    /// True if an option `code` is present.
    pub fn has(&self, code: u16) -> bool {
        self.0.iter().any(|(c, _)| *c == code)
    }

    /// Appends an option.
    pub fn push(&mut self, code: u16, data: Vec<u8>) {
        self.0.push((code, data));
    }

    /// Writes every option to `out`; an option over 65,535 bytes is cut.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for (code, data) in &self.0 {
            put_option(out, *code, data);
        }
    }

    /// The codes listed in the option request option (6), in order.
    pub fn requested(&self) -> Vec<u16> {
        self.get(opt::ORO)
            .map(|d| {
                d.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Writes one option (code, length, data).
pub fn put_option(out: &mut Vec<u8>, code: u16, data: &[u8]) {
    let data = data.get(..usize::from(u16::MAX)).unwrap_or(data);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn addr_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

/// A client/server message (RFC 8415 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message type ([`msg`]).
    pub kind: u8,
    /// The transaction id.
    pub xid: [u8; 3],
    /// Its options.
    pub options: Options,
}

impl Message {
    /// Decodes a client/server message.
    pub fn parse(buf: &[u8]) -> Result<Self, Malformed> {
        let (&kind, rest) = buf.split_first().ok_or(Malformed::Short)?;
        let xid: [u8; 3] = rest
            .get(..3)
            .and_then(|x| x.try_into().ok())
            .ok_or(Malformed::Short)?;
        let options = Options::parse(rest.get(3..).unwrap_or_default())?;
        Ok(Self { kind, xid, options })
    }

    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(self.kind);
        out.extend_from_slice(&self.xid);
        self.options.encode(&mut out);
        out
    }
}

/// One relay hop (RFC 8415 §9.1), its relay-message option taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// The relay's hop count.
    pub hop_count: u8,
    /// The link the client is on (may be unspecified, §9.1).
    pub link_address: Ipv6Addr,
    /// The address the relay received the message from.
    pub peer_address: Ipv6Addr,
    /// The relay's other options (interface-id, remote-id, 79, ...).
    pub options: Options,
}

/// A request as received: the relays it came through (outermost first)
/// and the client's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// RELAY-FORW hops, outermost (the one that sent it to us) first.
    pub relays: Vec<Relay>,
    /// The client's message.
    pub message: Message,
}

impl Request {
    /// The relay nearest the client, if relayed.
    pub fn innermost(&self) -> Option<&Relay> {
        self.relays.last()
    }
}

/// Validates and decodes a datagram sent to a server: a client message of a
/// type servers accept, or RELAY-FORW nesting (at most `max_hops` deep)
/// around one.
pub fn parse(buf: &[u8], max_hops: u8) -> Result<Request, Malformed> {
    let mut relays = Vec::new();
    let message = unwrap(buf, max_hops.min(HOP_COUNT_LIMIT), &mut relays)?;
    Ok(Request { relays, message })
}

/// One level of [`parse`]: the client message, or a RELAY-FORW whose hop is
/// appended to `relays` before its inner message is read (recursion bounded
/// by `hops_left`).
fn unwrap(buf: &[u8], hops_left: u8, relays: &mut Vec<Relay>) -> Result<Message, Malformed> {
    let &kind = buf.first().ok_or(Malformed::Short)?;
    if kind != msg::RELAY_FORW {
        let message = Message::parse(buf)?;
        return if matches!(
            message.kind,
            msg::SOLICIT
                | msg::REQUEST
                | msg::CONFIRM
                | msg::RENEW
                | msg::REBIND
                | msg::RELEASE
                | msg::DECLINE
                | msg::INFORMATION_REQUEST
        ) {
            Ok(message)
        } else {
            Err(Malformed::NotForServer)
        };
    }
    if hops_left == 0 {
        return Err(Malformed::TooManyHops);
    }
    let (Some(&hop_count), Some(link_address), Some(peer_address)) =
        (buf.get(1), addr_at(buf, 2), addr_at(buf, 18))
    else {
        return Err(Malformed::Short);
    };
    let mut options = Options::parse(buf.get(34..).unwrap_or_default())?;
    let pos = options
        .0
        .iter()
        .position(|(c, _)| *c == opt::RELAY_MSG)
        .ok_or(Malformed::NoRelayMessage)?;
    let (_, inner) = options.0.remove(pos);
    relays.push(Relay {
        hop_count,
        link_address,
        peer_address,
        options,
    });
    unwrap(&inner, hops_left - 1, relays)
}

/// Which kind of identity association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IaKind {
    /// IA_NA (option 3): addresses.
    Na,
    /// IA_PD (option 25): delegated prefixes.
    Pd,
}

impl IaKind {
    /// The option code.
    pub fn code(self) -> u16 {
        match self {
            Self::Na => opt::IA_NA,
            Self::Pd => opt::IA_PD,
        }
    }
}

/// An address (IAADDR) or prefix (IAPREFIX) inside an IA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IaEntry {
    /// The address or the prefix.
    pub address: Ipv6Addr,
    /// 128 for an address; the prefix length for a prefix.
    pub prefix_len: u8,
    /// Preferred lifetime, seconds.
    pub preferred: u32,
    /// Valid lifetime, seconds.
    pub valid: u32,
}

/// An identity association (IA_NA or IA_PD, RFC 8415 §21.4, §21.21).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ia {
    /// NA or PD.
    pub kind: IaKind,
    /// The client's IAID.
    pub iaid: u32,
    /// Renewal time T1, seconds.
    pub t1: u32,
    /// Rebinding time T2, seconds.
    pub t2: u32,
    /// Its addresses or prefixes.
    pub entries: Vec<IaEntry>,
    /// A status code inside the IA, when answering.
    pub status: Option<(u16, String)>,
}

impl Ia {
    /// Decodes an IA_NA or IA_PD option's data.
    pub fn parse(kind: IaKind, data: &[u8]) -> Result<Self, Malformed> {
        let (Some(iaid), Some(t1), Some(t2)) = (be32(data, 0), be32(data, 4), be32(data, 8)) else {
            return Err(Malformed::BadIa);
        };
        let inner = Options::parse(data.get(12..).unwrap_or_default())?;
        let mut entries = Vec::new();
        let mut status = None;
        for (code, d) in &inner.0 {
            match (kind, *code) {
                (_, opt::STATUS_CODE) => status = parse_status(d),
                (IaKind::Na, opt::IAADDR) => {
                    let (Some(address), Some(preferred), Some(valid)) =
                        (addr_at(d, 0), be32(d, 16), be32(d, 20))
                    else {
                        return Err(Malformed::BadIa);
                    };
                    entries.push(IaEntry {
                        address,
                        prefix_len: 128,
                        preferred,
                        valid,
                    });
                }
                (IaKind::Pd, opt::IAPREFIX) => {
                    let (Some(preferred), Some(valid), Some(&plen), Some(address)) =
                        (be32(d, 0), be32(d, 4), d.get(8), addr_at(d, 9))
                    else {
                        return Err(Malformed::BadIa);
                    };
                    if plen > 128 {
                        return Err(Malformed::BadIa);
                    }
                    entries.push(IaEntry {
                        address,
                        prefix_len: plen,
                        preferred,
                        valid,
                    });
                }
                _ => {}
            }
        }
        Ok(Self {
            kind,
            iaid,
            t1,
            t2,
            entries,
            status,
        })
    }

    /// Encodes the IA as one option (IA_NA or IA_PD) onto `out`.
    pub fn encode_into(&self, out: &mut Options) {
        let mut d = Vec::with_capacity(12 + 29 * self.entries.len());
        d.extend_from_slice(&self.iaid.to_be_bytes());
        d.extend_from_slice(&self.t1.to_be_bytes());
        d.extend_from_slice(&self.t2.to_be_bytes());
        for e in &self.entries {
            let mut x = Vec::with_capacity(25);
            match self.kind {
                IaKind::Na => {
                    x.extend_from_slice(&e.address.octets());
                    x.extend_from_slice(&e.preferred.to_be_bytes());
                    x.extend_from_slice(&e.valid.to_be_bytes());
                    put_option(&mut d, opt::IAADDR, &x);
                }
                IaKind::Pd => {
                    x.extend_from_slice(&e.preferred.to_be_bytes());
                    x.extend_from_slice(&e.valid.to_be_bytes());
                    x.push(e.prefix_len);
                    x.extend_from_slice(&e.address.octets());
                    put_option(&mut d, opt::IAPREFIX, &x);
                }
            }
        }
        if let Some((code, text)) = &self.status {
            put_option(&mut d, opt::STATUS_CODE, &status_data(*code, text));
        }
        out.push(self.kind.code(), d);
    }
}

/// Every IA_NA and IA_PD of `options`, in order (IA_TA is not served).
pub fn ias(options: &Options) -> Result<Vec<Ia>, Malformed> {
    let mut out = Vec::new();
    for (code, d) in &options.0 {
        match *code {
            opt::IA_NA => out.push(Ia::parse(IaKind::Na, d)?),
            opt::IA_PD => out.push(Ia::parse(IaKind::Pd, d)?),
            _ => {}
        }
    }
    Ok(out)
}

/// A status code option's data.
pub fn status_data(code: u16, text: &str) -> Vec<u8> {
    let mut d = code.to_be_bytes().to_vec();
    d.extend_from_slice(text.as_bytes());
    d
}

/// Decodes a status code option's data: the code and its message.
pub fn parse_status(data: &[u8]) -> Option<(u16, String)> {
    let code = be16(data, 0)?;
    Some((
        code,
        String::from_utf8_lossy(data.get(2..).unwrap_or_default()).into_owned(),
    ))
}

/// Wraps `inner` (a reply to the client) in RELAY-REPL messages for the
/// `relays` of its request (outermost first), copying each hop's
/// interface-id (RFC 8415 §19.3).
pub fn wrap_reply(relays: &[Relay], inner: Vec<u8>) -> Vec<u8> {
    let mut cur = inner;
    for r in relays.iter().rev() {
        let mut out = Vec::with_capacity(cur.len() + 64);
        out.push(msg::RELAY_REPL);
        out.push(r.hop_count);
        out.extend_from_slice(&r.link_address.octets());
        out.extend_from_slice(&r.peer_address.octets());
        if let Some(id) = r.options.get(opt::INTERFACE_ID) {
            put_option(&mut out, opt::INTERFACE_ID, id);
        }
        put_option(&mut out, opt::RELAY_MSG, &cur);
        cur = out;
    }
    cur
}

/// Encodes a domain name list (RFC 1035 §3.1 labels, uncompressed), for
/// option 24; names are checked when the configuration is compiled.
pub fn encode_names(names: &[String]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for n in names {
        let n = n.trim_end_matches('.');
        if !n.is_empty() {
            for label in n.split('.') {
                let len = u8::try_from(label.len())
                    .ok()
                    .filter(|l| (1..=63).contains(l))?;
                out.push(len);
                out.extend_from_slice(label.as_bytes());
            }
        }
        out.push(0);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solicit() -> Vec<u8> {
        let mut m = Message {
            kind: msg::SOLICIT,
            xid: [1, 2, 3],
            options: Options::default(),
        };
        m.options
            .push(opt::CLIENTID, vec![0, 3, 0, 1, 2, 0, 0, 0, 0, 1]);
        Ia {
            kind: IaKind::Na,
            iaid: 7,
            t1: 0,
            t2: 0,
            entries: vec![],
            status: None,
        }
        .encode_into(&mut m.options);
        m.encode()
    }

    fn relay_forw(inner: &[u8], hop: u8, iface: &[u8]) -> Vec<u8> {
        let mut out = vec![msg::RELAY_FORW, hop];
        out.extend_from_slice(&"2001:db8:1::1".parse::<Ipv6Addr>().unwrap().octets());
        out.extend_from_slice(&"fe80::2".parse::<Ipv6Addr>().unwrap().octets());
        put_option(&mut out, opt::INTERFACE_ID, iface);
        put_option(&mut out, opt::RELAY_MSG, inner);
        out
    }

    #[test]
    fn client_message_round_trips() {
        let b = solicit();
        let r = parse(&b, 8).unwrap();
        assert!(r.relays.is_empty());
        assert_eq!(r.message.kind, msg::SOLICIT);
        assert_eq!(r.message.xid, [1, 2, 3]);
        assert_eq!(r.message.encode(), b);
        let ias = ias(&r.message.options).unwrap();
        assert_eq!(ias.len(), 1);
        assert_eq!(ias[0].iaid, 7);
    }

    #[test]
    fn two_relay_hops_unwrap_outermost_first_and_wrap_back() {
        let inner = solicit();
        let one = relay_forw(&inner, 0, b"eth0");
        let two = relay_forw(&one, 1, b"up");
        let r = parse(&two, 8).unwrap();
        assert_eq!(r.relays.len(), 2);
        assert_eq!(r.relays[0].hop_count, 1);
        assert_eq!(
            r.relays[1].options.get(opt::INTERFACE_ID),
            Some(&b"eth0"[..])
        );
        let wrapped = wrap_reply(&r.relays, vec![msg::REPLY, 1, 2, 3]);
        // The reply's nesting mirrors the request's, interface-ids echoed.
        let outer = Options::parse(&wrapped[34..]).unwrap();
        assert_eq!(wrapped[0], msg::RELAY_REPL);
        assert_eq!(outer.get(opt::INTERFACE_ID), Some(&b"up"[..]));
        let mid = outer.get(opt::RELAY_MSG).unwrap();
        let mid_opts = Options::parse(&mid[34..]).unwrap();
        assert_eq!(mid_opts.get(opt::INTERFACE_ID), Some(&b"eth0"[..]));
        assert_eq!(
            mid_opts.get(opt::RELAY_MSG),
            Some(&[msg::REPLY, 1, 2, 3][..])
        );
    }

    #[test]
    fn too_deep_nesting_is_refused() {
        let mut b = solicit();
        for i in 0..9 {
            b = relay_forw(&b, i, b"x");
        }
        assert_eq!(parse(&b, 8), Err(Malformed::TooManyHops));
        assert_eq!(
            parse(&relay_forw(&solicit(), 0, b"x"), 0),
            Err(Malformed::TooManyHops)
        );
    }

    #[test]
    fn option_overrun_and_short_headers_are_reasons_not_panics() {
        let mut b = solicit();
        b.truncate(b.len() - 1);
        assert_eq!(parse(&b, 8), Err(Malformed::OptionOverrun));
        assert_eq!(parse(&[1, 2], 8), Err(Malformed::Short));
        assert_eq!(parse(&[], 8), Err(Malformed::Short));
        assert_eq!(parse(&[msg::RELAY_FORW, 0, 1], 8), Err(Malformed::Short));
        let mut no_msg = vec![msg::RELAY_FORW, 0];
        no_msg.extend_from_slice(&[0; 32]);
        assert_eq!(parse(&no_msg, 8), Err(Malformed::NoRelayMessage));
    }

    #[test]
    fn server_messages_are_not_accepted() {
        for kind in [msg::ADVERTISE, msg::REPLY, msg::RELAY_REPL, 10, 200] {
            assert_eq!(
                parse(&[kind, 0, 0, 0], 8),
                Err(Malformed::NotForServer),
                "{kind}"
            );
        }
    }

    #[test]
    fn ia_pd_round_trips_with_prefix_and_status() {
        let ia = Ia {
            kind: IaKind::Pd,
            iaid: 9,
            t1: 100,
            t2: 160,
            entries: vec![IaEntry {
                address: "2001:db8:100::".parse().unwrap(),
                prefix_len: 56,
                preferred: 200,
                valid: 300,
            }],
            status: Some((status::SUCCESS, "ok".into())),
        };
        let mut o = Options::default();
        ia.encode_into(&mut o);
        let back = ias(&o).unwrap();
        assert_eq!(back[0].entries, ia.entries);
        assert_eq!((back[0].t1, back[0].t2), (100, 160));
    }

    #[test]
    fn short_ia_address_is_bad_ia() {
        let mut d = vec![0u8; 12];
        put_option(&mut d, opt::IAADDR, &[0u8; 10]);
        assert_eq!(Ia::parse(IaKind::Na, &d), Err(Malformed::BadIa));
        assert_eq!(Ia::parse(IaKind::Na, &[0u8; 11]), Err(Malformed::BadIa));
    }

    #[test]
    fn domain_list_is_uncompressed_labels() {
        assert_eq!(
            encode_names(&["a.example".into(), "b.".into()]).unwrap(),
            b"\x01a\x07example\x00\x01b\x00".to_vec()
        );
        assert!(encode_names(&["a..b".into()]).is_none());
    }
}
