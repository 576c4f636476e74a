//! The last signed version of each zone, kept in the state directory so that
//! a restart serves it again, serial and signatures unchanged, when nothing
//! it was made from has changed. Without it every restart re-signed the zone
//! with a new serial, and every secondary transferred the whole zone again.
//!
//! Two files per zone, next to its keys: `signed.wire`, the records in
//! uncompressed wire form after a magic line and a count, and `signed.json`,
//! what the version was made from (the zone file's serial, the key states,
//! the DNSSEC settings) and when its signatures expire. Both are written
//! atomically ([`write_atomic`]: temporary file, fsync, rename, fsync of the
//! folder), the records first, so a crash between the two leaves files that
//! disagree and are ignored, never a partial one. Anything
//! unreadable or inconsistent is ignored with a warning: the zone is then
//! signed afresh, as it would be without these files.

use std::path::{Path, PathBuf};

use headend_util::write_atomic;
use hickory_proto::rr::{LowerName, Name, RecordType};
use serde::{Deserialize, Serialize};

use super::keys;
use super::sign::Signature;
use crate::config::DnssecConfig;
use crate::zone::{Denial, Zone, image};

/// First bytes of `signed.wire`.
const MAGIC: &[u8] = b"headend signed zone v1\n";

/// What a signed version was made from, and its signature times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// The signed zone's serial.
    pub(crate) serial: u32,
    /// The serial of the zone file it was signed from.
    pub(crate) unsigned_serial: u32,
    /// The DNSSEC settings, as `Debug` prints them (any change re-signs).
    pub(crate) config: String,
    /// The key states ([`keys::KeyStore::epoch`]) it was signed with.
    pub(crate) epoch: Vec<(u16, bool, bool, bool)>,
    /// When it was signed (Unix seconds).
    pub(crate) signed_at: i64,
    /// The earliest RRSIG expiration in it.
    pub(crate) expires: i64,
    /// How many records `signed.wire` holds.
    pub(crate) records: usize,
}

impl Meta {
    pub(crate) fn new(
        serial: u32,
        unsigned_serial: u32,
        config: &DnssecConfig,
        epoch: Vec<(u16, bool, bool, bool)>,
        signature: Signature,
        records: usize,
    ) -> Self {
        Self {
            serial,
            unsigned_serial,
            config: config_fingerprint(config),
            epoch,
            signed_at: signature.signed_at,
            expires: signature.expires,
            records,
        }
    }

    pub(crate) fn signature(&self) -> Signature {
        Signature {
            signed_at: self.signed_at,
            expires: self.expires,
        }
    }
}

/// The settings as compared between runs.
pub(crate) fn config_fingerprint(config: &DnssecConfig) -> String {
    format!("{config:?}")
}

fn wire_path(state_dir: &Path, origin: &str) -> PathBuf {
    keys::zone_dir(state_dir, origin).join("signed.wire")
}

fn meta_path(state_dir: &Path, origin: &str) -> PathBuf {
    keys::zone_dir(state_dir, origin).join("signed.json")
}

/// Saves a freshly signed version. Failures are logged, not returned: the
/// zone serves anyway, and the next start signs afresh.
pub(crate) fn save(state_dir: &Path, origin: &str, zone: &Zone, meta: impl FnOnce(usize) -> Meta) {
    let result = image::encode(zone, MAGIC).and_then(|(bytes, count)| {
        let meta = meta(count);
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| e.to_string())?;
        write_atomic(&wire_path(state_dir, origin), &bytes, 0o644).map_err(|e| e.to_string())?;
        write_atomic(&meta_path(state_dir, origin), &json, 0o644).map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        tracing::warn!(
            zone = origin,
            "cannot keep the signed zone for the next start: {e}"
        );
    }
}

/// The saved signed version of `origin`, with its denial chain rebuilt;
/// `None` (after a warning when the files exist but are unusable) otherwise.
pub(crate) fn load(
    state_dir: &Path,
    origin: &Name,
    origin_text: &str,
    file: &Path,
) -> Option<(Zone, Meta)> {
    let meta_file = meta_path(state_dir, origin_text);
    let json = std::fs::read(&meta_file).ok()?;
    let result = (|| {
        let meta: Meta = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
        let bytes = std::fs::read(wire_path(state_dir, origin_text)).map_err(|e| e.to_string())?;
        let zone = image::decode(&bytes, MAGIC, origin, file, Some(meta.records))?;
        if zone.serial() != meta.serial {
            return Err(format!(
                "serial {} in the records, {} in signed.json",
                zone.serial(),
                meta.serial
            ));
        }
        let denial = denial_of(&zone)?;
        Ok((zone.with_dnssec(denial), meta))
    })();
    match result {
        Ok(found) => Some(found),
        Err(e) => {
            tracing::warn!(zone = origin_text, "ignoring the saved signed zone: {e}");
            None
        }
    }
}

/// The denial chain of a signed zone, rebuilt from its NSEC or NSEC3 records
/// (what [`super::sign::sign_zone`] computed when it made them).
pub(crate) fn denial_of(zone: &Zone) -> Result<Denial, String> {
    let apex = zone
        .node(zone.lower_origin())
        .ok_or_else(|| "no apex".to_owned())?;
    if let Some(param) = apex.rrset(RecordType::NSEC3PARAM) {
        let (salt, iterations) = match param.first_rdata().as_deref() {
            Some(hickory_proto::rr::RData::DNSSEC(
                hickory_proto::dnssec::rdata::DNSSECRData::NSEC3PARAM(p),
            )) => (p.salt().to_vec(), p.iterations()),
            _ => return Err("NSEC3PARAM without data".to_owned()),
        };
        let mut hashes: Vec<(Vec<u8>, LowerName)> = Vec::new();
        for (owner, node) in zone.nodes() {
            if node.rrset(RecordType::NSEC3).is_none() {
                continue;
            }
            let label = owner
                .iter()
                .next()
                .ok_or_else(|| format!("NSEC3 at the root: {owner}"))?;
            let hash = base32hex_decode(label)
                .ok_or_else(|| format!("NSEC3 owner is not a base32hex hash: {owner}"))?;
            hashes.push((hash, owner.clone()));
        }
        hashes.sort();
        Ok(Denial::Nsec3 {
            salt,
            iterations,
            hashes,
        })
    } else {
        let mut names: Vec<Name> = zone
            .nodes()
            .filter(|(_, node)| node.rrset(RecordType::NSEC).is_some())
            .map(|(owner, _)| Name::clone(owner))
            .collect();
        if names.is_empty() {
            return Err("neither NSEC nor NSEC3 records".to_owned());
        }
        names.sort();
        Ok(Denial::Nsec(names))
    }
}

/// RFC 4648 §7 base32hex without padding, either case.
fn base32hex_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &c in text {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'v' => c - b'a' + 10,
            b'A'..=b'V' => c - b'A' + 10,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32hex_round_trips_with_the_signer() {
        for bytes in [
            vec![],
            vec![0u8],
            vec![0xff; 20],
            (0..20).collect::<Vec<u8>>(),
        ] {
            let text = super::super::sign::base32hex(&bytes);
            assert_eq!(base32hex_decode(text.as_bytes()).unwrap(), bytes, "{text}");
        }
        assert!(base32hex_decode(b"xyz").is_none());
    }
}
