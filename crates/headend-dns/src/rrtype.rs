//! Record types by name and the shape of their RDATA in presentation form.
//!
//! One table serves both directions: the zone-file reader
//! ([`crate::zonefile`]) turns each field's text into wire bytes, and the
//! writer ([`crate::present`]) turns the wire bytes back into the same text.
//! hickory-proto knows the wire form of about half of these types and none
//! of the text forms headend needs (its text parser is not public in 0.26,
//! and it lacks LOC, APL, IPSECKEY, HIP, the ILNP types, EUI48/64, URI, ...),
//! so the text side of every type is written here, by field kind.

/// Every type of the IANA "Resource Record (RR) TYPEs" registry with a
/// mnemonic, meta and obsolete types included (RFC 6895 §3.1).
pub(crate) const MNEMONICS: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("MD", 3),
    ("MF", 4),
    ("CNAME", 5),
    ("SOA", 6),
    ("MB", 7),
    ("MG", 8),
    ("MR", 9),
    ("NULL", 10),
    ("WKS", 11),
    ("PTR", 12),
    ("HINFO", 13),
    ("MINFO", 14),
    ("MX", 15),
    ("TXT", 16),
    ("RP", 17),
    ("AFSDB", 18),
    ("X25", 19),
    ("ISDN", 20),
    ("RT", 21),
    ("NSAP", 22),
    ("NSAP-PTR", 23),
    ("SIG", 24),
    ("KEY", 25),
    ("PX", 26),
    ("GPOS", 27),
    ("AAAA", 28),
    ("LOC", 29),
    ("NXT", 30),
    ("EID", 31),
    ("NIMLOC", 32),
    ("SRV", 33),
    ("ATMA", 34),
    ("NAPTR", 35),
    ("KX", 36),
    ("CERT", 37),
    ("A6", 38),
    ("DNAME", 39),
    ("SINK", 40),
    ("OPT", 41),
    ("APL", 42),
    ("DS", 43),
    ("SSHFP", 44),
    ("IPSECKEY", 45),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("DHCID", 49),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("TLSA", 52),
    ("SMIMEA", 53),
    ("HIP", 55),
    ("NINFO", 56),
    ("RKEY", 57),
    ("TALINK", 58),
    ("CDS", 59),
    ("CDNSKEY", 60),
    ("OPENPGPKEY", 61),
    ("CSYNC", 62),
    ("ZONEMD", 63),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("DSYNC", 66),
    ("SPF", 99),
    ("UINFO", 100),
    ("UID", 101),
    ("GID", 102),
    ("UNSPEC", 103),
    ("NID", 104),
    ("L32", 105),
    ("L64", 106),
    ("LP", 107),
    ("EUI48", 108),
    ("EUI64", 109),
    ("NXNAME", 128),
    ("TKEY", 249),
    ("TSIG", 250),
    ("IXFR", 251),
    ("AXFR", 252),
    ("MAILB", 253),
    ("MAILA", 254),
    ("ANY", 255),
    ("URI", 256),
    ("CAA", 257),
    ("AVC", 258),
    ("DOA", 259),
    ("AMTRELAY", 260),
    ("RESINFO", 261),
    ("WALLET", 262),
    ("CLA", 263),
    ("IPN", 264),
    ("TA", 32768),
    ("DLV", 32769),
];

/// The code of a type mnemonic (case-insensitive).
pub(crate) fn code_of(mnemonic: &[u8]) -> Option<u16> {
    MNEMONICS
        .iter()
        .find(|(m, _)| m.as_bytes().eq_ignore_ascii_case(mnemonic))
        .map(|(_, c)| *c)
}

/// The mnemonic of a type code, if the registry has one.
pub(crate) fn mnemonic_of(code: u16) -> Option<&'static str> {
    MNEMONICS.iter().find(|(_, c)| *c == code).map(|(m, _)| *m)
}

/// The type as written in zone files: its mnemonic, or `TYPEnnn` (RFC 3597 §5).
pub(crate) fn label(code: u16) -> String {
    match mnemonic_of(code) {
        Some(m) => m.to_owned(),
        None => format!("TYPE{code}"),
    }
}

