//! DNSSEC keys of one zone: generated on first use, kept in the state
//! directory (private keys 0600), and their timeline (publish, activate,
//! retire, remove; DS publication for KSKs) as RFC 6781 rollovers set it.
//!
//! Everything here is a pure function of the stored state and `now`; only
//! [`KeyStore::load`] and [`KeyStore::save`] touch the disk.

use std::path::{Path, PathBuf};

use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey, signing_key_from_der};
use hickory_proto::dnssec::rdata::DNSKEY;
use hickory_proto::dnssec::{Algorithm, SigningKey};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

use headend_util::{safe_file_name, write_atomic};

use crate::DnsError;
use crate::config::{DnssecAlgorithm, DnssecConfig, KeyScheme};

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Key-signing key: signs the DNSKEY RRset; its DS is at the parent.
    Ksk,
    /// Zone-signing key: signs everything else.
    Zsk,
    /// Combined signing key: both.
    Csk,
}

impl Role {
    fn signs_keys(self) -> bool {
        matches!(self, Self::Ksk | Self::Csk)
    }

    fn signs_zone(self) -> bool {
        matches!(self, Self::Zsk | Self::Csk)
    }
}

/// One key's record in `keys.json`: its file and its timeline (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key tag (RFC 4034 Appendix B).
    pub tag: u16,
    /// KSK, ZSK or CSK.
    pub role: Role,
    /// DNSSEC algorithm number.
    pub algorithm: u8,
    /// PKCS#8 private key file, relative to the zone's key folder.
    pub file: String,
    /// When the DNSKEY appears in the zone.
    pub publish: i64,
    /// When the key starts signing.
    pub active: i64,
    /// When it stops signing (None: not scheduled).
    #[serde(default)]
    pub retire: Option<i64>,
    /// When its DNSKEY leaves the zone.
    #[serde(default)]
    pub remove: Option<i64>,
    /// KSK/CSK: when its CDS/CDNSKEY appear (the parent should then publish its DS).
    #[serde(default)]
    pub ds_publish: Option<i64>,
    /// KSK/CSK: when its CDS/CDNSKEY are withdrawn.
    #[serde(default)]
    pub ds_retire: Option<i64>,
    /// KSK/CSK: when the parent was seen serving its DS (or an operator
    /// confirmed it with `headend dnssec ksk-submitted`).
    #[serde(default)]
    pub ds_seen: Option<i64>,
}

impl KeyRecord {
    /// Is the DNSKEY in the zone at `now`?
    pub fn published(&self, now: i64) -> bool {
        self.publish <= now && self.remove.is_none_or(|r| now < r)
    }

    /// Does the key sign at `now`?
    pub fn signing(&self, now: i64) -> bool {
        self.published(now) && self.active <= now && self.retire.is_none_or(|r| now < r)
    }

    /// Are its CDS/CDNSKEY published at `now`?
    pub fn in_cds(&self, now: i64) -> bool {
        self.role.signs_keys()
            && self.published(now)
            && self.ds_publish.is_some_and(|p| p <= now)
            && self.ds_retire.is_none_or(|r| now < r)
    }

    /// Every future moment at which this key changes state.
    fn events(&self) -> impl Iterator<Item = i64> {
        [
            Some(self.publish),
            Some(self.active),
            self.retire,
            self.remove,
            self.ds_publish,
            self.ds_retire,
        ]
        .into_iter()
        .flatten()
    }
}

/// The stored key state of one zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    /// Every key not yet removed, oldest first.
    pub keys: Vec<KeyRecord>,
}

