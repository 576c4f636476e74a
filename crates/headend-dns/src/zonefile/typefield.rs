//! The type field of a zone-file record: a mnemonic of the IANA registry or
//! the RFC 3597 `TYPEnnn` form, and whether such a type can be served.

use hickory_proto::rr::RecordType;

use super::text;
use crate::rrtype;

/// What a type field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeField {
    /// A type that may appear in a zone file.
    Type(RecordType),
    /// A type that cannot be served from a zone (meta, query-only, or unsupported).
    Unservable(RecordType),
    /// Not a type at all.
    NotAType,
}

/// Reads a type field: a mnemonic of the IANA registry (any case) or RFC 3597 `TYPEnnn`.
pub(crate) fn type_field(raw: &[u8]) -> TypeField {
    let code = if raw.len() > 4
        && raw
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"TYPE"))
    {
        match raw
            .get(4..)
            .and_then(text::decimal_u32)
            .and_then(|n| u16::try_from(n).ok())
        {
            Some(code) => code,
            None => return TypeField::NotAType,
        }
    } else {
        match rrtype::code_of(raw) {
            Some(code) => code,
            None => return TypeField::NotAType,
        }
    };
    let rtype = RecordType::from(code);
    // RFC 6895 §3.1: 0 is reserved, 128-255 are meta/query types (ANY, AXFR, IXFR, ...);
    // OPT (41) lives only in messages.
    if code == 0 || (128..=255).contains(&code) || code == 41 {
        TypeField::Unservable(rtype)
    } else {
        TypeField::Type(rtype)
    }
}
