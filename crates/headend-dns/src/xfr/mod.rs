//! Outgoing zone transfers: AXFR (RFC 5936) and IXFR (RFC 1995) over TCP (and
//! the single-SOA IXFR answer over UDP),
//! per-zone ACLs by address prefix and TSIG key (RFC 8945), and the journal
//! IXFR answers from.
//!
//! [`Transfers::respond`] is sans-I/O: request bytes, the peer's address, the
//! catalog and the clock in, the response messages out. The TCP listener
//! writes them one after the other.

pub(crate) mod journal;
pub(crate) mod tsig;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{LowerName, RData, Record, RecordType, TSigner};
use ipnet::IpNet;

use crate::answer::Catalog;
use crate::zone::diff::wire;
use crate::zone::{Diff, Zone, parse_origin, serial_lt};
use crate::{DnsConfig, DnsError};
use journal::Journal;
use tsig::Keys;
pub(crate) use tsig::{ResponseSigner, Verified};

/// Records are packed into a message until their uncompressed size reaches
/// this; compression only shrinks them, so every message stays under 64 KiB.
const MESSAGE_BUDGET: usize = 60_000;

/// Who may transfer one zone, and whom to notify.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZonePolicy {
    allow: Vec<IpNet>,
    key: Option<String>,
    /// NOTIFY targets (notify + also_notify).
    pub(crate) notify: Vec<std::net::SocketAddr>,
}

/// Transfer settings and journals of every zone.
pub(crate) struct Transfers {
    acl: std::sync::RwLock<Acl>,
    journals: Mutex<HashMap<LowerName, Journal>>,
    state_dir: Option<PathBuf>,
    /// Zones changed by a stream of updates whose journal and served
    /// version wait to be written, and when each was last written.
    unsaved: Mutex<HashMap<LowerName, Unsaved>>,
}

/// The version an update left unwritten (if any) and when the zone's state
/// was last written.
type Unsaved = (Option<std::sync::Arc<Zone>>, std::time::Instant);

/// Journal and served-version writes for a stream of updates happen at most
/// this often (the scheduler writes the last: [`Transfers::save_pending`]).
/// Both are written together, so after a crash the next start continues the
/// journal from the version written (see [`Transfers::load_journal`]).
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The TSIG keys and each zone's policy, replaced whole on reconfiguration.
struct Acl {
    keys: Keys,
    policies: HashMap<LowerName, ZonePolicy>,
}

impl Acl {
    fn from_config(config: &DnsConfig) -> Result<Self, DnsError> {
        let keys = Keys::from_config(&config.tsig_keys)?;
        let mut policies = HashMap::new();
        for zc in &config.zones {
            if let Some(k) = &zc.tsig_key
                && keys.get(k).is_none()
            {
                return Err(DnsError::UnknownTsigKey {
                    zone: zc.origin.clone(),
                    key: k.clone(),
                });
            }
            let origin = parse_origin(&zc.origin)?;
            policies.insert(
                LowerName::new(&origin),
                ZonePolicy {
                    allow: zc.allow_transfer.clone(),
                    key: zc.tsig_key.clone(),
                    notify: zc.notify.iter().chain(&zc.also_notify).copied().collect(),
                },
            );
        }
        Ok(Self { keys, policies })
    }
}

impl std::fmt::Debug for Transfers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfers")
            .field("policies", &self.acl().policies)
            .finish_non_exhaustive()
    }
}

/// Is this request an AXFR or IXFR? Reads only the question's type.
pub(crate) fn is_transfer(raw: &[u8]) -> bool {
    if raw.get(2).is_none_or(|b| b & 0xf8 != 0) || raw.get(4..6) != Some(&[0, 1]) {
        return false; // a response, another opcode, or not one question
    }
    let mut pos = 12;
    while let Some(&len) = raw.get(pos) {
        if len == 0 {
            return matches!(raw.get(pos + 1..pos + 3), Some([0, 251 | 252]));
        }
        if len > 63 {
            return false;
        }
        pos += 1 + usize::from(len);
    }
    false
}