/// A loaded signing key.
pub(crate) struct LoadedKey {
    pub(crate) record: KeyRecord,
    pub(crate) key: Box<dyn SigningKey>,
    pub(crate) dnskey: DNSKEY,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// The keys of one zone, on disk under `state_dir/dnssec/ZONE/`.
#[derive(Debug)]
pub struct KeyStore {
    dir: PathBuf,
    /// The timeline.
    pub state: KeyState,
    pub(crate) loaded: Vec<LoadedKey>,
}

fn algorithm(a: DnssecAlgorithm) -> Algorithm {
    match a {
        DnssecAlgorithm::EcdsaP256Sha256 => Algorithm::ECDSAP256SHA256,
        DnssecAlgorithm::Ed25519 => Algorithm::ED25519,
    }
}

/// The folder holding one zone's keys and signing state:
/// `STATE_DIR/dnssec/ZONE`, the zone's name made safe as a file name.
pub fn zone_dir(state_dir: &Path, origin: &str) -> PathBuf {
    state_dir.join("dnssec").join(safe_file_name(origin))
}

fn state_err(file: &Path, what: &str, e: impl std::fmt::Display) -> DnsError {
    DnsError::State {
        file: file.to_owned(),
        reason: format!("{what}: {e}"),
    }
}

/// Writes `bytes` to `file` with mode 0600: a crash leaves the old file or
/// the new one, never a partial key.
fn write_private(file: &Path, bytes: &[u8]) -> Result<(), DnsError> {
    write_atomic(file, bytes, 0o600).map_err(|e| state_err(file, "cannot write", e))
}

impl KeyStore {
    /// Loads the zone's keys, generating a first set (KSK+ZSK or CSK, active
    /// at once) when there is none.
    pub fn load(
        state_dir: &Path,
        origin: &str,
        config: &DnssecConfig,
        now: i64,
    ) -> Result<Self, DnsError> {
        let dir = zone_dir(state_dir, origin);
        std::fs::create_dir_all(&dir)
            .map_err(|e| state_err(&dir, "cannot create the key folder", e))?;
        let _ = std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let file = dir.join("keys.json");
        let state: KeyState = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| state_err(&file, "damaged key state (restore it from a backup)", e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => KeyState::default(),
            Err(e) => return Err(state_err(&file, "cannot read", e)),
        };
        let mut store = Self {
            dir,
            state,
            loaded: Vec::new(),
        };
        let alg = algorithm(config.algorithm);
        let usable = |store: &Self, f: fn(Role) -> bool| {
            store.state.keys.iter().any(|k| {
                f(k.role) && k.algorithm == u8::from(alg) && k.remove.is_none_or(|r| now < r)
            })
        };
        let mut changed = false;
        match config.keys {
            KeyScheme::Csk => {
                if !usable(&store, Role::signs_keys) || !usable(&store, Role::signs_zone) {
                    store.generate(Role::Csk, alg, now, Some(now))?;
                    changed = true;
                }
            }
            KeyScheme::KskZsk => {
                if !usable(&store, Role::signs_keys) {
                    store.generate(Role::Ksk, alg, now, Some(now))?;
                    changed = true;
                }
                if !usable(&store, Role::signs_zone) {
                    store.generate(Role::Zsk, alg, now, None)?;
                    changed = true;
                }
            }
        }
        if changed {
            store.save()?;
            tracing::info!(
                zone = origin,
                "DNSSEC keys generated in {}",
                store.dir.display()
            );
        }
        store.load_private()?;
        Ok(store)
    }

    fn load_private(&mut self) -> Result<(), DnsError> {
        self.loaded.clear();
        for record in &self.state.keys {
            let path = self.dir.join(&record.file);
            let der = std::fs::read(&path)
                .map_err(|e| state_err(&path, "cannot read the private key", e))?;
            let key = signing_key_from_der(
                &PrivateKeyDer::from(PrivatePkcs8KeyDer::from(der)),
                Algorithm::from_u8(record.algorithm),
            )
            .map_err(|e| state_err(&path, "unusable private key", e))?;
            let public = key
                .to_public_key()
                .map_err(|e| state_err(&path, "unusable private key", e))?;
            let dnskey = DNSKEY::new(true, record.role.signs_keys(), false, public);
            self.loaded.push(LoadedKey {
                record: record.clone(),
                key,
                dnskey,
            });
        }
        Ok(())
    }

    /// Generates a key of `role`, published and active at `at`.
    fn generate(
        &mut self,
        role: Role,
        alg: Algorithm,
        at: i64,
        ds: Option<i64>,
    ) -> Result<u16, DnsError> {
        let pkcs8 = match alg {
            Algorithm::ED25519 => Ed25519SigningKey::generate_pkcs8(),
            _ => EcdsaSigningKey::generate_pkcs8(alg),
        }
        .map_err(|e| state_err(&self.dir, "cannot generate a key", e))?;
        let der = pkcs8.secret_pkcs8_der().to_vec();
        let key = signing_key_from_der(
            &PrivateKeyDer::from(PrivatePkcs8KeyDer::from(der.clone())),
            alg,
        )
        .map_err(|e| state_err(&self.dir, "cannot use the generated key", e))?;
        let public = key
            .to_public_key()
            .map_err(|e| state_err(&self.dir, "cannot use the generated key", e))?;
        let tag = DNSKEY::new(true, role.signs_keys(), false, public)
            .calculate_key_tag()
            .map_err(|e| state_err(&self.dir, "cannot compute the key tag", e))?;
        let role_name = match role {
            Role::Ksk => "ksk",
            Role::Zsk => "zsk",
            Role::Csk => "csk",
        };
        let file = format!("{role_name}-{:03}-{tag:05}-{at}.pk8", u8::from(alg));
        write_private(&self.dir.join(&file), &der)?;
        self.state.keys.push(KeyRecord {
            tag,
            role,
            algorithm: u8::from(alg),
            file,
            publish: at,
            active: at,
            retire: None,
            remove: None,
            ds_publish: if role.signs_keys() { ds } else { None },
            ds_retire: None,
            ds_seen: None,
        });
        Ok(tag)
    }