/// One field of RDATA in presentation form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// A decimal 8-bit number.
    U8,
    /// A decimal 16-bit number.
    U16,
    /// A decimal 32-bit number.
    U32,
    /// A 32-bit number of seconds, BIND's units (`1h`) accepted on reading.
    Period,
    /// A DNSSEC algorithm (RFC 4034 Appendix A.1): a number or a mnemonic.
    Algorithm,
    /// A domain name, uncompressed on the wire.
    Name,
    /// One `<character-string>` (RFC 1035 §3.3), length-prefixed on the wire.
    Text,
    /// One or more character strings up to the end (TXT, SPF).
    Texts,
    /// One string filling the rest of the RDATA without a length octet
    /// (CAA value, RFC 8659 §4.1.1; URI target, RFC 7553 §4.5).
    TextRest,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// Hexadecimal up to the end, blanks allowed between digits.
    Hex,
    /// Base64 up to the end, blanks allowed between groups.
    Base64,
    /// NSEC3 salt: `-` for none, else hex; a length octet on the wire (RFC 5155 §3.3).
    Salt,
    /// NSEC3 next hashed owner: base32hex, a length octet on the wire (RFC 5155 §3.3).
    Hash32,
    /// A type bitmap (RFC 4034 §4.1.2): type mnemonics up to the end.
    Types,
    /// One type (RRSIG type covered).
    Type,
    /// RRSIG time (RFC 4034 §3.2): `YYYYMMDDHHmmSS` or seconds.
    Time,
    /// CERT type (RFC 4398 §2.2): a number or a mnemonic like PKIX.
    CertType,
    /// EUI-48 (RFC 7043 §3.2): six hex pairs joined by `-`.
    Eui48,
    /// EUI-64 (RFC 7043 §4.2): eight hex pairs joined by `-`.
    Eui64,
    /// ILNP 64-bit value (RFC 6742 §2.3): four groups of hex joined by `:`.
    Ilnp64,
    /// CAA tag (RFC 8659 §4.1.1): letters and digits, a length octet on the wire.
    CaaTag,
    /// The whole LOC RDATA (RFC 1876 §3).
    Loc,
    /// The whole APL RDATA (RFC 3123 §5).
    Apl,
    /// SVCB/HTTPS parameters up to the end (RFC 9460 §2.1).
    SvcParams,
    /// The whole IPSECKEY RDATA (RFC 4025 §3).
    IpsecKey,
    /// The whole HIP RDATA (RFC 8005 §5).
    Hip,
}

use Field::*;

