//! Dynamic updates in the running service: the update thread that takes
//! UPDATEs from the listeners in batches, runs them over the zones
//! ([`crate::update::process`]), makes every accepted change durable in the
//! zone's update journal with one sync per zone and batch, serves the result
//! (journaled for IXFR, NOTIFY sent) and only then answers; the replay of
//! the journal at every load; and `flush`, which writes the zone back to its
//! file and empties the journal.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{LowerName, Name};

use super::{DnsHandle, unix_now};
use crate::update::journal::{self, Appender, Entry};
use crate::update::policy::{Denied, UpdatePolicy};
use crate::update::{self as core, Model, Pending, ReplyTo};
use crate::xfr::{ResponseSigner, Verified};
use crate::zone::{Zone, serial_lt};
use crate::{DnsConfig, DnsError};

/// Most UPDATEs run between two syncs (a DHCP flush of a reboot storm
/// sends up to a window of names at once: each batch rebuilds the zone).
const BATCH: usize = 4096;

/// The update policies in force and the journals open for appending.
#[derive(Debug)]
pub(super) struct UpdateState {
    policies: HashMap<LowerName, UpdatePolicy>,
    appenders: HashMap<LowerName, Appender>,
    /// Per unsigned zone, what the last batch of updates left: the next
    /// batch starts from it when the zone served is still that batch's
    /// version (no reload or edit came in between), instead of rebuilding
    /// the model from the whole zone.
    models: HashMap<LowerName, Cached>,
}

/// What a batch of updates left for an unsigned zone.
#[derive(Debug)]
struct Cached {
    /// The version it served.
    served: Arc<Zone>,
    /// The model that version was made from.
    model: Model,
    /// The version served before it, with the names where the two differ:
    /// the next batch patches this copy (once no reader holds it) rather
    /// than copying the whole zone, so a batch costs time in proportion to
    /// its changes.
    spare: Option<(Arc<Zone>, Vec<LowerName>)>,
}

impl UpdateState {
    pub(super) fn new(policies: HashMap<LowerName, UpdatePolicy>) -> Self {
        Self {
            policies,
            appenders: HashMap::new(),
            models: HashMap::new(),
        }
    }

    pub(super) fn set_policies(&mut self, policies: HashMap<LowerName, UpdatePolicy>) {
        self.policies = policies;
    }
}

/// Compiles every zone's update policy (an unknown key or type is an error).
pub(super) fn policies(config: &DnsConfig) -> Result<HashMap<LowerName, UpdatePolicy>, DnsError> {
    let known = |name: &str| {
        let strip = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
        config
            .tsig_keys
            .iter()
            .any(|k| strip(&k.name) == strip(name))
    };
    let mut out = HashMap::new();
    for zc in &config.zones {
        let origin = crate::zone::parse_origin(&zc.origin)?;
        out.insert(
            LowerName::new(&origin),
            UpdatePolicy::from_config(zc, known)?,
        );
    }
    Ok(out)
}

/// The zone as its file has it, with the changes of the update journal
/// replayed on top (every load: start, reload, SIGHUP, API edit). The
/// serial is the journal's last one, unless the file's is newer.
pub(super) fn with_updates(state_dir: &Path, zone: Zone) -> Result<Zone, DnsError> {
    let file = journal::path(state_dir, &zone.origin().to_string());
    let entries = journal::read(&file)?;
    let Some(last) = entries.last() else {
        return Ok(zone);
    };
    let mut model = Model::from_zone(&zone, false);
    for e in &entries {
        model.replay(&e.updates);
    }
    let serial = if serial_lt(zone.serial(), last.serial) {
        last.serial
    } else {
        zone.serial()
    };
    model.set_serial(serial);
    tracing::info!(
        zone = %zone.origin(),
        updates = entries.len(),
        file_serial = zone.serial(),
        serial,
        "dynamic updates from {} applied on top of the zone file",
        file.display()
    );
    model.to_zone().ok_or_else(|| DnsError::State {
        file,
        reason: "the zone lost its SOA replaying the update journal".into(),
    })
}

/// One UPDATE on its way through a batch.
struct Work {
    pending: Pending,
    answer: Answer,
}

enum Answer {
    /// Final bytes (or nothing to send).
    Ready(Option<Vec<u8>>),
    /// Answered with `rcode` once the zone's batch is durable (SERVFAIL
    /// otherwise).
    Commit {
        zone: LowerName,
        message: Box<Message>,
        signer: Option<ResponseSigner>,
    },
}

fn encode(mut message: Message, signer: Option<&mut ResponseSigner>) -> Option<Vec<u8>> {
    match signer {
        Some(s) => s.sign(&mut message),
        None => message.to_vec().ok(),
    }
}