    /// Writes `keys.json` (0600, atomically).
    pub fn save(&self) -> Result<(), DnsError> {
        let json = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| state_err(&self.dir, "cannot encode the key state", e))?;
        write_private(&self.dir.join("keys.json"), &json)
    }

    /// Drops keys removed before `now` from the state (their files stay, for the record).
    pub(crate) fn forget_removed(&mut self, now: i64) -> bool {
        let before = self.state.keys.len();
        self.state.keys.retain(|k| k.remove.is_none_or(|r| now < r));
        self.loaded
            .retain(|k| k.record.remove.is_none_or(|r| now < r));
        before != self.state.keys.len()
    }

    /// The next moment after `now` at which a key changes state.
    pub fn next_event(&self, now: i64) -> Option<i64> {
        self.state
            .keys
            .iter()
            .flat_map(KeyRecord::events)
            .filter(|&t| t > now)
            .min()
    }

    /// The keys' states at `now`, comparable between two moments: a change
    /// means the zone must be re-signed.
    pub fn epoch(&self, now: i64) -> Vec<(u16, bool, bool, bool)> {
        self.state
            .keys
            .iter()
            .map(|k| (k.tag, k.published(now), k.signing(now), k.in_cds(now)))
            .collect()
    }

    /// RFC 6781 §4.1.1.1 pre-publish ZSK rollover: a new ZSK is published
    /// now and starts signing once the DNSKEY RRset with it has reached every
    /// cache (DNSKEY TTL + propagation delay); the old ZSK stops signing then
    /// and is removed once its signatures have expired from caches (the
    /// zone's largest TTL + propagation delay). Returns the new key's tag.
    pub fn rollover_zsk(
        &mut self,
        config: &DnssecConfig,
        max_zone_ttl: u32,
        now: i64,
    ) -> Result<u16, DnsError> {
        let alg = algorithm(config.algorithm);
        let switch = now + i64::from(config.dnskey_ttl) + i64::from(config.propagation_delay_secs);
        let remove = switch + i64::from(max_zone_ttl) + i64::from(config.propagation_delay_secs);
        let new_role = if config.keys == KeyScheme::Csk {
            Role::Csk
        } else {
            Role::Zsk
        };
        if new_role == Role::Csk {
            return self.rollover_ksk(config, now);
        }
        for k in &mut self.state.keys {
            if k.role == Role::Zsk
                && k.retire.is_none_or(|r| r > switch)
                && k.remove.is_none_or(|r| r > now)
            {
                k.retire = Some(switch);
                k.remove = Some(remove);
            }
        }
        let tag = self.generate(Role::Zsk, alg, now, None)?;
        if let Some(k) = self.state.keys.last_mut() {
            k.active = switch;
        }
        self.save()?;
        self.load_private()?;
        Ok(tag)
    }