impl Transfers {
    /// Builds the ACLs from the config; journals are kept under
    /// `state_dir/journal` (in memory only without a state dir).
    pub(crate) fn new(config: &DnsConfig, state_dir: Option<&Path>) -> Result<Self, DnsError> {
        Ok(Self {
            acl: std::sync::RwLock::new(Acl::from_config(config)?),
            journals: Mutex::new(HashMap::new()),
            state_dir: state_dir.map(Path::to_owned),
            unsaved: Mutex::new(HashMap::new()),
        })
    }

    /// Checks a new `[dns]` section's keys and transfer policies.
    pub(crate) fn check(config: &DnsConfig) -> Result<(), DnsError> {
        Acl::from_config(config).map(drop)
    }

    /// Takes the keys and policies of a new `[dns]` section (journals stay).
    pub(crate) fn reconfigure(&self, config: &DnsConfig) -> Result<(), DnsError> {
        let acl = Acl::from_config(config)?;
        *self
            .acl
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = acl;
        Ok(())
    }

    fn acl(&self) -> std::sync::RwLockReadGuard<'_, Acl> {
        self.acl
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The policy of one zone.
    pub(crate) fn policy(&self, origin: &LowerName) -> Option<ZonePolicy> {
        self.acl().policies.get(origin).cloned()
    }

    /// The key NOTIFY messages for this zone are signed with.
    pub(crate) fn notify_key(&self, origin: &LowerName) -> Option<TSigner> {
        let acl = self.acl();
        let name = acl.policies.get(origin)?.key.as_ref()?;
        acl.keys.get(name).cloned()
    }

    /// Checks the TSIG of a request (an UPDATE) with the configured keys.
    pub(crate) fn verify_tsig(&self, raw: &[u8], request: &Message, now: u64) -> Verified {
        tsig::verify_request(&self.acl().keys, raw, request, now)
    }

    fn journals(&self) -> std::sync::MutexGuard<'_, HashMap<LowerName, Journal>> {
        self.journals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Loads a zone's journal from the state dir at start (or when the zone
    /// is added). When the zone changed while headend was down, the journal
    /// continues with the difference between the version last served (kept
    /// in the state dir, the signed one for a signed zone) and the one now
    /// loaded, so that secondaries catch up by IXFR; it is dropped only when
    /// neither describes how the zone got here.
    pub(crate) fn load_journal(&self, zone: &Zone) {
        let Some(dir) = &self.state_dir else {
            return;
        };
        let origin = zone.origin().to_string();
        let file = journal::path(dir, &origin);
        let mut j = journal::load(&file);
        let served = journal::load_served(dir, zone);
        let kept = served.as_ref().map(|prev| prev.serial()) == Some(zone.serial());
        if j.last_serial() != Some(zone.serial()) {
            match served.filter(|prev| serial_lt(prev.serial(), zone.serial())) {
                Some(prev) if j.last_serial().is_none_or(|last| last == prev.serial()) => {
                    j.push(Diff::between(&prev, zone));
                    tracing::info!(
                        zone = %zone.origin(),
                        from = prev.serial(),
                        to = zone.serial(),
                        "zone changed while stopped: the IXFR journal continues"
                    );
                    if let Err(e) = journal::store(&file, &j) {
                        tracing::warn!(zone = %zone.origin(), "{e}");
                    }
                }
                _ => {
                    if j.len() > 0 {
                        tracing::info!(zone = %zone.origin(), "the IXFR journal does not lead to the zone loaded: secondaries need a full transfer");
                    }
                    j = Journal::default();
                }
            }
        }
        if j.len() > 0 {
            tracing::info!(zone = %zone.origin(), diffs = j.len(), "IXFR journal loaded");
            self.journals().insert(zone.lower_origin().clone(), j);
        }
        if !kept {
            self.keep_served(zone);
        }
    }

    /// Whether anyone takes this zone from us (transfers allowed or NOTIFY
    /// sent): only then is the served version kept for the next start.
    fn has_secondaries(&self, origin: &LowerName) -> bool {
        self.acl()
            .policies
            .get(origin)
            .is_some_and(|p| !p.allow.is_empty() || p.key.is_some() || !p.notify.is_empty())
    }

    /// Keeps `zone` as the version last served (for the next start).
    fn keep_served(&self, zone: &Zone) {
        let Some(dir) = &self.state_dir else {
            return;
        };
        if self.has_secondaries(zone.lower_origin()) {
            journal::store_served(dir, zone);
        }
    }