/// The zones a batch changes, and the models the last batch left.
struct Open {
    zones: HashMap<LowerName, ZoneBatch>,
    models: HashMap<LowerName, Cached>,
}

/// A zone's changes in one batch.
struct ZoneBatch {
    model: Model,
    /// The version served when the batch began, which `model` was made
    /// from (an unsigned zone is patched from it, not rebuilt).
    base: Arc<Zone>,
    /// The version before `base`, to patch (see [`Cached::spare`]).
    spare: Option<(Arc<Zone>, Vec<LowerName>)>,
    entries: Vec<Entry>,
    /// Whether the zone is signed here (its signer touches more names than
    /// the updates do).
    signed: bool,
}

impl DnsHandle {
    pub(super) fn update_state(&self) -> MutexGuard<'_, UpdateState> {
        self.inner
            .updates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts the thread that answers UPDATEs; it ends with the service.
    pub(super) fn spawn_update_thread(&self, inbox: Receiver<Pending>) {
        let weak = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("dns-update".into())
            .spawn(move || {
                loop {
                    let first = match inbox.recv_timeout(Duration::from_millis(500)) {
                        Ok(p) => p,
                        Err(RecvTimeoutError::Timeout) => {
                            if weak.strong_count() == 0 {
                                return;
                            }
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match inbox.try_recv() {
                            Ok(p) => batch.push(p),
                            Err(_) => break,
                        }
                    }
                    let Some(inner) = weak.upgrade() else {
                        return;
                    };
                    Self { inner }.run_updates(batch);
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the DNS update thread: {e}; UPDATEs go unanswered");
        }
    }

    /// Writes zones with `zonefile_sync_secs` back to their files on that
    /// interval.
    pub(super) fn spawn_zonefile_sync(&self) {
        let weak = Arc::downgrade(&self.inner);
        self.inner.runtime.spawn(async move {
            let mut last: HashMap<String, i64> = HashMap::new();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let handle = Self { inner };
                let now = unix_now();
                let due: Vec<String> = handle
                    .config()
                    .zones
                    .iter()
                    .filter(|zc| zc.zonefile_sync_secs > 0)
                    .filter(|zc| {
                        let at = last.entry(zc.origin.clone()).or_insert(now);
                        let secs = i64::try_from(zc.zonefile_sync_secs).unwrap_or(i64::MAX);
                        if now - *at >= secs {
                            *at = now;
                            true
                        } else {
                            false
                        }
                    })
                    .map(|zc| zc.origin.clone())
                    .collect();
                for origin in due {
                    let h = handle.clone();
                    let result =
                        tokio::task::spawn_blocking(move || h.flush_if_dirty(&origin)).await;
                    if let Ok(Err(e)) = result {
                        tracing::error!("zonefile sync: {e}");
                    }
                }
            }
        });
    }

    fn flush_if_dirty(&self, origin: &str) -> Result<(), DnsError> {
        let (_, name) = self.zone_config(origin)?;
        let file = journal::path(&self.inner.state_dir, &name.to_string());
        if journal::read(&file)?.is_empty() {
            return Ok(());
        }
        self.flush_zone(origin).map(drop)
    }

    /// Writes the zone as served (its dynamic changes included; without the
    /// records a signer makes) back to its zone file atomically, keeping the
    /// file's comments, directives and layout where records did not change,
    /// then empties the update journal. Returns the serial written.
    pub fn flush_zone(&self, origin: &str) -> Result<u32, DnsError> {
        let (zc, name) = self.zone_config(origin)?;
        let _guard = self.lock();
        let catalog = self.catalog();
        let served = catalog
            .get(&LowerName::new(&name))
            .ok_or_else(|| DnsError::UnknownZone {
                zone: origin.to_owned(),
            })?;
        let model = Model::from_zone(served, zc.dnssec.is_some());
        let desired = model.to_parsed();
        let serial = model.serial();
        crate::edit::write_back(&zc, &name, &desired, serial)?;
        let key = LowerName::new(&name);
        self.update_state().appenders.remove(&key);
        journal::clear(&journal::path(&self.inner.state_dir, &name.to_string()))?;
        tracing::info!(zone = %zc.origin, serial, "zone written back to {}", zc.file.display());
        Ok(serial)
    }

    /// Runs a batch of UPDATEs: each in turn over its zone's model, then per
    /// zone one journal append and sync, the new version served, and only
    /// then the answers.
    fn run_updates(&self, batch: Vec<Pending>) {
        let now = unix_now();
        let _guard = self.lock();
        let catalog = self.catalog();
        let config = self.config();
        let mut work = Vec::with_capacity(batch.len());
        let Open { zones, mut models } = {
            let mut state = self.update_state();
            let mut open = Open {
                zones: HashMap::new(),
                models: std::mem::take(&mut state.models),
            };
            for pending in batch {
                let answer =
                    self.decide(&pending, &catalog, &config, &state.policies, &mut open, now);
                work.push(Work { pending, answer });
            }
            open
        };
        // Durable first: one append and one sync per zone.
        let mut committed: HashMap<LowerName, bool> = HashMap::new();
        for (origin, zb) in zones {
            if zb.entries.is_empty() {
                // Nothing changed: the model still is the served version's.
                if !zb.signed {
                    let cached = Cached {
                        served: zb.base,
                        model: zb.model,
                        spare: zb.spare,
                    };
                    models.insert(origin.clone(), cached);
                }
                committed.insert(origin, true);
                continue;
            }
            let next = self.commit(&origin, zb, now);
            let ok = next.is_some();
            if let Some(Some(cached)) = next {
                models.insert(origin.clone(), cached);
            }
            committed.insert(origin, ok);
        }
        self.update_state().models = models;
        for w in work {
            let bytes = match w.answer {
                Answer::Ready(bytes) => bytes,
                Answer::Commit {
                    zone,
                    message,
                    mut signer,
                } => {
                    let mut message = *message;
                    if !committed.get(&zone).copied().unwrap_or(false) {
                        message.metadata.response_code = ResponseCode::ServFail;
                    }
                    encode(message, signer.as_mut())
                }
            };
            if let Some(bytes) = bytes {
                send(w.pending, bytes);
            }
        }
    }

    /// Journals, syncs and serves one zone's changes; `None` if any step
    /// failed (the answers are then SERVFAIL), else, for an unsigned zone,
    /// what the next batch starts from.
    fn commit(&self, origin: &LowerName, zb: ZoneBatch, now: i64) -> Option<Option<Cached>> {
        let name = zb.model.origin().clone();
        let path = journal::path(&self.inner.state_dir, &name.to_string());
        let durable = {
            let mut state = self.update_state();
            let appender = match state.appenders.remove(origin) {
                Some(a) => Ok(a),
                None => Appender::open(&path),
            };
            appender.and_then(|mut a| {
                a.append(&zb.entries)?;
                a.sync()?;
                state.appenders.insert(origin.clone(), a);
                Ok(())
            })
        };
        if let Err(e) = durable {
            tracing::error!(zone = %name, "{e}; the updates were refused (SERVFAIL)");
            return None;
        }
        // An unsigned zone changes only at the updates' owner names (and
        // the empty non-terminals above them): the served version is
        // patched there. A signed one is rebuilt for its signer.
        let touched: Option<Vec<LowerName>> = (!zb.signed).then(|| {
            let mut names: Vec<LowerName> = zb
                .entries
                .iter()
                .flat_map(|e| e.updates.iter().map(|r| LowerName::new(&r.name)))
                .collect();
            names.sort_unstable();
            names.dedup();
            names
        });
        let zone = match &touched {
            Some(names) => {
                // The version before the one served, brought up to date at
                // the names changed since; a copy of the served one if a
                // reader still holds it.
                let (copy, changed) = match zb.spare.map(|(z, lag)| (Arc::try_unwrap(z), lag)) {
                    Some((Ok(spare), mut lag)) => {
                        lag.extend(names.iter().cloned());
                        (spare, lag)
                    }
                    _ => (Zone::clone(&zb.base), names.clone()),
                };
                zb.model.patch(copy, &changed)?
            }
            None => zb.model.to_zone()?,
        };
        match self.inner.signer.prepare_update(zone, now) {
            Ok(zone) => {
                tracing::info!(zone = %name, serial = zone.serial(), updates = zb.entries.len(), "zone updated");
                let served = self.swap_in_as(zone, true, touched.as_deref());
                Some(touched.map(|names| Cached {
                    served,
                    model: zb.model,
                    spare: Some((zb.base, names)),
                }))
            }
            Err(e) => {
                tracing::error!(zone = %name, "signing after an update failed: {e}; the update is journaled and is served after the next successful load");
                None
            }
        }
    }

    /// RFC 2136 §3: what to do with one UPDATE.
    fn decide(
        &self,
        pending: &Pending,
        catalog: &crate::answer::Catalog,
        config: &DnsConfig,
        policies: &HashMap<LowerName, UpdatePolicy>,
        open: &mut Open,
        now: i64,
    ) -> Answer {
        let raw = &pending.request;
        let peer = pending.peer;
        let Ok(request) = Message::from_vec(raw) else {
            return Answer::Ready(core::formerr_for(raw));
        };
        let mut signer = match self
            .inner
            .transfers
            .verify_tsig(raw, &request, now.unsigned_abs())
        {
            Verified::Unsigned => None,
            Verified::Signed(s) => Some(s),
            // RFC 8945 §5.2: NOTAUTH with the TSIG error.
            Verified::Failed(record, error) => {
                tracing::warn!(%peer, ?error, "UPDATE refused: TSIG check failed");
                let mut m = core::response(&request, ResponseCode::NotAuth);
                m.set_signature(record);
                return Answer::Ready(m.to_vec().ok());
            }
        };
        let key: Option<Name> = signer.as_ref().map(|s| s.key_name().clone());
        let reply = |rcode: ResponseCode, signer: Option<&mut ResponseSigner>| {
            Answer::Ready(encode(core::response(&request, rcode), signer))
        };
        let zname = match core::zone_of(&request) {
            Ok(z) => z.clone(),
            Err(rcode) => return reply(rcode, signer.as_mut()),
        };
        let origin = LowerName::new(&zname);
        // RFC 2136 §3.1.1: a zone not served here is NOTAUTH.
        let Some(served) = catalog.get(&origin) else {
            tracing::info!(%peer, zone = %zname, "UPDATE for a zone not served here: NOTAUTH");
            return reply(ResponseCode::NotAuth, signer.as_mut());
        };
        let zc = config.zones.iter().find(|zc| {
            crate::zone::parse_origin(&zc.origin).is_ok_and(|o| LowerName::new(&o) == origin)
        });
        let signs_here = zc.is_some_and(|zc| zc.dnssec.is_some());
        let local = matches!(pending.reply, ReplyTo::Local(_));
        let policy = policies.get(&origin).cloned().unwrap_or_default();
        if local {
            // In-process DHCP names: trusted, outside the policy.
        } else if let Err(why) = policy.admit(peer.ip(), key.as_ref()) {
            let why = match why {
                Denied::Disabled => "the zone takes no updates (no update_policy or allow_update)",
                Denied::Address => "the sender is outside allow_update",
                Denied::Key => "unsigned, or signed with a key no update_policy rule names",
            };
            tracing::warn!(%peer, zone = %zname, key = ?key.as_ref().map(ToString::to_string), "UPDATE refused: {why}");
            return reply(ResponseCode::Refused, signer.as_mut());
        }
        if served.dnssec().is_some() && !signs_here {
            tracing::warn!(%peer, zone = %zname, "UPDATE refused: the zone is signed elsewhere (its signatures cannot be remade here)");
            return reply(ResponseCode::Refused, signer.as_mut());
        }
        let Open { zones, models } = open;
        let zb = zones.entry(origin.clone()).or_insert_with(|| {
            // The last batch's model, if the zone served is still its result.
            let cached = models
                .remove(&origin)
                .filter(|c| !signs_here && Arc::ptr_eq(&c.served, served));
            let (model, spare) = match cached {
                Some(c) => (c.model, c.spare),
                None => (Model::from_zone(served, signs_here), None),
            };
            ZoneBatch {
                model,
                spare,
                base: Arc::clone(served),
                entries: Vec::new(),
                signed: signs_here,
            }
        });
        match core::process(&mut zb.model, &request, |rr| {
            local || policy.permits(key.as_ref(), rr)
        }) {
            Ok(applied) => {
                if !applied.journaled.is_empty() {
                    zb.entries.push(Entry {
                        serial: applied.serial,
                        updates: applied.journaled,
                    });
                }
                Answer::Commit {
                    zone: origin,
                    message: Box::new(core::response(&request, ResponseCode::NoError)),
                    signer,
                }
            }
            Err(rcode) => {
                if rcode == ResponseCode::Refused {
                    tracing::warn!(%peer, zone = %zname, key = ?key.as_ref().map(ToString::to_string), "UPDATE refused: a change is outside the key's update_policy");
                }
                reply(rcode, signer.as_mut())
            }
        }
    }
}

/// Sends an answer where its request came from.
fn send(pending: Pending, bytes: Vec<u8>) {
    match pending.reply {
        ReplyTo::Udp(socket) => {
            if let Err(e) = socket.send_to(&bytes, pending.peer) {
                tracing::debug!(peer = %pending.peer, "UPDATE answer not sent: {e}");
            }
        }
        ReplyTo::Tcp(tx) => {
            let _ = tx.send(bytes);
        }
        ReplyTo::Local(tx) => {
            let _ = tx.try_send(bytes);
        }
    }
}