/// The presentation fields of a type, each with what it is called in error
/// messages, or `None` when the type is read only in the RFC 3597 generic
/// form (meta types, obsolete ones without a defined text form, and types
/// whose registry entry gives none).
pub(crate) fn fields(code: u16) -> Option<&'static [(Field, &'static str)]> {
    const DNSKEY: &[(Field, &str)] = &[
        (U16, "flags"),
        (U8, "protocol"),
        (Algorithm, "algorithm"),
        (Base64, "public key"),
    ];
    const DS: &[(Field, &str)] = &[
        (U16, "key tag"),
        (Algorithm, "algorithm"),
        (U8, "digest type"),
        (Hex, "digest"),
    ];
    const RRSIG: &[(Field, &str)] = &[
        (Type, "type covered"),
        (Algorithm, "algorithm"),
        (U8, "labels"),
        (U32, "original TTL"),
        (Time, "signature expiration"),
        (Time, "signature inception"),
        (U16, "key tag"),
        (Name, "signer's name"),
        (Base64, "signature"),
    ];
    const TLSA: &[(Field, &str)] = &[
        (U8, "certificate usage"),
        (U8, "selector"),
        (U8, "matching type"),
        (Hex, "certificate association data"),
    ];
    const TEXTS: &[(Field, &str)] = &[(Texts, "strings")];
    const ILNP64: &[(Field, &str)] = &[(U16, "preference"), (Ilnp64, "64-bit value")];
    const SVCB: &[(Field, &str)] = &[
        (U16, "priority"),
        (Name, "target name"),
        (SvcParams, "parameters"),
    ];
    Some(match code {
        1 => &[(Ipv4, "address")],
        // NS MD MF CNAME MB MG MR PTR DNAME.
        2..=5 | 7..=9 | 12 | 39 => &[(Name, "target name")],
        6 => &[
            (Name, "primary name server (MNAME)"),
            (Name, "responsible mailbox (RNAME)"),
            (U32, "serial"),
            (Period, "refresh"),
            (Period, "retry"),
            (Period, "expire"),
            (Period, "minimum"),
        ],
        13 => &[(Text, "CPU"), (Text, "OS")],
        14 => &[(Name, "responsible mailbox"), (Name, "error mailbox")],
        15 => &[(U16, "preference"), (Name, "mail exchanger")],
        17 => &[(Name, "mailbox"), (Name, "TXT name")],
        18 => &[(U16, "subtype"), (Name, "server name")],
        21 => &[(U16, "preference"), (Name, "intermediate host")],
        36 => &[(U16, "preference"), (Name, "key exchanger")],
        107 => &[(U16, "preference"), (Name, "locator name")],
        58 => &[(Name, "previous name"), (Name, "next name")],
        // TXT SPF NINFO AVC RESINFO WALLET.
        16 | 56 | 99 | 258 | 261 | 262 => TEXTS,
        19 => &[(Text, "PSDN address")],
        24 | 46 => RRSIG,
        25 | 48 | 57 | 60 => DNSKEY,
        26 => &[(U16, "preference"), (Name, "MAP822"), (Name, "MAPX400")],
        27 => &[(Text, "longitude"), (Text, "latitude"), (Text, "altitude")],
        28 => &[(Ipv6, "address")],
        29 => &[(Loc, "location")],
        33 => &[
            (U16, "priority"),
            (U16, "weight"),
            (U16, "port"),
            (Name, "target"),
        ],
        35 => &[
            (U16, "order"),
            (U16, "preference"),
            (Text, "flags"),
            (Text, "services"),
            (Text, "regexp"),
            (Name, "replacement"),
        ],
        37 => &[
            (CertType, "certificate type"),
            (U16, "key tag"),
            (Algorithm, "algorithm"),
            (Base64, "certificate"),
        ],
        42 => &[(Apl, "address prefix list")],
        43 | 59 => DS,
        44 => &[
            (U8, "algorithm"),
            (U8, "fingerprint type"),
            (Hex, "fingerprint"),
        ],
        45 => &[(IpsecKey, "IPSECKEY data")],
        47 => &[(Name, "next domain name"), (Types, "type bitmap")],
        49 => &[(Base64, "DHCID data")],
        61 => &[(Base64, "OpenPGP key")],
        50 => &[
            (U8, "hash algorithm"),
            (U8, "flags"),
            (U16, "iterations"),
            (Salt, "salt"),
            (Hash32, "next hashed owner name"),
            (Types, "type bitmap"),
        ],
        51 => &[
            (U8, "hash algorithm"),
            (U8, "flags"),
            (U16, "iterations"),
            (Salt, "salt"),
        ],
        52 | 53 => TLSA,
        55 => &[(Hip, "HIP data")],
        62 => &[(U32, "SOA serial"), (U16, "flags"), (Types, "type bitmap")],
        63 => &[
            (U32, "serial"),
            (U8, "scheme"),
            (U8, "hash algorithm"),
            (Hex, "digest"),
        ],
        64 | 65 => SVCB,
        104 | 106 => ILNP64,
        105 => &[(U16, "preference"), (Ipv4, "locator")],
        108 => &[(Eui48, "EUI-48 address")],
        109 => &[(Eui64, "EUI-64 address")],
        256 => &[(U16, "priority"), (U16, "weight"), (TextRest, "target")],
        257 => &[(U8, "flags"), (CaaTag, "tag"), (TextRest, "value")],
        _ => return None,
    })
}

/// DNSSEC algorithm mnemonics (RFC 8624 and the IANA registry).
pub(crate) const ALGORITHMS: &[(&str, u8)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

/// CERT types (RFC 4398 §2.1).
pub(crate) const CERT_TYPES: &[(&str, u16)] = &[
    ("PKIX", 1),
    ("SPKI", 2),
    ("PGP", 3),
    ("IPKIX", 4),
    ("ISPKI", 5),
    ("IPGP", 6),
    ("ACPKIX", 7),
    ("IACPKIX", 8),
    ("URI", 253),
    ("OID", 254),
];

/// SVCB parameter keys with a name (RFC 9460 §14.3.2 and later registrations).
pub(crate) const SVC_KEYS: &[(&str, u16)] = &[
    ("mandatory", 0),
    ("alpn", 1),
    ("no-default-alpn", 2),
    ("port", 3),
    ("ipv4hint", 4),
    ("ech", 5),
    ("ipv6hint", 6),
    ("dohpath", 7),
    ("ohttp", 8),
];

/// Base32 with the extended hex alphabet (RFC 4648 §7), no padding.
pub(crate) const BASE32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_and_codes_are_unique() {
        for (i, (m, c)) in MNEMONICS.iter().enumerate() {
            for (m2, c2) in MNEMONICS.iter().skip(i + 1) {
                assert_ne!(m, m2);
                assert_ne!(c, c2);
            }
        }
    }

    #[test]
    fn mnemonics_are_found_in_any_case() {
        assert_eq!(code_of(b"https"), Some(65));
        assert_eq!(code_of(b"Eui48"), Some(108));
        assert_eq!(code_of(b"TYPE65"), None);
        assert_eq!(label(65), "HTTPS");
        assert_eq!(label(65280), "TYPE65280");
    }
}
