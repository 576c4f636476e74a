//! SNMP object identifiers and varbinds in BER (X.690), as TLV 10, 11 and
//! 64 carry them, with a built-in table of the symbolic names operators use.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// BER tags of the SNMP types (RFC 2578 §7.1, RFC 1155).
pub mod tag {
    /// INTEGER / Integer32.
    pub const INTEGER: u8 = 0x02;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// SEQUENCE.
    pub const SEQUENCE: u8 = 0x30;
    /// IpAddress ([APPLICATION 0]).
    pub const IP_ADDRESS: u8 = 0x40;
    /// Counter32 ([APPLICATION 1]).
    pub const COUNTER32: u8 = 0x41;
    /// Gauge32 / Unsigned32 ([APPLICATION 2]).
    pub const GAUGE32: u8 = 0x42;
    /// TimeTicks ([APPLICATION 3]).
    pub const TIME_TICKS: u8 = 0x43;
    /// Opaque ([APPLICATION 4]).
    pub const OPAQUE: u8 = 0x44;
    /// Counter64 ([APPLICATION 6]).
    pub const COUNTER64: u8 = 0x46;
}

/// Symbolic names for the OIDs of the MIBs a cable modem config uses
/// (MIB-II system and interfaces, DOCS-CABLE-DEVICE-MIB, DOCS-IF-MIB,
/// DOCS-IETF-BPI2-MIB, DOCS-SUBMGT3-MIB, PKTC-MTA-MIB, SNMP-COMMUNITY /
/// SNMP-TARGET / SNMP-VIEW-BASED-ACM tables). A name followed by more arcs,
/// `docsDevNmAccessIp.1`, is the table column with that index.
pub static NAMES: &[(&str, &str)] = &[
    ("iso", "1"),
    ("internet", "1.3.6.1"),
    ("mib-2", "1.3.6.1.2.1"),
    ("enterprises", "1.3.6.1.4.1"),
    ("cableLabs", "1.3.6.1.4.1.4491"),
    ("sysDescr", "1.3.6.1.2.1.1.1"),
    ("sysObjectID", "1.3.6.1.2.1.1.2"),
    ("sysUpTime", "1.3.6.1.2.1.1.3"),
    ("sysContact", "1.3.6.1.2.1.1.4"),
    ("sysName", "1.3.6.1.2.1.1.5"),
    ("sysLocation", "1.3.6.1.2.1.1.6"),
    ("sysServices", "1.3.6.1.2.1.1.7"),
    ("ifNumber", "1.3.6.1.2.1.2.1"),
    ("ifIndex", "1.3.6.1.2.1.2.2.1.1"),
    ("ifDescr", "1.3.6.1.2.1.2.2.1.2"),
    ("ifType", "1.3.6.1.2.1.2.2.1.3"),
    ("ifMtu", "1.3.6.1.2.1.2.2.1.4"),
    ("ifSpeed", "1.3.6.1.2.1.2.2.1.5"),
    ("ifPhysAddress", "1.3.6.1.2.1.2.2.1.6"),
    ("ifAdminStatus", "1.3.6.1.2.1.2.2.1.7"),
    ("ifOperStatus", "1.3.6.1.2.1.2.2.1.8"),
    ("ifAlias", "1.3.6.1.2.1.31.1.1.1.18"),
    ("docsIfMib", "1.3.6.1.2.1.10.127"),
    ("docsIfDownChannelFrequency", "1.3.6.1.2.1.10.127.1.1.1.1.2"),
    ("docsIfDownChannelPower", "1.3.6.1.2.1.10.127.1.1.1.1.6"),
    ("docsIfUpChannelFrequency", "1.3.6.1.2.1.10.127.1.1.2.1.2"),
    ("docsIfCmStatusValue", "1.3.6.1.2.1.10.127.1.2.2.1.1"),
    ("docsDevMIB", "1.3.6.1.2.1.69"),
    ("docsDevResetNow", "1.3.6.1.2.1.69.1.1.3"),
    ("docsDevNmAccessTable", "1.3.6.1.2.1.69.1.2"),
    ("docsDevNmAccessIndex", "1.3.6.1.2.1.69.1.2.1.1"),
    ("docsDevNmAccessIp", "1.3.6.1.2.1.69.1.2.1.2"),
    ("docsDevNmAccessIpMask", "1.3.6.1.2.1.69.1.2.1.3"),
    ("docsDevNmAccessCommunity", "1.3.6.1.2.1.69.1.2.1.4"),
    ("docsDevNmAccessControl", "1.3.6.1.2.1.69.1.2.1.5"),
    ("docsDevNmAccessInterfaces", "1.3.6.1.2.1.69.1.2.1.6"),
    ("docsDevNmAccessStatus", "1.3.6.1.2.1.69.1.2.1.7"),
    ("docsDevNmAccessTrapVersion", "1.3.6.1.2.1.69.1.2.1.8"),
    ("docsDevSwServer", "1.3.6.1.2.1.69.1.3.1"),
    ("docsDevSwFilename", "1.3.6.1.2.1.69.1.3.2"),
    ("docsDevSwAdminStatus", "1.3.6.1.2.1.69.1.3.3"),
    ("docsDevSwOperStatus", "1.3.6.1.2.1.69.1.3.4"),
    ("docsDevSwCurrentVers", "1.3.6.1.2.1.69.1.3.5"),
    ("docsDevSwServerAddressType", "1.3.6.1.2.1.69.1.3.6"),
    ("docsDevSwServerAddress", "1.3.6.1.2.1.69.1.3.7"),
    ("docsDevSwServerTransportProtocol", "1.3.6.1.2.1.69.1.3.8"),
    ("docsDevServerBootState", "1.3.6.1.2.1.69.1.4.1"),
    ("docsDevServerDhcp", "1.3.6.1.2.1.69.1.4.2"),
    ("docsDevServerTime", "1.3.6.1.2.1.69.1.4.3"),
    ("docsDevServerTftp", "1.3.6.1.2.1.69.1.4.4"),
    ("docsDevServerConfigFile", "1.3.6.1.2.1.69.1.4.5"),
    ("docsDevEvControl", "1.3.6.1.2.1.69.1.5.1"),
    ("docsDevEvSyslog", "1.3.6.1.2.1.69.1.5.2"),
    ("docsDevEvThrottleAdminStatus", "1.3.6.1.2.1.69.1.5.3"),
    ("docsDevEvThrottleThreshold", "1.3.6.1.2.1.69.1.5.5"),
    ("docsDevEvThrottleInterval", "1.3.6.1.2.1.69.1.5.6"),
    ("docsDevEvReporting", "1.3.6.1.2.1.69.1.5.7.1.2"),
    ("docsDevFilterLLCUnmatchedAction", "1.3.6.1.2.1.69.1.6.1"),
    ("docsDevFilterIpDefault", "1.3.6.1.2.1.69.1.6.3"),
    ("docsDevFilterIpTable", "1.3.6.1.2.1.69.1.6.4"),
    ("docsDevFilterIpIndex", "1.3.6.1.2.1.69.1.6.4.1.1"),
    ("docsDevFilterIpStatus", "1.3.6.1.2.1.69.1.6.4.1.2"),
    ("docsDevFilterIpControl", "1.3.6.1.2.1.69.1.6.4.1.3"),
    ("docsDevFilterIpIfIndex", "1.3.6.1.2.1.69.1.6.4.1.4"),
    ("docsDevFilterIpDirection", "1.3.6.1.2.1.69.1.6.4.1.5"),
    ("docsDevFilterIpBroadcast", "1.3.6.1.2.1.69.1.6.4.1.6"),
    ("docsDevFilterIpSaddr", "1.3.6.1.2.1.69.1.6.4.1.7"),
    ("docsDevFilterIpSmask", "1.3.6.1.2.1.69.1.6.4.1.8"),
    ("docsDevFilterIpDaddr", "1.3.6.1.2.1.69.1.6.4.1.9"),
    ("docsDevFilterIpDmask", "1.3.6.1.2.1.69.1.6.4.1.10"),
    ("docsDevFilterIpProtocol", "1.3.6.1.2.1.69.1.6.4.1.11"),
    ("docsDevFilterIpSourcePortLow", "1.3.6.1.2.1.69.1.6.4.1.12"),
    ("docsDevFilterIpSourcePortHigh", "1.3.6.1.2.1.69.1.6.4.1.13"),
    ("docsDevFilterIpDestPortLow", "1.3.6.1.2.1.69.1.6.4.1.14"),
    ("docsDevFilterIpDestPortHigh", "1.3.6.1.2.1.69.1.6.4.1.15"),
    ("docsDevCpeEnroll", "1.3.6.1.2.1.69.1.7.1"),
    ("docsDevCpeIpMax", "1.3.6.1.2.1.69.1.7.2"),
    ("docsBpi2MIB", "1.3.6.1.2.1.126"),
    ("docsBpi2CmPrivacyEnable", "1.3.6.1.2.1.126.1.1.1.1.1"),
    ("docsBpi2CmAuthState", "1.3.6.1.2.1.126.1.1.1.1.3"),
    ("docsSubmgt3MIB", "1.3.6.1.4.1.4491.2.1.10"),
    (
        "docsSubmgt3CpeCtrlMaxCpeIpv4",
        "1.3.6.1.4.1.4491.2.1.10.1.1.1.1.1",
    ),
    (
        "docsSubmgt3CpeCtrlMaxCpeIpv6Prefix",
        "1.3.6.1.4.1.4491.2.1.10.1.1.1.1.2",
    ),
    (
        "docsSubmgt3CpeCtrlActive",
        "1.3.6.1.4.1.4491.2.1.10.1.1.1.1.3",
    ),
    (
        "docsSubmgt3CpeCtrlLearnable",
        "1.3.6.1.4.1.4491.2.1.10.1.1.1.1.4",
    ),
    ("pktcMtaMib", "1.3.6.1.4.1.4491.2.2.1"),
    ("pktcMtaDevEnabled", "1.3.6.1.4.1.4491.2.2.1.1.1.6"),
    ("pktcMtaDevProvConfigHash", "1.3.6.1.4.1.4491.2.2.1.1.2.7"),
    ("snmpCommunityName", "1.3.6.1.6.3.18.1.1.1.2"),
    ("snmpCommunitySecurityName", "1.3.6.1.6.3.18.1.1.1.3"),
    ("snmpCommunityStatus", "1.3.6.1.6.3.18.1.1.1.8"),
    ("snmpTargetAddrTDomain", "1.3.6.1.6.3.12.1.2.1.2"),
    ("snmpTargetAddrTAddress", "1.3.6.1.6.3.12.1.2.1.3"),
    ("snmpTargetAddrRowStatus", "1.3.6.1.6.3.12.1.2.1.9"),
    ("vacmSecurityToGroupStatus", "1.3.6.1.6.3.16.1.2.1.5"),
    ("vacmAccessStatus", "1.3.6.1.6.3.16.1.4.1.9"),
    ("vacmViewTreeFamilyStatus", "1.3.6.1.6.3.16.1.5.2.1.6"),
];

