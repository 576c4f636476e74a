//! The signer's state machine: per zone, the keys, the last signed version
//! and its signature times; it decides when a zone must be (re-)signed, signs
//! it ([`super::sign`]), keeps the signed serial and the signed version in the
//! state directory ([`super::persist`]) and takes a saved version up again
//! after a restart. Every decision is a function of that state and the time
//! given.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use headend_util::write_atomic;
use hickory_proto::rr::LowerName;

use super::keys::{self, KeyStore};
use super::persist;
use super::sign::{self, Signature};
use super::submission;
use crate::config::DnssecConfig;
use crate::zone::{Diff, Zone, parse_origin, serial_lt};
use crate::{DnsConfig, DnsError};

/// The signing state of one zone.
struct ZoneSigning {
    origin: String,
    config: DnssecConfig,
    keys: KeyStore,
    keys_mtime: Option<std::time::SystemTime>,
    /// The unsigned zone last signed (serial, record count) and the result.
    unsigned: Option<(u32, usize)>,
    signed: Option<Arc<Zone>>,
    serial: Option<u32>,
    signature: Option<Signature>,
    epoch: Vec<(u16, bool, bool, bool)>,
    /// When the parent was last asked for an awaited DS.
    last_parent_check: Option<i64>,
    /// When the signed version was last written to the state dir, and
    /// whether a newer one waits to be.
    saved_at: Option<std::time::Instant>,
    unsaved: bool,
}

/// Signed versions made more often than this (a stream of updates) are
/// written to the state dir at most this often; the scheduler writes the
/// last one ([`Signer::save_pending`]). Updates themselves are durable in
/// their journal: a crash in between costs a full re-sign at the next
/// start, nothing more.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Writes the signed serial and version of `entry` to the state dir.
fn save_state(state_dir: &Path, entry: &mut ZoneSigning) {
    let (Some(zone), Some(serial), Some(signature), Some((file_serial, _))) = (
        entry.signed.clone(),
        entry.serial,
        entry.signature,
        entry.unsigned,
    ) else {
        return;
    };
    write_serial(state_dir, &entry.origin, serial);
    persist::save(state_dir, &entry.origin, &zone, |records| {
        persist::Meta::new(
            serial,
            file_serial,
            &entry.config,
            entry.epoch.clone(),
            signature,
            records,
        )
    });
    entry.saved_at = Some(std::time::Instant::now());
    entry.unsaved = false;
}

/// The signing state of one DNSSEC-signed zone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignedZone {
    /// The zone's origin as configured.
    pub origin: String,
    /// Unix seconds of the earliest RRSIG expiration in the served version
    /// (`None` before its first signing).
    pub rrsig_expires: Option<i64>,
    /// Unix seconds of the next key event (publish, activate, retire, ...).
    pub next_key_event: Option<i64>,
}

