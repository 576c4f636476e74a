//! Operator commands on the DNSSEC state of a zone, run from the command
//! line against the state directory while the server runs or not:
//! `headend dnssec ds`, `rollover` and `ksk-submitted`. The running server's
//! signer picks up what they write (it watches the key state file).
//!
//! They sit above the service (a ZSK rollover loads the zone to learn its
//! largest TTL) and the signer's key store; nothing in the crate uses them.

use std::path::Path;

use headend_util::time::rfc3339;
use headend_util::unix_now_secs as unix_now;
use hickory_proto::dnssec::DigestType;
use hickory_proto::rr::LowerName;

use crate::dnssec::keys::{self, KeyStore};
use crate::service::load_zone;
use crate::zone::{RRset, parse_origin};
use crate::{DnsConfig, DnsError, DnssecConfig, ZoneConfig};

/// The config of `zone` and its DNSSEC settings; an error when the zone is
/// not configured or not signed.
fn zone_config<'c>(
    config: &'c DnsConfig,
    zone: &str,
) -> Result<(&'c ZoneConfig, &'c DnssecConfig), DnsError> {
    let wanted = LowerName::new(&parse_origin(zone)?);
    config
        .zones
        .iter()
        .find(|zc| parse_origin(&zc.origin).is_ok_and(|o| LowerName::new(&o) == wanted))
        .and_then(|zc| zc.dnssec.as_ref().map(|d| (zc, d)))
        .ok_or_else(|| DnsError::UnknownZone {
            zone: format!("{zone} (not a zone with dnssec configured)"),
        })
}

/// `headend dnssec ds ZONE`: the DS records the parent should publish, one
/// line each in zone-file syntax (generating the keys if there are none yet).
pub fn ds_records(
    config: &DnsConfig,
    state_dir: &Path,
    zone: &str,
) -> Result<Vec<String>, DnsError> {
    let (zc, d) = zone_config(config, zone)?;
    let now = unix_now();
    let store = KeyStore::load(state_dir, &zc.origin, d, now)?;
    let origin = parse_origin(&zc.origin)?;
    let mut out = Vec::new();
    // Every KSK whose DS is current or announced (during a rollover both).
    for k in store.loaded.iter().filter(|k| {
        matches!(k.record.role, keys::Role::Ksk | keys::Role::Csk) && k.record.published(now)
    }) {
        let digest = k
            .dnskey
            .to_digest(&origin, DigestType::SHA256)
            .map_err(|e| DnsError::Signing {
                zone: zc.origin.clone(),
                reason: e.to_string(),
            })?;
        out.push(format!(
            "{origin} {} IN DS {} {} 2 {}",
            d.dnskey_ttl,
            k.record.tag,
            k.record.algorithm,
            hex::encode_upper(digest.as_ref())
        ));
    }
    Ok(out)
}

/// One key of a signed zone as an operator reads it: what it is, the state
/// it is in now, and its timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct KeyStatus {
    /// The key tag.
    pub tag: u16,
    /// `ksk`, `zsk` or `csk`.
    pub role: &'static str,
    /// The DNSSEC algorithm number.
    pub algorithm: u8,
    /// Now: `scheduled` (not yet published), `published` (in the DNSKEY set,
    /// not signing), `active` (signing), `retired` (published, no longer
    /// signing) or `removed`.
    pub state: &'static str,
    /// Whether its CDS/CDNSKEY are published now (KSK/CSK).
    pub in_cds: bool,
    /// Unix seconds of the timeline: publish, activate, retire, remove, and
    /// when the parent was seen serving its DS.
    pub publish: i64,
    /// See `publish`.
    pub active: i64,
    /// See `publish`.
    pub retire: Option<i64>,
    /// See `publish`.
    pub remove: Option<i64>,
    /// See `publish`.
    pub ds_seen: Option<i64>,
}

/// The keys of a signed zone and the state each is in at `now`, read from
/// the key state file (nothing is generated or written).
pub fn key_states(
    config: &DnsConfig,
    state_dir: &Path,
    zone: &str,
    now: i64,
) -> Result<Vec<KeyStatus>, DnsError> {
    let (zc, _) = zone_config(config, zone)?;
    let file = keys::zone_dir(state_dir, &zc.origin).join("keys.json");
    let state: keys::KeyState = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| DnsError::State {
            file: file.clone(),
            reason: format!("damaged key state: {e}"),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => keys::KeyState::default(),
        Err(e) => {
            return Err(DnsError::State {
                file,
                reason: format!("cannot read: {e}"),
            });
        }
    };
    Ok(state
        .keys
        .iter()
        .map(|k| KeyStatus {
            tag: k.tag,
            role: match k.role {
                keys::Role::Ksk => "ksk",
                keys::Role::Zsk => "zsk",
                keys::Role::Csk => "csk",
            },
            algorithm: k.algorithm,
            state: if k.signing(now) {
                "active"
            } else if k.published(now) {
                if k.active > now {
                    "published"
                } else {
                    "retired"
                }
            } else if k.publish > now {
                "scheduled"
            } else {
                "removed"
            },
            in_cds: k.in_cds(now),
            publish: k.publish,
            active: k.active,
            retire: k.retire,
            remove: k.remove,
            ds_seen: k.ds_seen,
        })
        .collect())
}

