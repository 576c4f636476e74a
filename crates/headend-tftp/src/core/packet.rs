//! TFTP packets: parsing and encoding (RFC 1350 §5, RFC 2347 §2 and §3).
//!
//! Parsing never panics: every malformed datagram becomes a [`PacketError`]
//! that the caller drops and counts.

use std::fmt;

/// RFC 1350 §5 opcodes.
pub const OP_RRQ: u16 = 1;
/// Write request.
pub const OP_WRQ: u16 = 2;
/// Data block.
pub const OP_DATA: u16 = 3;
/// Acknowledgement.
pub const OP_ACK: u16 = 4;
/// Error.
pub const OP_ERROR: u16 = 5;
/// RFC 2347 option acknowledgement.
pub const OP_OACK: u16 = 6;

/// RFC 1350 transfer modes ("mail" is obsolete and refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Raw 8-bit bytes.
    Octet,
    /// NVT ASCII: CR LF line ends, CR NUL for a bare CR (RFC 1350 §1, RFC 764).
    Netascii,
}

/// RFC 1350 §5 "Error Codes".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    /// 0: not defined, see error message.
    NotDefined = 0,
    /// 1: file not found.
    FileNotFound = 1,
    /// 2: access violation.
    AccessViolation = 2,
    /// 3: disk full or allocation exceeded.
    DiskFull = 3,
    /// 4: illegal TFTP operation.
    IllegalOperation = 4,
    /// 5: unknown transfer ID.
    UnknownTid = 5,
    /// 6: file already exists.
    FileExists = 6,
    /// 7: no such user.
    NoSuchUser = 7,
    /// 8: option negotiation refused (RFC 2347).
    OptionRefused = 8,
}

/// A request (RRQ or WRQ) with its options, names lower-cased (RFC 2347:
/// option names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The requested file name as sent (not yet checked or mapped).
    pub filename: &'a [u8],
    /// The transfer mode.
    pub mode: Mode,
    /// Options in the order sent: (lower-cased name, value).
    pub options: Vec<(String, String)>,
}

/// One parsed TFTP packet borrowing from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Read request.
    Rrq(Request<'a>),
    /// Write request.
    Wrq(Request<'a>),
    /// A data block.
    Data {
        /// Block number on the wire (wraps past 65535).
        block: u16,
        /// 0..=blksize bytes.
        data: &'a [u8],
    },
    /// An acknowledgement.
    Ack {
        /// Block number on the wire.
        block: u16,
    },
    /// An error; ends the transfer.
    Error {
        /// RFC 1350 error code.
        code: u16,
        /// The human-readable message (lossy UTF-8).
        message: String,
    },
    /// Option acknowledgement (only a client receives these).
    Oack(Vec<(String, String)>),
}

/// Why a datagram is not a TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketError {
    /// Shorter than its opcode and fixed fields.
    Truncated,
    /// Opcode outside 1..=6.
    UnknownOpcode(u16),
    /// A string field is not NUL-terminated.
    Unterminated,
    /// The mode is not octet or netascii.
    BadMode(String),
    /// An option without a value.
    OptionWithoutValue,
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated packet"),
            Self::UnknownOpcode(op) => write!(f, "unknown opcode {op}"),
            Self::Unterminated => f.write_str("string field without terminating NUL"),
            Self::BadMode(m) => write!(f, "unsupported transfer mode {m:?}"),
            Self::OptionWithoutValue => f.write_str("option without a value"),
        }
    }
}

fn u16_at(buf: &[u8], at: usize) -> Result<u16, PacketError> {
    match buf.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(PacketError::Truncated),
    }
}

/// Splits NUL-terminated strings; the last one must be terminated.
fn strings(mut rest: &[u8]) -> Result<Vec<&[u8]>, PacketError> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(PacketError::Unterminated)?;
        out.push(&rest[..end]);
        rest = &rest[end + 1..];
    }
    Ok(out)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_options(fields: &[&[u8]]) -> Result<Vec<(String, String)>, PacketError> {
    // RFC 2347 §2: options follow the mode as name/value pairs of NUL-terminated strings.
    let mut options = Vec::new();
    let mut it = fields.iter();
    while let Some(name) = it.next() {
        let value = it.next().ok_or(PacketError::OptionWithoutValue)?;
        options.push((lossy(name).to_ascii_lowercase(), lossy(value)));
    }
    Ok(options)
}

fn parse_request(body: &[u8]) -> Result<Request<'_>, PacketError> {
    // RFC 1350 §5: | 01/02 | Filename | 0 | Mode | 0 |
    let fields = strings(body)?;
    let (filename, mode, rest) = match fields.as_slice() {
        [filename, mode, rest @ ..] => (*filename, *mode, rest),
        _ => return Err(PacketError::Truncated),
    };
    let mode = match lossy(mode).to_ascii_lowercase().as_str() {
        "octet" => Mode::Octet,
        "netascii" => Mode::Netascii,
        other => return Err(PacketError::BadMode(other.to_owned())),
    };
    Ok(Request {
        filename,
        mode,
        options: parse_options(rest)?,
    })
}