/// Per-zone DNSSEC signing for the DNS service.
pub(crate) struct Signer {
    state_dir: PathBuf,
    configs: std::sync::RwLock<HashMap<LowerName, (String, DnssecConfig)>>,
    zones: Mutex<HashMap<LowerName, ZoneSigning>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("zones", &self.configs().keys().cloned().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The state directory holding the zones' keys.
    pub(crate) fn state_dir(&self) -> &Path {
        &self.state_dir
    }
}

fn keys_file(state_dir: &Path, origin: &str) -> PathBuf {
    keys::zone_dir(state_dir, origin).join("keys.json")
}

fn mtime(file: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

impl Signer {
    /// The signer for every zone with `dnssec` configured.
    pub(crate) fn new(config: &DnsConfig, state_dir: &Path) -> Result<Self, DnsError> {
        Ok(Self {
            state_dir: state_dir.to_owned(),
            configs: std::sync::RwLock::new(signing_configs(config)?),
            zones: Mutex::new(HashMap::new()),
        })
    }

    /// Takes the DNSSEC settings of a new `[dns]` section. A zone whose
    /// settings changed is signed afresh at its next load.
    pub(crate) fn reconfigure(&self, config: &DnsConfig) -> Result<(), DnsError> {
        let configs = signing_configs(config)?;
        let mut zones = self.zones();
        zones.retain(|origin, entry| configs.get(origin).is_some_and(|(_, c)| *c == entry.config));
        *self
            .configs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = configs;
        Ok(())
    }

    fn configs(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<LowerName, (String, DnssecConfig)>> {
        self.configs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn zones(&self) -> std::sync::MutexGuard<'_, HashMap<LowerName, ZoneSigning>> {
        self.zones
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Signs a freshly loaded zone when DNSSEC is configured for it; returns
    /// it unchanged otherwise. The signed serial is the file's, or one above
    /// the last signed serial when the file's is not newer.
    pub(crate) fn prepare(&self, unsigned: Zone, now: i64) -> Result<Zone, DnsError> {
        self.prepare_with(unsigned, now, false)
    }

    /// [`Signer::prepare`] for a dynamic update: the signed version is
    /// written to the state dir at most every [`SAVE_EVERY`].
    pub(crate) fn prepare_update(&self, unsigned: Zone, now: i64) -> Result<Zone, DnsError> {
        self.prepare_with(unsigned, now, true)
    }

    fn prepare_with(&self, unsigned: Zone, now: i64, defer: bool) -> Result<Zone, DnsError> {
        let Some((origin, config)) = self.configs().get(unsigned.lower_origin()).cloned() else {
            // A zone signed elsewhere is served as it is: RRSIGs and the
            // NSEC/NSEC3 chain come from the file, nothing is re-signed.
            return Ok(match unsigned.file_denial() {
                Some(denial) => unsigned.with_dnssec(denial),
                None => unsigned,
            });
        };
        let mut zones = self.zones();
        let entry = match zones.remove(unsigned.lower_origin()) {
            Some(e) => e,
            None => {
                let file = keys_file(&self.state_dir, &origin);
                let keys = KeyStore::load(&self.state_dir, &origin, &config, now)?;
                let mut entry = ZoneSigning {
                    serial: read_serial(&self.state_dir, &origin),
                    origin: origin.clone(),
                    config,
                    keys,
                    keys_mtime: mtime(&file),
                    unsigned: None,
                    signed: None,
                    signature: None,
                    epoch: Vec::new(),
                    last_parent_check: None,
                    saved_at: None,
                    unsaved: false,
                };
                // First load since start: the version signed before, if it
                // was made from this very zone file, keys and settings.
                resume(&self.state_dir, &mut entry, &unsigned, now);
                entry
            }
        };
        let key = unsigned.lower_origin().clone();
        let same = entry.unsigned == Some((unsigned.serial(), unsigned.record_count()));
        if same
            && let Some(signed) = &entry.signed
            && !needs_resign(&entry, now)
        {
            let out = Zone::clone(signed);
            zones.insert(key, entry);
            return Ok(out);
        }
        let result = sign_entry(&self.state_dir, entry, &unsigned, now, defer);
        match result {
            Ok((entry, zone)) => {
                zones.insert(key, entry);
                Ok(zone)
            }
            Err(failed) => {
                let (entry, e) = *failed;
                zones.insert(key, entry);
                Err(e)
            }
        }
    }

    /// Writes every signed version not yet in the state dir (see
    /// [`SAVE_EVERY`]).
    pub(crate) fn save_pending(&self) {
        let mut zones = self.zones();
        for entry in zones.values_mut() {
            if entry.unsaved && entry.saved_at.is_none_or(|t| t.elapsed() >= SAVE_EVERY) {
                save_state(&self.state_dir, entry);
            }
        }
    }

    /// Zones whose signatures must be refreshed or whose keys changed state
    /// (a rollover step, or `headend dnssec rollover` wrote new keys) at `now`.
    pub(crate) fn due(&self, now: i64) -> Vec<LowerName> {
        let mut zones = self.zones();
        let mut out = Vec::new();
        for (origin, entry) in zones.iter_mut() {
            let file = keys_file(&self.state_dir, &entry.origin);
            let m = mtime(&file);
            if m != entry.keys_mtime {
                match KeyStore::load(&self.state_dir, &entry.origin, &entry.config, now) {
                    Ok(k) => {
                        tracing::info!(zone = %entry.origin, "DNSSEC key state changed on disk; reloaded");
                        entry.keys = k;
                        entry.keys_mtime = m;
                    }
                    Err(e) => tracing::error!(zone = %entry.origin, "{e}"),
                }
            }
            if needs_resign(entry, now) {
                out.push(origin.clone());
            }
        }
        out
    }

    /// Re-signs the zone last signed for `origin` (same data, new signatures
    /// and serial). `None` when the zone is not signed here.
    pub(crate) fn resign(&self, origin: &LowerName, now: i64) -> Option<Result<Zone, DnsError>> {
        let mut zones = self.zones();
        let entry = zones.remove(origin)?;
        let Some(signed) = entry.signed.clone() else {
            zones.insert(origin.clone(), entry);
            return None;
        };
        let unsigned = strip(&signed);
        let result = match sign_entry(&self.state_dir, entry, &unsigned, now, false) {
            Ok((entry, zone)) => {
                zones.insert(origin.clone(), entry);
                Ok(zone)
            }
            Err(failed) => {
                let (entry, e) = *failed;
                zones.insert(origin.clone(), entry);
                Err(e)
            }
        };
        Some(result)
    }

    /// Per signed zone: its origin, the earliest RRSIG expiration of its
    /// served version and its next key event (Unix seconds), for metrics.
    pub(crate) fn signature_status(&self, now: i64) -> Vec<SignedZone> {
        let zones = self.zones();
        let mut out: Vec<_> = zones
            .values()
            .map(|e| SignedZone {
                origin: e.origin.clone(),
                rrsig_expires: e.signature.map(|s| s.expires),
                next_key_event: e.keys.next_event(now),
            })
            .collect();
        out.sort_by(|a, b| a.origin.cmp(&b.origin));
        out
    }

    /// The earliest moment any zone needs attention (for the scheduler's sleep).
    pub(crate) fn next_wakeup(&self, now: i64) -> Option<i64> {
        let zones = self.zones();
        zones
            .values()
            .filter_map(|e| {
                let refresh = e
                    .signature
                    .map(|s| s.signed_at + i64::from(e.config.refresh_days) * 86_400);
                [refresh, e.keys.next_event(now), parent_check_at(e, now)]
                    .into_iter()
                    .flatten()
                    .min()
            })
            .min()
    }

    /// The awaited DS records whose parents are due to be asked at `now`
    /// (KSK rollovers with `parent` servers configured); each is then not
    /// due again for `parent_check_interval_secs`.
    pub(crate) fn submissions_due(&self, now: i64) -> Vec<submission::Submission> {
        let mut zones = self.zones();
        let mut out = Vec::new();
        for (origin, entry) in zones.iter_mut() {
            if parent_check_at(entry, now).is_none_or(|t| t > now) {
                continue;
            }
            let Some(tag) = entry.keys.awaiting_ds(now).map(|k| k.tag) else {
                continue;
            };
            let Some(dnskey) = entry
                .keys
                .loaded
                .iter()
                .find(|k| k.record.tag == tag)
                .map(|k| k.dnskey.clone())
            else {
                continue;
            };
            let Ok(zone) = parse_origin(&entry.origin) else {
                continue;
            };
            entry.last_parent_check = Some(now);
            out.push(submission::Submission {
                origin: origin.clone(),
                zone,
                tag,
                dnskey,
                parents: entry.config.parent.clone(),
            });
        }
        out
    }

    /// Every parent serves the DS of KSK `tag` of `origin` at `now`: the old
    /// KSK's removal is scheduled ([`KeyStore::ksk_submitted`]). Returns when
    /// it goes.
    pub(crate) fn ds_seen(
        &self,
        origin: &LowerName,
        tag: u16,
        now: i64,
    ) -> Result<Option<i64>, DnsError> {
        let mut zones = self.zones();
        let Some(entry) = zones.get_mut(origin) else {
            return Ok(None);
        };
        let removal = entry.keys.ksk_submitted(&entry.config, tag, now)?;
        entry.keys_mtime = mtime(&keys_file(&self.state_dir, &entry.origin));
        Ok(removal)
    }
}

/// The DNSSEC settings of every signed zone of a `[dns]` section, checked.
fn signing_configs(
    config: &DnsConfig,
) -> Result<HashMap<LowerName, (String, DnssecConfig)>, DnsError> {
    let mut configs = HashMap::new();
    for zc in &config.zones {
        if let Some(d) = &zc.dnssec {
            validate(&zc.origin, d)?;
            let origin = parse_origin(&zc.origin)?;
            configs.insert(LowerName::new(&origin), (zc.origin.clone(), d.clone()));
        }
    }
    Ok(configs)
}

/// When the parent should next be asked for an awaited DS, if one is awaited.
fn parent_check_at(entry: &ZoneSigning, now: i64) -> Option<i64> {
    if entry.config.parent.is_empty() {
        return None;
    }
    entry.keys.awaiting_ds(now)?;
    Some(entry.last_parent_check.map_or(now, |t| {
        t + i64::from(entry.config.parent_check_interval_secs.max(1))
    }))
}

/// RFC 6781 §4.4.1: refresh signatures well before they expire; and re-sign
/// whenever a key changes state.
fn needs_resign(entry: &ZoneSigning, now: i64) -> bool {
    let Some(sig) = entry.signature else {
        return true;
    };
    let refresh_at = sig.signed_at + i64::from(entry.config.refresh_days) * 86_400;
    now >= refresh_at || now >= sig.expires - 3600 || entry.keys.epoch(now) != entry.epoch
}

/// The unsigned data of a signed zone (for re-signing it).
fn strip(signed: &Zone) -> Zone {
    use crate::zonefile::{ParsedZone, SourceRecord};
    let file: Arc<Path> = Arc::from(signed.file().as_path());
    let records = signed
        .nodes()
        .flat_map(|(owner, n)| n.rrsets().iter().map(move |s| (owner, s)))
        .filter(|(_, s)| {
            !matches!(
                s.rtype,
                hickory_proto::rr::RecordType::RRSIG
                    | hickory_proto::rr::RecordType::NSEC
                    | hickory_proto::rr::RecordType::NSEC3
                    | hickory_proto::rr::RecordType::NSEC3PARAM
                    | hickory_proto::rr::RecordType::DNSKEY
                    | hickory_proto::rr::RecordType::CDS
                    | hickory_proto::rr::RecordType::CDNSKEY
            )
        })
        .flat_map(|(owner, s)| s.records(owner))
        .map(|record| SourceRecord {
            record,
            file: Arc::clone(&file),
            line: 0,
        })
        .collect();
    let parsed = ParsedZone {
        origin: signed.origin().clone(),
        file: signed.file().clone(),
        records,
    };
    Zone::from_parsed(parsed).unwrap_or_else(|| signed.clone())
}

type Signed = Result<(ZoneSigning, Zone), Box<(ZoneSigning, DnsError)>>;

fn sign_entry(
    state_dir: &Path,
    mut entry: ZoneSigning,
    unsigned: &Zone,
    now: i64,
    defer: bool,
) -> Signed {
    if entry.keys.forget_removed(now)
        && let Err(e) = entry.keys.save()
    {
        tracing::warn!(zone = %entry.origin, "{e}");
    }
    let file_serial = unsigned.serial();
    let serial = match entry.serial {
        Some(last) if !serial_lt(last, file_serial) => last.wrapping_add(1),
        _ => file_serial,
    };
    // Signatures of unchanged RRsets are kept from the version signed
    // before (while fresh): only what changed is signed again.
    let previous = entry.signed.clone();
    match sign::sign_zone(
        unsigned,
        &entry.keys,
        &entry.config,
        serial,
        now,
        previous.as_deref(),
    ) {
        Ok((zone, denial, signature)) => {
            let zone = zone.with_dnssec(denial);
            entry.unsigned = Some((file_serial, unsigned.record_count()));
            entry.signed = Some(Arc::new(zone.clone()));
            entry.serial = Some(serial);
            entry.signature = Some(signature);
            entry.epoch = entry.keys.epoch(now);
            entry.unsaved = true;
            if !defer || entry.saved_at.is_none_or(|t| t.elapsed() >= SAVE_EVERY) {
                save_state(state_dir, &mut entry);
            }
            tracing::info!(zone = %entry.origin, serial, expires = signature.expires, "zone signed");
            Ok((entry, zone))
        }
        Err(e) => Err(Box::new((entry, e))),
    }
}

/// Takes up the signed version saved by an earlier run when it was made from
/// the same zone data (every record but the SOA serial), the same key states
/// and the same settings: the zone then keeps its serial and signatures over
/// a restart, and secondaries have nothing to transfer. Otherwise the entry
/// is left as it was and the zone is signed afresh.
fn resume(state_dir: &Path, entry: &mut ZoneSigning, unsigned: &Zone, now: i64) {
    let Some((zone, meta)) =
        persist::load(state_dir, unsigned.origin(), &entry.origin, unsigned.file())
    else {
        return;
    };
    let epoch = entry.keys.epoch(now);
    let stripped = strip(&zone);
    let mut diff = Diff::between(&stripped, unsigned);
    // A generated ZONEMD is made at signing (replacing any in the file), so
    // it is no change of the zone data.
    if entry.config.zonemd.is_some() {
        let generated = |r: &hickory_proto::rr::Record| {
            crate::zone::zonemd::is_zonemd(r.record_type()) && &r.name == unsigned.origin()
        };
        diff.added.retain(|r| !generated(r));
        diff.removed.retain(|r| !generated(r));
    }
    let soa_same = match (&stripped.soa().data, &unsigned.soa().data) {
        (hickory_proto::rr::RData::SOA(a), hickory_proto::rr::RData::SOA(b)) => {
            let mut a = a.clone();
            a.serial = b.serial;
            a == *b && stripped.soa().ttl == unsigned.soa().ttl
        }
        _ => false,
    };
    if meta.unsigned_serial != unsigned.serial()
        || meta.config != persist::config_fingerprint(&entry.config)
        || meta.epoch != epoch
        || !soa_same
        || !diff.removed.is_empty()
        || !diff.added.is_empty()
    {
        tracing::info!(zone = %entry.origin, "zone data, keys or settings changed since the last signing: signing afresh");
        return;
    }
    tracing::info!(zone = %entry.origin, serial = meta.serial, expires = meta.expires, "serving the zone as signed before the restart");
    entry.unsigned = Some((unsigned.serial(), unsigned.record_count()));
    entry.signed = Some(Arc::new(zone));
    entry.serial = Some(meta.serial);
    entry.signature = Some(meta.signature());
    entry.epoch = meta.epoch;
}

fn serial_path(state_dir: &Path, origin: &str) -> PathBuf {
    keys::zone_dir(state_dir, origin).join("serial")
}

fn read_serial(state_dir: &Path, origin: &str) -> Option<u32> {
    std::fs::read_to_string(serial_path(state_dir, origin))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn write_serial(state_dir: &Path, origin: &str, serial: u32) {
    let path = serial_path(state_dir, origin);
    if let Err(e) = write_atomic(&path, format!("{serial}\n").as_bytes(), 0o644) {
        tracing::warn!(
            zone = origin,
            "{}: cannot record the signed serial: {e}",
            path.display()
        );
    }
}

fn validate(origin: &str, d: &DnssecConfig) -> Result<(), DnsError> {
    let bad = |reason: String| DnsError::Signing {
        zone: origin.to_owned(),
        reason,
    };
    if d.refresh_days == 0 || d.refresh_days >= d.signature_validity_days {
        return Err(bad(format!(
            "refresh_days ({}) must be at least 1 and below signature_validity_days ({})",
            d.refresh_days, d.signature_validity_days
        )));
    }
    if hex::decode(&d.nsec3_salt).is_err() {
        return Err(bad(format!("nsec3_salt {:?} is not hex", d.nsec3_salt)));
    }
    // RFC 9276 §3.1: "MUST NOT" use more than 0 iterations is not required,
    // but validators treat high counts as insecure (RFC 9276 §3.2).
    if d.nsec3_iterations > 100 {
        return Err(bad(format!(
            "nsec3_iterations {} is above 100: validators treat the zone as insecure (RFC 9276 §3.2); use 0",
            d.nsec3_iterations
        )));
    }
    Ok(())
}