/// Why an OID or varbind could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpProblem(pub String);

fn problem(s: impl Into<String>) -> SnmpProblem {
    SnmpProblem(s.into())
}

fn parse_arcs(text: &str, out: &mut Vec<u32>) -> Result<(), SnmpProblem> {
    for part in text.split('.') {
        let arc: u32 = part
            .parse()
            .map_err(|_| problem(format!("`{part}` is not an OID arc (0..4294967295)")))?;
        out.push(arc);
    }
    Ok(())
}

/// Parses `1.3.6.1...`, `.1.3.6.1...` or `name.1.2` (a name from [`NAMES`]).
pub fn parse_oid(text: &str) -> Result<Vec<u32>, SnmpProblem> {
    let body = text.strip_prefix('.').unwrap_or(text);
    if body.is_empty() {
        return Err(problem("empty OID"));
    }
    let mut arcs = Vec::with_capacity(16);
    if body.starts_with(|c: char| c.is_ascii_digit()) {
        parse_arcs(body, &mut arcs)?;
    } else {
        let (name, rest) = body.split_once('.').unwrap_or((body, ""));
        let first = name.as_bytes().first();
        let found = NAMES
            .iter()
            .find(|(n, _)| n.len() == name.len() && n.as_bytes().first() == first && *n == name);
        let Some((_, base)) = found else {
            return Err(problem(format!(
                "unknown OID name `{name}` (write it numerically, e.g. .1.3.6.1.2.1.1.1.0)"
            )));
        };
        parse_arcs(base, &mut arcs)?;
        if !rest.is_empty() {
            parse_arcs(rest, &mut arcs)?;
        }
    }
    if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) {
        return Err(problem(format!("`{text}` is not a valid OID")));
    }
    Ok(arcs)
}