    /// The serial secondaries were last sent a NOTIFY for (kept in the state dir).
    pub(crate) fn notified_serial(&self, zone: &Zone) -> Option<u32> {
        let dir = self.state_dir.as_ref()?;
        journal::load_notified(dir, &zone.origin().to_string())
    }

    /// Records that secondaries were sent a NOTIFY for `zone`'s serial.
    pub(crate) fn set_notified(&self, zone: &Zone) {
        if let Some(dir) = &self.state_dir {
            journal::store_notified(dir, &zone.origin().to_string(), zone.serial());
        }
    }

    /// [`Transfers::record_change`] for a dynamic update: the journal in
    /// memory at once, its file and the served version at most every
    /// [`SAVE_EVERY`].
    pub(crate) fn record_update(
        &self,
        old: &Zone,
        new: &std::sync::Arc<Zone>,
        touched: Option<&[LowerName]>,
    ) {
        let now = std::time::Instant::now();
        let recent = {
            let mut unsaved = self
                .unsaved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match unsaved.get_mut(new.lower_origin()) {
                Some((pending, at)) if now.duration_since(*at) < SAVE_EVERY => {
                    *pending = Some(std::sync::Arc::clone(new));
                    true
                }
                _ => {
                    unsaved.insert(new.lower_origin().clone(), (None, now));
                    false
                }
            }
        };
        if recent && serial_lt(old.serial(), new.serial()) {
            let diff = diff_of(old, new, touched);
            let mut journals = self.journals();
            journals
                .entry(new.lower_origin().clone())
                .or_default()
                .push(diff);
        } else {
            self.record_change_at(old, new, touched);
        }
    }

    /// Writes the journals and served versions [`Transfers::record_update`]
    /// left for later.
    pub(crate) fn save_pending(&self) {
        let due: Vec<std::sync::Arc<Zone>> = {
            let mut unsaved = self
                .unsaved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = std::time::Instant::now();
            unsaved
                .iter_mut()
                .filter(|(_, (pending, at))| {
                    pending.is_some() && now.duration_since(*at) >= SAVE_EVERY
                })
                .filter_map(|(_, (pending, at))| {
                    *at = now;
                    pending.take()
                })
                .collect()
        };
        for zone in due {
            self.keep_served(&zone);
            let snapshot = self.journals().get(zone.lower_origin()).cloned();
            if let (Some(dir), Some(j)) = (&self.state_dir, snapshot) {
                let file = journal::path(dir, &zone.origin().to_string());
                if let Err(e) = journal::store(&file, &j) {
                    tracing::warn!(zone = %zone.origin(), "{e}");
                }
            }
        }
    }

    /// Records the change from `old` to `new` (a new serial) in the journal.
    pub(crate) fn record_change(&self, old: &Zone, new: &Zone) {
        self.record_change_at(old, new, None);
    }

    /// [`Transfers::record_change`], the versions differing at most at
    /// `touched` names (and the SOA) when given.
    fn record_change_at(&self, old: &Zone, new: &Zone, touched: Option<&[LowerName]>) {
        self.keep_served(new);
        if !serial_lt(old.serial(), new.serial()) {
            if old.serial() != new.serial() {
                tracing::warn!(zone = %new.origin(), old = old.serial(), new = new.serial(), "serial went backwards: IXFR journal cleared, secondaries need a full transfer");
                self.journals().remove(new.lower_origin());
            }
            return;
        }
        let diff = diff_of(old, new, touched);
        let snapshot = {
            let mut journals = self.journals();
            let j = journals.entry(new.lower_origin().clone()).or_default();
            j.push(diff);
            j.clone()
        };
        if let Some(dir) = &self.state_dir {
            let file = journal::path(dir, &new.origin().to_string());
            if let Err(e) = journal::store(&file, &snapshot) {
                tracing::warn!(zone = %new.origin(), "{e}");
            }
        }
    }

    /// Answers an AXFR or IXFR request; `None` when `raw` is not one.
    /// `now` is the Unix time (for TSIG).
    pub(crate) fn respond(
        &self,
        catalog: &Catalog,
        raw: &[u8],
        peer: IpAddr,
        now: u64,
    ) -> Option<Vec<Vec<u8>>> {
        self.respond_on(catalog, raw, peer, now, false)
    }

