//! Encoding replies: header fields copied from the request, options in the
//! caller's order within the client's size limit, overloaded into `file` and
//! `sname` when they do not fit (RFC 2132 §9.3), option 82 last.

use std::net::Ipv4Addr;

use dhcproto::v4::{Flags, Message, Opcode};
use dhcproto::{Encodable, Encoder};

use super::{
    FILE, HEADER_LEN, IP_UDP_HEADERS, MIN_MAX_MESSAGE, MIN_REPLY_LEN, OVERLOAD_FILE,
    OVERLOAD_SNAME, Request, SNAME, code,
};

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
/// (RFC 3396); option 82 echoed last (RFC 3046 §2.2); padded to at least 300
/// octets. Options that do not fit the client's size limit (option 57, else
/// 576) go into the `file` and then the `sname` field with option 52 (RFC
/// 2132 §9.3), but only into a field the reply does not use for a boot file
/// or server name, and never for BOOTP clients; what still does not fit is
/// left out.
pub fn encode_reply(
    req: &Request,
    head: &ReplyHeader,
    ordered: &[(u8, Vec<u8>)],
    relay_info: Option<&[u8]>,
) -> Vec<u8> {
    let limit = req.max_message_size().saturating_sub(IP_UDP_HEADERS);
    let tail_len = relay_info.map_or(0, |r| encoded_len(r.len())) + 1;
    let room = limit.saturating_sub(HEADER_LEN + tail_len);
    let mut layout = Layout::place(ordered, room, [0, 0]);
    let free = |f: &Option<String>| f.as_deref().is_none_or(str::is_empty);
    if layout.dropped > 0 && req.kind.is_some() {
        // Each field keeps one octet for its End option; option 52 itself
        // takes three octets of the options field.
        let room_in = |name: &Option<String>, len: usize| if free(name) { len - 1 } else { 0 };
        let fields = [
            room_in(&head.file, FILE.len()),
            room_in(&head.sname, SNAME.len()),
        ];
        let overloaded = Layout::place(ordered, room.saturating_sub(3), fields);
        if overloaded.dropped < layout.dropped {
            layout = overloaded;
        }
    }
    let overload = layout.overload();

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
    if let Some(s) = &head.sname
        && overload & OVERLOAD_SNAME == 0
    {
        msg.set_sname(truncate(s.as_bytes(), 63));
    }
    if let Some(f) = &head.file
        && overload & OVERLOAD_FILE == 0
    {
        msg.set_fname(truncate(f.as_bytes(), 127));
    }
    let mut out = Vec::with_capacity(MIN_MAX_MESSAGE);
    // Encoding a header with no options writes the header and cookie only.
    if msg.encode(&mut Encoder::new(&mut out)).is_err() || out.len() != HEADER_LEN {
        out.clear();
        out.resize(HEADER_LEN, 0);
    }
    // RFC 2131 §4.1: options in `file`/`sname` "MUST begin with the first
    // octet of the field, MUST be terminated by an 'end' option, and MUST be
    // followed by 'pad' options to fill the remainder of the field".
    for (bit, range, bin) in [(OVERLOAD_FILE, FILE, 1), (OVERLOAD_SNAME, SNAME, 2)] {
        if overload & bit == 0 {
            continue;
        }
        let mut field = Vec::with_capacity(range.len());
        for (code, value) in layout.bin(ordered, bin) {
            push_option(&mut field, code, value);
        }
        field.push(code::END);
        field.resize(range.len(), code::PAD);
        if let Some(dst) = out.get_mut(range) {
            dst.copy_from_slice(&field);
        }
    }
    for (code, value) in layout.bin(ordered, 0) {
        push_option(&mut out, code, value);
    }
    if overload != 0 {
        push_option(&mut out, code::OVERLOAD, &[overload]);
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

/// Where each option of a reply goes: 0 the options field, 1 `file`, 2
/// `sname`, or nowhere.
struct Layout {
    bins: Vec<Option<u8>>,
    dropped: usize,
}

impl Layout {
    /// First fit, in the caller's order (so the options the client asked for
    /// first are the last to be left out): the options field (`room` octets),
    /// then `file`, then `sname` (`fields` octets each, 0 when not usable).
    fn place(ordered: &[(u8, Vec<u8>)], room: usize, fields: [usize; 2]) -> Self {
        let mut free = [room, fields[0], fields[1]];
        let mut dropped = 0;
        let bins = ordered
            .iter()
            .map(|(_, value)| {
                let need = encoded_len(value.len());
                let bin = free.iter().position(|f| *f >= need);
                match bin.and_then(|b| free.get_mut(b).map(|f| (b, f))) {
                    Some((b, f)) => {
                        *f -= need;
                        u8::try_from(b).ok()
                    }
                    None => {
                        dropped += 1;
                        None
                    }
                }
            })
            .collect();
        Self { bins, dropped }
    }

    /// The option 52 value this layout needs (0: none).
    fn overload(&self) -> u8 {
        self.bins.iter().fold(0, |o, b| match b {
            Some(1) => o | OVERLOAD_FILE,
            Some(2) => o | OVERLOAD_SNAME,
            _ => o,
        })
    }

    /// The options placed in `bin`, in order.
    fn bin<'a>(
        &'a self,
        ordered: &'a [(u8, Vec<u8>)],
        bin: u8,
    ) -> impl Iterator<Item = (u8, &'a [u8])> + 'a {
        ordered
            .iter()
            .zip(&self.bins)
            .filter(move |(_, b)| **b == Some(bin))
            .map(|((code, value), _)| (*code, value.as_slice()))
    }
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
mod tests {
    use super::*;
    use crate::wire::parse;
    use crate::wire::tests::packet;

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
    }

    /// A reply read back by our own parser (its op turned into a request).
    fn read_back(reply: &[u8]) -> Request {
        let mut p = reply.to_vec();
        p[0] = 1;
        parse(&p, 4).unwrap()
    }

    fn head(file: Option<&str>, sname: Option<&str>) -> ReplyHeader {
        ReplyHeader {
            yiaddr: Ipv4Addr::new(10, 0, 0, 5),
            siaddr: Ipv4Addr::UNSPECIFIED,
            sname: sname.map(str::to_owned),
            file: file.map(str::to_owned),
            ciaddr: Ipv4Addr::UNSPECIFIED,
        }
    }

    /// Seven 60-octet options (437 octets with option 53), where a 576-octet
    /// client has room for 307: four fit the options field, two the `file`
    /// field (127 octets before End), one `sname` (63).
    fn big_options() -> Vec<(u8, Vec<u8>)> {
        let mut o = vec![(53, vec![2])];
        o.extend((224..231).map(|c| (c, vec![c; 60])));
        o
    }

    #[test]
    fn reply_overloads_file_and_sname_when_options_do_not_fit() {
        let req = parse(&packet(1, [2; 6], &[]), 4).unwrap();
        let opts = big_options();
        let info = [1u8, 2, b'p', b'1'];
        let out = encode_reply(&req, &head(None, None), &opts, Some(&info));
        assert!(out.len() <= 576 - 28, "{}", out.len());
        let back = read_back(&out);
        assert_eq!(back.option(code::OVERLOAD), Some(&[3][..]));
        for (c, v) in &opts {
            assert_eq!(back.option(*c), Some(v.as_slice()), "option {c}");
        }
        assert_eq!(back.option(code::RELAY_AGENT_INFO), Some(&info[..]));
    }

    #[test]
    fn reply_keeps_the_boot_file_and_overloads_only_sname() {
        let req = parse(&packet(1, [2; 6], &[]), 4).unwrap();
        let out = encode_reply(&req, &head(Some("pxelinux.0"), None), &big_options(), None);
        assert_eq!(&out[108..118], b"pxelinux.0");
        let back = read_back(&out);
        assert_eq!(back.option(code::OVERLOAD), Some(&[2][..]));
        assert_eq!(back.header.fname(), Some(&b"pxelinux.0\0"[..]));
        let kept = (224..231).filter(|c| back.option(*c).is_some()).count();
        assert_eq!(kept, 5, "four in the options field, one in sname");
    }

    #[test]
    fn reply_with_boot_file_and_server_name_is_not_overloaded() {
        let req = parse(&packet(1, [2; 6], &[]), 4).unwrap();
        let out = encode_reply(&req, &head(Some("f"), Some("s")), &big_options(), None);
        let back = read_back(&out);
        assert_eq!(back.option(code::OVERLOAD), None);
        assert_eq!(back.header.sname(), Some(&b"s\0"[..]));
    }

    #[test]
    fn bootp_reply_is_never_overloaded() {
        let mut p = packet(1, [2; 6], &[]);
        p.truncate(240);
        p.push(255);
        let req = parse(&p, 4).unwrap();
        let out = encode_reply(&req, &head(None, None), &big_options()[1..], None);
        assert!(out[44..236].iter().all(|b| *b == 0));
        assert_eq!(read_back(&out).option(code::OVERLOAD), None);
    }

    #[test]
    fn reply_that_fits_is_not_overloaded() {
        let req = parse(&packet(1, [2; 6], &[]), 4).unwrap();
        let out = encode_reply(&req, &head(None, None), &big_options()[..3], None);
        assert_eq!(read_back(&out).option(code::OVERLOAD), None);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn encoded_replies_read_back_with_every_option_kept(
                opts in proptest::collection::btree_map(1u8..=254, proptest::collection::vec(any::<u8>(), 0..300), 0..8),
                max_size in 576u16..1500,
                file in proptest::option::of("[a-z]{1,20}"),
                sname in proptest::option::of("[a-z]{1,20}"),
            ) {
                let ordered: Vec<(u8, Vec<u8>)> = opts
                    .into_iter()
                    .filter(|(c, _)| !matches!(*c, 52 | 53 | 82))
                    .collect();
                let req = parse(&packet(1, [2; 6], &[57, 2, (max_size >> 8) as u8, max_size as u8]), 4).unwrap();
                let h = head(file.as_deref(), sname.as_deref());
                let out = encode_reply(&req, &h, &ordered, None);
                prop_assert!(out.len() <= usize::from(max_size) - 28);
                let back = read_back(&out);
                // Octets an option takes on the wire: code and length per
                // 255-octet chunk (RFC 3396), two for an empty one.
                let wire_len = |v: &[u8]| v.len() + 2 * v.len().div_ceil(255).max(1);
                // Room left in the options field: up to the client's limit,
                // after the END option that closes what was written.
                let mut end = 240;
                while end < out.len() && out[end] != 255 {
                    end += if out[end] == 0 { 1 } else { 2 + usize::from(out[end + 1]) };
                }
                let free = (usize::from(max_size) - 28).saturating_sub(end + 1);
                let total: usize = ordered.iter().map(|(_, v)| wire_len(v)).sum();
                for (c, v) in &ordered {
                    match back.option(*c) {
                        Some(got) => prop_assert_eq!(got, v.as_slice(), "option {}", c),
                        // Everything fitted the options field: nothing may be
                        // missing. Otherwise an option is left out only when
                        // it did not fit (first fit: the room at its turn was
                        // at least the room left now).
                        None => {
                            prop_assert!(
                                total + 240 + 1 > usize::from(max_size) - 28,
                                "option {} dropped though every option fits", c
                            );
                            prop_assert!(
                                wire_len(v) > free,
                                "option {} ({} octets) dropped with {} octets free", c, wire_len(v), free
                            );
                        }
                    }
                }
                let o = back.option(code::OVERLOAD).map_or(0, |v| v[0]);
                if file.is_some() {
                    prop_assert_eq!(o & 1, 0);
                    prop_assert_eq!(back.header.fname().map(|f| f.len()), file.as_ref().map(|f| f.len() + 1));
                }
                if sname.is_some() {
                    prop_assert_eq!(o & 2, 0);
                }
            }
        }
    }
}