/// Writes an OID with the longest matching name of [`NAMES`], or numerically.
pub fn format_oid(arcs: &[u32]) -> String {
    let numeric: Vec<String> = arcs.iter().map(u32::to_string).collect();
    let full = numeric.join(".");
    let mut best: Option<(&str, usize)> = None;
    for (name, base) in NAMES {
        let n = base.split('.').count();
        if n >= 4
            && n <= arcs.len()
            && (full == *base || full.starts_with(&format!("{base}.")))
            && best.is_none_or(|(_, m)| n > m)
        {
            best = Some((name, n));
        }
    }
    match best {
        Some((name, n)) if n == arcs.len() => name.to_owned(),
        Some((name, n)) => format!("{name}.{}", numeric[n..].join(".")),
        None => format!(".{full}"),
    }
}

fn push_base128(out: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        tmp[i] = (v & 0x7f) as u8 | if i == tmp.len() - 1 { 0 } else { 0x80 };
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// The BER contents octets of an OID (X.690 §8.19).
pub fn oid_contents(arcs: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(arcs.len() + 4);
    let first = u64::from(arcs.first().copied().unwrap_or(0)) * 40
        + u64::from(arcs.get(1).copied().unwrap_or(0));
    push_base128(&mut out, first);
    for &a in arcs.iter().skip(2) {
        push_base128(&mut out, u64::from(a));
    }
    out
}

/// Decodes BER OID contents octets.
pub fn decode_oid(bytes: &[u8]) -> Result<Vec<u32>, SnmpProblem> {
    let mut arcs = Vec::new();
    let mut v: u64 = 0;
    let mut started = false;
    for &b in bytes {
        if !started && b == 0x80 {
            return Err(problem("OID arc with a leading 0x80 byte"));
        }
        started = true;
        v = (v << 7) | u64::from(b & 0x7f);
        if v > u64::from(u32::MAX) * 40 + 39 {
            return Err(problem("OID arc too large"));
        }
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (a, b) = if v < 40 {
                    (0, v)
                } else if v < 80 {
                    (1, v - 40)
                } else {
                    (2, v - 80)
                };
                arcs.push(a as u32);
                arcs.push(u32::try_from(b).map_err(|_| problem("OID arc too large"))?);
            } else {
                arcs.push(u32::try_from(v).map_err(|_| problem("OID arc too large"))?);
            }
            v = 0;
            started = false;
        }
    }
    if started || arcs.is_empty() {
        return Err(problem("truncated OID"));
    }
    Ok(arcs)
}

