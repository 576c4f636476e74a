//! A zone's records as one file image: what the state directory keeps of a
//! served version (the last signed version of a signed zone, the last
//! version secondaries were sent), to serve it again or to compute the
//! difference to the next one after a restart.
//!
//! Format: a magic line naming the kind of image, the record count (u64,
//! big-endian), then every record in uncompressed wire form after its
//! length (two octets).

use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::{Name, Record};
use hickory_proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder, NameEncoding,
};

use super::Zone;
use crate::zonefile::{ParsedZone, SourceRecord};

/// Every record of `zone` after `magic`; returns the image and the count.
pub(crate) fn encode(zone: &Zone, magic: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut out = Vec::from(magic);
    out.extend_from_slice(&[0; 8]);
    let mut count = 0u64;
    let mut one = Vec::with_capacity(512);
    for (owner, node) in zone.nodes() {
        for set in node.rrsets() {
            for r in set.records(owner) {
                one.clear();
                let mut enc = BinEncoder::new(&mut one);
                enc.set_name_encoding(NameEncoding::Uncompressed);
                r.emit(&mut enc).map_err(|e| e.to_string())?;
                let len = u16::try_from(one.len()).map_err(|e| e.to_string())?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&one);
                count += 1;
            }
        }
    }
    if let Some(slot) = out.get_mut(magic.len()..magic.len() + 8) {
        slot.copy_from_slice(&count.to_be_bytes());
    }
    Ok((out, usize::try_from(count).unwrap_or(usize::MAX)))
}

/// The zone held by an image written with `magic`; `expected`, when known,
/// is the record count it must hold. `file` is the zone file it stands for.
pub(crate) fn decode(
    bytes: &[u8],
    magic: &[u8],
    origin: &Name,
    file: &Path,
    expected: Option<usize>,
) -> Result<Zone, String> {
    let rest = bytes
        .strip_prefix(magic)
        .ok_or_else(|| "not a zone image of this kind".to_owned())?;
    let (count, body) = rest
        .split_first_chunk::<8>()
        .ok_or_else(|| "truncated".to_owned())?;
    let count = usize::try_from(u64::from_be_bytes(*count)).map_err(|e| e.to_string())?;
    if let Some(expected) = expected
        && count != expected
    {
        return Err(format!("{count} records, {expected} expected"));
    }
    let shared: Arc<Path> = Arc::from(file);
    let mut records = Vec::with_capacity(count.min(body.len() / 13 + 1));
    let mut rest = body;
    for _ in 0..count {
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or_else(|| "truncated".to_owned())?;
        let len = usize::from(u16::from_be_bytes(*len));
        let (one, tail) = tail
            .split_at_checked(len)
            .ok_or_else(|| "truncated".to_owned())?;
        let mut dec = BinDecoder::new(one);
        let record = Record::read(&mut dec).map_err(|e| e.to_string())?;
        if !dec.is_empty() {
            return Err("a record longer than its data".to_owned());
        }
        records.push(SourceRecord {
            record,
            file: Arc::clone(&shared),
            line: 0,
        });
        rest = tail;
    }
    if !rest.is_empty() {
        return Err("trailing bytes after the records".to_owned());
    }
    let parsed = ParsedZone {
        origin: origin.clone(),
        file: file.to_path_buf(),
        records,
    };
    Zone::from_parsed(parsed).ok_or_else(|| "no SOA at the apex".to_owned())
}