    /// Answers an IXFR request that came over UDP (RFC 1995 §2), with the
    /// same TSIG and ACL checks: the current SOA alone, which tells an
    /// up-to-date client it is, and any other to ask again over TCP ("if
    /// the UDP reply does not fit, the query is responded to with a single
    /// SOA record of the server's current version"). `None` for anything
    /// else (AXFR is TCP only, RFC 5936 §4.2).
    pub(crate) fn respond_udp(
        &self,
        catalog: &Catalog,
        raw: &[u8],
        peer: IpAddr,
        now: u64,
    ) -> Option<Vec<u8>> {
        let mut messages = self.respond_on(catalog, raw, peer, now, true)?;
        if messages.len() == 1 {
            messages.pop()
        } else {
            None
        }
    }

    fn respond_on(
        &self,
        catalog: &Catalog,
        raw: &[u8],
        peer: IpAddr,
        now: u64,
        udp: bool,
    ) -> Option<Vec<Vec<u8>>> {
        if !is_transfer(raw) {
            return None;
        }
        let request = Message::from_vec(raw).ok()?;
        let query = request.queries.first()?.clone();
        let kind = query.query_type;
        if udp && kind != RecordType::IXFR {
            return None;
        }
        let origin = LowerName::new(&query.name);
        let (verified, policy) = {
            let acl = self.acl();
            (
                tsig::verify_request(&acl.keys, raw, &request, now),
                acl.policies.get(&origin).cloned(),
            )
        };
        let mut signer = match verified {
            Verified::Unsigned => None,
            Verified::Signed(s) => Some(s),
            Verified::Failed(record, error) => {
                tracing::warn!(zone = %query.name, %peer, ?error, "{kind} refused: TSIG check failed");
                let mut m = error_message(&request, ResponseCode::NotAuth);
                m.set_signature(record);
                return Some(vec![m.to_vec().ok()?]);
            }
        };
        // RFC 5936 §2.2.1: a zone not served here is NOTAUTH.
        let (Some(zone), Some(policy)) = (catalog.get(&origin), policy.as_ref()) else {
            let mut m = error_message(&request, ResponseCode::NotAuth);
            return Some(vec![encode(&mut m, signer.as_mut())?]);
        };
        if !allowed(policy, peer, signer.as_ref()) {
            tracing::warn!(zone = %zone.origin(), %peer, key = ?signer.as_ref().map(|s| s.key_name().to_string()), "{kind} refused by the zone's transfer ACL");
            let mut m = error_message(&request, ResponseCode::Refused);
            return Some(vec![encode(&mut m, signer.as_mut())?]);
        }
        let current = zone.serial();
        let mut packer = Packer::new(&request, signer);
        let how = if kind == RecordType::IXFR {
            let client = request.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.serial),
                _ => None,
            });
            match client {
                // RFC 1995 §2: an up-to-date client gets the single current SOA.
                Some(s) if !serial_lt(s, current) => {
                    packer.push(zone.soa().clone());
                    "IXFR (up to date)"
                }
                // Over UDP, so does every other: it then asks over TCP.
                Some(_) if udp => {
                    packer.push(zone.soa().clone());
                    "IXFR over UDP (current SOA: retry over TCP)"
                }
                Some(s) => {
                    let chain = self
                        .journals()
                        .get(&origin)
                        .and_then(|j| j.since(s, current));
                    match chain {
                        Some(chain) => {
                            incremental(&mut packer, zone, &chain);
                            "IXFR"
                        }
                        // RFC 1995 §4: "If incremental zone transfer is not
                        // available, the entire zone is returned".
                        None => {
                            full(&mut packer, zone);
                            "IXFR (full zone, journal cannot answer)"
                        }
                    }
                }
                None => {
                    let mut m = error_message(&request, ResponseCode::FormErr);
                    return Some(vec![encode(&mut m, packer.signer.as_mut())?]);
                }
            }
        } else {
            full(&mut packer, zone);
            "AXFR"
        };
        let messages = packer.finish()?;
        tracing::info!(
            zone = %zone.origin(),
            %peer,
            serial = current,
            messages = messages.len(),
            "outgoing {how}"
        );
        Some(messages)
    }
}