/// Appends a BER definite length (short form below 128, else long form).
pub fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Appends tag, length and contents.
pub fn push_tlv(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
    out.push(tag);
    push_len(out, contents.len());
    out.extend_from_slice(contents);
}

/// Reads one BER element: (tag, contents, rest).
pub fn read_tlv(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), SnmpProblem> {
    let (&tag, rest) = bytes
        .split_first()
        .ok_or_else(|| problem("missing BER tag"))?;
    let (&l0, rest) = rest
        .split_first()
        .ok_or_else(|| problem("missing BER length"))?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(problem("bad BER length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(problem("BER element longer than its TLV"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// A typed SNMP value as written in the text format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnmpValue {
    /// `Integer -3`.
    Integer(i64),
    /// `Counter32`, `Gauge32`/`Unsigned32`, `TimeTicks`, `Counter64`: (tag, value).
    Unsigned(u8, u64),
    /// `IPAddress 10.0.0.1`.
    Ip(Ipv4Addr),
    /// `String "text"` or `HexString 0x...` (both OCTET STRING).
    Octets(Vec<u8>),
    /// `ObjectID .1.3.6.1`.
    Oid(Vec<u32>),
    /// `Null`.
    Null,
    /// `Opaque 0x...`.
    Opaque(Vec<u8>),
}

fn int_contents(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut i = 0;
    while i < 7
        && ((bytes[i] == 0 && bytes[i + 1] & 0x80 == 0)
            || (bytes[i] == 0xff && bytes[i + 1] & 0x80 != 0))
    {
        i += 1;
    }
    bytes[i..].to_vec()
}

fn uint_contents(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut out = Vec::with_capacity(9);
    if bytes[skip] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[skip..]);
    out
}

/// Encodes a varbind `SEQUENCE { OID, value }`.
pub fn encode_varbind(arcs: &[u32], value: &SnmpValue) -> Vec<u8> {
    let mut inner = Vec::with_capacity(64);
    push_tlv(&mut inner, tag::OID, &oid_contents(arcs));
    match value {
        SnmpValue::Integer(v) => push_tlv(&mut inner, tag::INTEGER, &int_contents(*v)),
        SnmpValue::Unsigned(t, v) => push_tlv(&mut inner, *t, &uint_contents(*v)),
        SnmpValue::Ip(ip) => push_tlv(&mut inner, tag::IP_ADDRESS, &ip.octets()),
        SnmpValue::Octets(b) => push_tlv(&mut inner, tag::OCTET_STRING, b),
        SnmpValue::Oid(o) => push_tlv(&mut inner, tag::OID, &oid_contents(o)),
        SnmpValue::Null => push_tlv(&mut inner, tag::NULL, &[]),
        SnmpValue::Opaque(b) => push_tlv(&mut inner, tag::OPAQUE, b),
    }
    let mut out = Vec::with_capacity(inner.len() + 4);
    push_tlv(&mut out, tag::SEQUENCE, &inner);
    out
}

/// Decodes a varbind; the caller re-encodes it to check it is canonical.
pub fn decode_varbind(bytes: &[u8]) -> Result<(Vec<u32>, SnmpValue), SnmpProblem> {
    let (t, seq, rest) = read_tlv(bytes)?;
    if t != tag::SEQUENCE || !rest.is_empty() {
        return Err(problem("a varbind is one SEQUENCE"));
    }
    let (t, oid, rest) = read_tlv(seq)?;
    if t != tag::OID {
        return Err(problem("varbind without an OID"));
    }
    let arcs = decode_oid(oid)?;
    let (t, v, rest) = read_tlv(rest)?;
    if !rest.is_empty() {
        return Err(problem("bytes after the varbind value"));
    }
    let value = match t {
        tag::INTEGER => {
            if v.is_empty() || v.len() > 8 {
                return Err(problem("INTEGER of bad length"));
            }
            let mut acc: i64 = if v[0] & 0x80 != 0 { -1 } else { 0 };
            for b in v {
                acc = (acc << 8) | i64::from(*b);
            }
            SnmpValue::Integer(acc)
        }
        tag::COUNTER32 | tag::GAUGE32 | tag::TIME_TICKS | tag::COUNTER64 => {
            if v.is_empty() || v.len() > 9 || (v.len() == 9 && v[0] != 0) {
                return Err(problem("unsigned value of bad length"));
            }
            let acc = v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            if t != tag::COUNTER64 && acc > u64::from(u32::MAX) {
                return Err(problem("32-bit value out of range"));
            }
            SnmpValue::Unsigned(t, acc)
        }
        tag::IP_ADDRESS => {
            let o: [u8; 4] = v.try_into().map_err(|_| problem("IpAddress not 4 bytes"))?;
            SnmpValue::Ip(Ipv4Addr::from(o))
        }
        tag::OCTET_STRING => SnmpValue::Octets(v.to_vec()),
        tag::OID => SnmpValue::Oid(decode_oid(v)?),
        tag::NULL => SnmpValue::Null,
        tag::OPAQUE => SnmpValue::Opaque(v.to_vec()),
        other => return Err(problem(format!("unknown SNMP type tag 0x{other:02x}"))),
    };
    Ok((arcs, value))
}

/// The text-format type keyword of an unsigned tag.
pub fn unsigned_name(t: u8) -> &'static str {
    match t {
        tag::COUNTER32 => "Counter32",
        tag::TIME_TICKS => "TimeTicks",
        tag::COUNTER64 => "Counter64",
        _ => "Gauge32",
    }
}