impl<'a> Packet<'a> {
    /// Parses one datagram.
    pub fn parse(buf: &'a [u8]) -> Result<Self, PacketError> {
        let op = u16_at(buf, 0)?;
        let body = buf.get(2..).unwrap_or_default();
        match op {
            OP_RRQ => Ok(Self::Rrq(parse_request(body)?)),
            OP_WRQ => Ok(Self::Wrq(parse_request(body)?)),
            OP_DATA => Ok(Self::Data {
                block: u16_at(buf, 2)?,
                data: buf.get(4..).unwrap_or_default(),
            }),
            OP_ACK => Ok(Self::Ack {
                block: u16_at(buf, 2)?,
            }),
            OP_ERROR => {
                let code = u16_at(buf, 2)?;
                let msg = buf.get(4..).unwrap_or_default();
                // Be lenient: some clients omit the final NUL.
                let msg = msg.split(|&b| b == 0).next().unwrap_or_default();
                Ok(Self::Error {
                    code,
                    message: lossy(msg),
                })
            }
            OP_OACK => {
                let fields = strings(body)?;
                Ok(Self::Oack(parse_options(&fields)?))
            }
            other => Err(PacketError::UnknownOpcode(other)),
        }
    }
}

/// Appends the DATA header for `block` to an empty buffer.
pub fn data_header(buf: &mut Vec<u8>, block: u16) {
    buf.extend_from_slice(&OP_DATA.to_be_bytes());
    buf.extend_from_slice(&block.to_be_bytes());
}

/// An ACK datagram.
pub fn ack(block: u16) -> Vec<u8> {
    let mut v = Vec::with_capacity(4);
    v.extend_from_slice(&OP_ACK.to_be_bytes());
    v.extend_from_slice(&block.to_be_bytes());
    v
}

/// An ERROR datagram (RFC 1350 §5: | 05 | ErrorCode | ErrMsg | 0 |).
pub fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + message.len());
    v.extend_from_slice(&OP_ERROR.to_be_bytes());
    v.extend_from_slice(&(code as u16).to_be_bytes());
    v.extend(message.bytes().filter(|&b| b != 0));
    v.push(0);
    v
}

/// An OACK datagram (RFC 2347 §3: | 06 | opt1 | 0 | value1 | 0 | ...).
pub fn oack(options: &[(String, String)]) -> Vec<u8> {
    let mut v = OP_OACK.to_be_bytes().to_vec();
    for (name, value) in options {
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        v.extend_from_slice(value.as_bytes());
        v.push(0);
    }
    v
}

/// A request datagram (used by clients: the benchmark and tests).
pub fn request(op: u16, filename: &str, mode: &str, options: &[(&str, String)]) -> Vec<u8> {
    let mut v = op.to_be_bytes().to_vec();
    for part in [filename, mode] {
        v.extend_from_slice(part.as_bytes());
        v.push(0);
    }
    for (name, value) in options {
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        v.extend_from_slice(value.as_bytes());
        v.push(0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrq_with_options_parses_names_case_insensitively() {
        let dg = request(OP_RRQ, "a/b.cfg", "OCTET", &[("BlkSize", "1468".into())]);
        let Packet::Rrq(req) = Packet::parse(&dg).unwrap() else {
            panic!("not an RRQ")
        };
        assert_eq!(req.filename, b"a/b.cfg");
        assert_eq!(req.mode, Mode::Octet);
        assert_eq!(req.options, vec![("blksize".to_owned(), "1468".to_owned())]);
    }

    #[test]
    fn truncated_and_unterminated_packets_are_errors() {
        assert_eq!(Packet::parse(&[0]), Err(PacketError::Truncated));
        assert_eq!(Packet::parse(&[0, 4, 1]), Err(PacketError::Truncated));
        assert_eq!(
            Packet::parse(b"\x00\x01file\x00octet"),
            Err(PacketError::Unterminated)
        );
        assert_eq!(
            Packet::parse(b"\x00\x09"),
            Err(PacketError::UnknownOpcode(9))
        );
    }

    #[test]
    fn nul_inside_a_filename_makes_the_mode_invalid() {
        let dg = b"\x00\x01ok\x00../../etc/passwd\x00octet\x00";
        assert!(matches!(Packet::parse(dg), Err(PacketError::BadMode(_))));
    }

    #[test]
    fn option_without_value_is_an_error() {
        let dg = b"\x00\x01f\x00octet\x00tsize\x00";
        assert_eq!(Packet::parse(dg), Err(PacketError::OptionWithoutValue));
    }

    #[test]
    fn error_round_trips() {
        let dg = error(ErrorCode::OptionRefused, "no");
        assert_eq!(
            Packet::parse(&dg).unwrap(),
            Packet::Error {
                code: 8,
                message: "no".into()
            }
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u32 = 12345;
        for len in 0..200 {
            let dg: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8 % 8
                })
                .collect();
            let _ = Packet::parse(&dg);
        }
    }
}