/// RFC 5936 §6: transfers only to listed prefixes and/or holders of the key.
fn allowed(policy: &ZonePolicy, peer: IpAddr, signer: Option<&ResponseSigner>) -> bool {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    let address_ok = policy.allow.iter().any(|net| net.contains(&peer));
    match &policy.key {
        Some(key) => {
            let key_ok = signer.is_some_and(|s| {
                let mut n = hickory_proto::rr::Name::from_ascii(key).unwrap_or_default();
                n.set_fqdn(true);
                LowerName::new(s.key_name()) == LowerName::new(&n)
            });
            key_ok && (policy.allow.is_empty() || address_ok)
        }
        None => address_ok,
    }
}

fn error_message(request: &Message, rcode: ResponseCode) -> Message {
    let mut m = Message::response(request.metadata.id, OpCode::Query);
    m.metadata.response_code = rcode;
    m.queries = request.queries.clone();
    m
}

fn encode(m: &mut Message, signer: Option<&mut ResponseSigner>) -> Option<Vec<u8>> {
    match signer {
        Some(s) => s.sign(m),
        None => m.to_vec().ok(),
    }
}

/// AXFR body (RFC 5936 §2.2): SOA, every other record, SOA.
fn full(packer: &mut Packer<'_>, zone: &Zone) {
    packer.push(zone.soa().clone());
    for (owner, node) in zone.nodes() {
        for set in node.rrsets() {
            if set.rtype == RecordType::SOA {
                continue;
            }
            for r in set.records(owner) {
                packer.push(r);
            }
        }
    }
    packer.push(zone.soa().clone());
}

/// IXFR body (RFC 1995 §4): new SOA, then per difference the old SOA, the
/// removed records, the new SOA, the added records; the new SOA last.
fn incremental(packer: &mut Packer<'_>, zone: &Zone, chain: &[Diff]) {
    packer.push(zone.soa().clone());
    for d in chain {
        packer.push(d.old_soa.clone());
        for r in &d.removed {
            packer.push(r.clone());
        }
        packer.push(d.new_soa.clone());
        for r in &d.added {
            packer.push(r.clone());
        }
    }
    packer.push(zone.soa().clone());
}

/// Packs answer records into as many messages as needed.
struct Packer<'r> {
    request: &'r Message,
    signer: Option<ResponseSigner>,
    current: Vec<Record>,
    size: usize,
    out: Vec<Vec<u8>>,
    failed: bool,
}

impl<'r> Packer<'r> {
    fn new(request: &'r Message, signer: Option<ResponseSigner>) -> Self {
        Self {
            request,
            signer,
            current: Vec::new(),
            size: 0,
            out: Vec::new(),
            failed: false,
        }
    }

    fn push(&mut self, record: Record) {
        let len = wire(&record).map_or(512, |w| w.len());
        if self.size + len > MESSAGE_BUDGET && !self.current.is_empty() {
            self.flush();
        }
        self.size += len;
        self.current.push(record);
    }

    fn flush(&mut self) {
        let mut m = Message::response(self.request.metadata.id, OpCode::Query);
        m.metadata.authoritative = true;
        // RFC 5936 §2.2.1: the first message carries the question; later ones may omit it.
        if self.out.is_empty() {
            m.queries = self.request.queries.clone();
        }
        m.answers = std::mem::take(&mut self.current);
        self.size = 0;
        match encode(&mut m, self.signer.as_mut()) {
            Some(bytes) if bytes.len() <= usize::from(u16::MAX) => self.out.push(bytes),
            _ => self.failed = true,
        }
    }

    fn finish(mut self) -> Option<Vec<Vec<u8>>> {
        if !self.current.is_empty() {
            self.flush();
        }
        (!self.failed).then_some(self.out)
    }
}

/// The difference between two versions, read at `touched` names only when
/// given (an update of an unsigned zone changes nothing else).
fn diff_of(old: &Zone, new: &Zone, touched: Option<&[LowerName]>) -> Diff {
    match touched {
        Some(names) => Diff::between_at(old, new, names),
        None => Diff::between(old, new),
    }
}

#[cfg(test)]
mod tests;