/// The tag of an unsigned type keyword, and its largest value.
pub fn unsigned_tag(keyword: &str) -> Option<(u8, u64)> {
    let k = keyword.to_ascii_lowercase();
    Some(match k.as_str() {
        "counter" | "counter32" => (tag::COUNTER32, u64::from(u32::MAX)),
        "gauge" | "gauge32" | "unsigned32" | "unsignedinteger" | "uinteger" => {
            (tag::GAUGE32, u64::from(u32::MAX))
        }
        "timeticks" => (tag::TIME_TICKS, u64::from(u32::MAX)),
        "counter64" => (tag::COUNTER64, u64::MAX),
        _ => return None,
    })
}

/// Hex digits of `bytes`, lower case, with a `0x` prefix.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_encode_like_x690_examples() {
        // X.690 §8.19.5: {2 999 3} is 0x88 0x37 0x03.
        assert_eq!(oid_contents(&[2, 999, 3]), vec![0x88, 0x37, 0x03]);
        assert_eq!(
            oid_contents(&parse_oid(".1.3.6.1.2.1.1.1.0").unwrap()),
            vec![0x2b, 6, 1, 2, 1, 1, 1, 0]
        );
        assert_eq!(decode_oid(&[0x88, 0x37, 0x03]).unwrap(), vec![2, 999, 3]);
    }

    #[test]
    fn names_resolve_and_print_back() {
        let arcs = parse_oid("docsDevNmAccessIp.1").unwrap();
        assert_eq!(arcs, vec![1, 3, 6, 1, 2, 1, 69, 1, 2, 1, 2, 1]);
        assert_eq!(format_oid(&arcs), "docsDevNmAccessIp.1");
        assert_eq!(format_oid(&[1, 3, 6, 1, 2, 1, 1, 5, 0]), "sysName.0");
        assert_eq!(format_oid(&[1, 2, 3]), ".1.2.3");
        assert!(
            parse_oid("docsDevNoSuch.1")
                .unwrap_err()
                .0
                .contains("unknown OID name")
        );
    }

    #[test]
    fn integers_are_minimal_twos_complement() {
        assert_eq!(int_contents(0), vec![0]);
        assert_eq!(int_contents(127), vec![0x7f]);
        assert_eq!(int_contents(128), vec![0, 0x80]);
        assert_eq!(int_contents(-1), vec![0xff]);
        assert_eq!(int_contents(-129), vec![0xff, 0x7f]);
        assert_eq!(uint_contents(250_000_000), vec![0x0e, 0xe6, 0xb2, 0x80]);
        assert_eq!(uint_contents(0xffff_ffff), vec![0, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn every_value_type_round_trips() {
        let arcs = parse_oid("enterprises.19.20").unwrap();
        for v in [
            SnmpValue::Integer(-3),
            SnmpValue::Integer(i64::from(i32::MAX)),
            SnmpValue::Unsigned(tag::GAUGE32, 250_000_000),
            SnmpValue::Unsigned(tag::COUNTER32, 7),
            SnmpValue::Unsigned(tag::TIME_TICKS, 100),
            SnmpValue::Unsigned(tag::COUNTER64, u64::MAX),
            SnmpValue::Ip(Ipv4Addr::new(10, 1, 1, 1)),
            SnmpValue::Octets(b"public".to_vec()),
            SnmpValue::Oid(vec![1, 3, 6, 1]),
            SnmpValue::Null,
            SnmpValue::Opaque(vec![1, 2]),
        ] {
            let bytes = encode_varbind(&arcs, &v);
            assert_eq!(decode_varbind(&bytes).unwrap(), (arcs.clone(), v));
        }
    }

    #[test]
    fn long_values_use_long_form_lengths() {
        let v = SnmpValue::Octets(vec![b'a'; 300]);
        let bytes = encode_varbind(&[1, 3, 6, 1], &v);
        assert_eq!(&bytes[..4], &[0x30, 0x82, 0x01, 0x35]);
        assert_eq!(decode_varbind(&bytes).unwrap().1, v);
    }
}