    /// RFC 6781 §4.1.2 double-KSK rollover: the new KSK is published and
    /// signs the DNSKEY RRset at once, next to the old one; once that RRset
    /// has reached every cache (DNSKEY TTL + propagation delay) CDS/CDNSKEY
    /// switch to the new key, for the parent to replace its DS; after the
    /// parent's DS TTL (+ propagation) the old KSK is removed. With parent
    /// servers configured, that last wait starts only once the parent serves
    /// the new DS ([`KeyStore::ksk_submitted`]); until then the old KSK stays.
    /// Returns the new key's tag.
    pub fn rollover_ksk(&mut self, config: &DnssecConfig, now: i64) -> Result<u16, DnsError> {
        let alg = algorithm(config.algorithm);
        let ds_switch =
            now + i64::from(config.dnskey_ttl) + i64::from(config.propagation_delay_secs);
        let remove =
            ds_switch + i64::from(config.parent_ds_ttl) + i64::from(config.propagation_delay_secs);
        let role = if config.keys == KeyScheme::Csk {
            Role::Csk
        } else {
            Role::Ksk
        };
        let wait_for_parent = !config.parent.is_empty();
        for k in &mut self.state.keys {
            if k.role == role && k.remove.is_none_or(|r| r > now) {
                k.ds_retire = Some(ds_switch);
                if wait_for_parent {
                    k.retire = None;
                    k.remove = None;
                } else {
                    k.retire = Some(remove);
                    k.remove = Some(remove);
                }
            }
        }
        let tag = self.generate(role, alg, now, Some(ds_switch))?;
        if role == Role::Csk {
            // A CSK also signs the zone: switch zone signing with the DS.
            if let Some(k) = self.state.keys.last_mut() {
                k.active = now;
            }
        }
        self.save()?;
        self.load_private()?;
        Ok(tag)
    }

    /// The KSK (or CSK) whose DS the parent is expected to publish at `now`
    /// and has not been seen to: its CDS are out, and an older key of its
    /// role waits for it to be removed.
    pub fn awaiting_ds(&self, now: i64) -> Option<&KeyRecord> {
        let newest = self
            .state
            .keys
            .iter()
            .filter(|k| k.role.signs_keys() && k.in_cds(now))
            .max_by_key(|k| k.publish)?;
        let waiting = self.state.keys.iter().any(|k| {
            k.role == newest.role
                && k.tag != newest.tag
                && k.ds_retire.is_some_and(|r| r <= now)
                && k.remove.is_none()
        });
        (newest.ds_seen.is_none() && waiting).then_some(newest)
    }

    /// The parent serves the DS of key `tag` (seen by the submission check,
    /// or confirmed by an operator) at `now`: older keys of its role are
    /// retired and removed once the parent's old DS has expired from caches
    /// (`parent_ds_ttl` + propagation delay). Returns that moment, or `None`
    /// when no key was waiting for this one. Saves the state.
    pub fn ksk_submitted(
        &mut self,
        config: &DnssecConfig,
        tag: u16,
        now: i64,
    ) -> Result<Option<i64>, DnsError> {
        let Some(new) = self
            .state
            .keys
            .iter_mut()
            .find(|k| k.tag == tag && k.role.signs_keys())
        else {
            return Ok(None);
        };
        new.ds_seen.get_or_insert(now);
        let role = new.role;
        let remove =
            now + i64::from(config.parent_ds_ttl) + i64::from(config.propagation_delay_secs);
        let mut any = false;
        for k in &mut self.state.keys {
            if k.role == role && k.tag != tag && k.ds_retire.is_some() && k.remove.is_none() {
                k.retire = Some(remove);
                k.remove = Some(remove);
                any = true;
            }
        }
        for k in &mut self.loaded {
            if let Some(r) = self.state.keys.iter().find(|r| r.tag == k.record.tag) {
                k.record = r.clone();
            }
        }
        self.save()?;
        Ok(any.then_some(remove))
    }

    /// Keys whose DNSKEY is in the zone at `now`.
    pub(crate) fn published(&self, now: i64) -> impl Iterator<Item = &LoadedKey> {
        self.loaded.iter().filter(move |k| k.record.published(now))
    }

    /// Keys signing the DNSKEY RRset at `now` (every active KSK: double signatures during a rollover).
    pub(crate) fn key_signers(&self, now: i64) -> Vec<&LoadedKey> {
        self.loaded
            .iter()
            .filter(|k| k.record.role.signs_keys() && k.record.signing(now))
            .collect()
    }

    /// The key signing the rest of the zone at `now`: the newest active ZSK (or CSK).
    pub(crate) fn zone_signer(&self, now: i64) -> Option<&LoadedKey> {
        self.loaded
            .iter()
            .filter(|k| k.record.role.signs_zone() && k.record.signing(now))
            .max_by_key(|k| k.record.active)
    }

    /// KSKs/CSKs whose CDS/CDNSKEY (and so DS at the parent) are current at `now`.
    pub(crate) fn ds_keys(&self, now: i64) -> impl Iterator<Item = &LoadedKey> {
        self.loaded.iter().filter(move |k| k.record.in_cds(now))
    }
}