/// When the last key other than `tag` leaves the zone (`now` if none is scheduled).
fn others_removed_at(store: &KeyStore, tag: u16, now: i64) -> i64 {
    store
        .state
        .keys
        .iter()
        .filter(|k| k.tag != tag)
        .filter_map(|k| k.remove)
        .max()
        .unwrap_or(now)
}

/// `headend dnssec ksk-submitted ZONE`: the operator confirms that the
/// parent serves the DS of the KSK a rollover waits for (when no `parent`
/// servers are configured to check, or to skip the wait). The old KSK is
/// then removed once the parent's old DS has expired from caches.
pub fn ksk_submitted(config: &DnsConfig, state_dir: &Path, zone: &str) -> Result<String, DnsError> {
    let (zc, d) = zone_config(config, zone)?;
    let now = unix_now();
    let mut store = KeyStore::load(state_dir, &zc.origin, d, now)?;
    let Some(tag) = store.awaiting_ds(now).map(|k| k.tag) else {
        return Err(DnsError::Usage {
            reason: format!(
                "no KSK of {} is waiting for its DS (`headend dnssec rollover {} --ksk` starts a rollover; its CDS appear after the DNSKEY TTL)",
                zc.origin, zc.origin
            ),
        });
    };
    match store.ksk_submitted(d, tag, now)? {
        Some(at) => Ok(format!(
            "DS of KSK {tag} of {} confirmed; the old KSK is removed at {}",
            zc.origin,
            rfc3339(at)
        )),
        None => Ok(format!("DS of KSK {tag} of {} confirmed", zc.origin)),
    }
}

/// `headend dnssec rollover ZONE --zsk|--ksk`: starts a rollover whose steps
/// the running server's scheduler carries out. Returns a summary for the operator.
pub fn rollover(
    config: &DnsConfig,
    state_dir: &Path,
    zone: &str,
    ksk: bool,
) -> Result<String, DnsError> {
    let (zc, d) = zone_config(config, zone)?;
    let now = unix_now();
    let mut store = KeyStore::load(state_dir, &zc.origin, d, now)?;
    if ksk {
        let tag = store.rollover_ksk(d, now)?;
        let k = store.state.keys.iter().find(|k| k.tag == tag);
        if !d.parent.is_empty() {
            return Ok(format!(
                "KSK rollover (double-KSK, RFC 6781 §4.1.2) started for {}: new KSK {tag} published and signing the DNSKEY RRset now; CDS/CDNSKEY switch to it at {} (put its DS at the parent then: `headend dnssec ds {}`); the server asks the parent ({}) every {} s from then, and the old KSK is removed {} s after every parent serves the new DS (or after `headend dnssec ksk-submitted {}`)",
                zc.origin,
                rfc3339(k.and_then(|k| k.ds_publish).unwrap_or(now)),
                zc.origin,
                d.parent
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                d.parent_check_interval_secs,
                u64::from(d.parent_ds_ttl) + u64::from(d.propagation_delay_secs),
                zc.origin,
            ));
        }
        Ok(format!(
            "KSK rollover (double-KSK, RFC 6781 §4.1.2) started for {}: new KSK {tag} published and signing the DNSKEY RRset now; CDS/CDNSKEY switch to it at {} (put its DS at the parent then: `headend dnssec ds {}`); the old KSK is removed at {}",
            zc.origin,
            rfc3339(k.and_then(|k| k.ds_publish).unwrap_or(now)),
            zc.origin,
            rfc3339(others_removed_at(&store, tag, now))
        ))
    } else {
        let max_ttl = load_zone(zc)
            .map(|l| {
                l.zone
                    .nodes()
                    .flat_map(|(_, n)| n.rrsets())
                    .map(RRset::ttl)
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(86_400);
        let tag = store.rollover_zsk(d, max_ttl, now)?;
        let k = store.state.keys.iter().find(|k| k.tag == tag);
        Ok(format!(
            "ZSK rollover (pre-publish, RFC 6781 §4.1.1.1) started for {}: new ZSK {tag} published now, signing from {}; the old ZSK is removed at {}",
            zc.origin,
            rfc3339(k.map_or(now, |k| k.active)),
            rfc3339(others_removed_at(&store, tag, now))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_564_991), "2026-11-25T00:03:11Z");
    }
}
