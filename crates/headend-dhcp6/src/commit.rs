//! Group commit, as for DHCPv4: the worker decides a batch of requests in
//! one store transaction committed without waiting for the disk; the flush
//! thread makes every batch committed so far durable with one
//! [`Store::sync`] and only then sends their replies. No REPLY granting a
//! binding leaves before the binding is on disk.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Instant, SystemTime};

use headend_store::{Store, StoreError};

use crate::Dhcp6Error;
use crate::core::{Ingress, Outcome, Reply, Server, Silence};
use crate::hook::{self, Lease6Event, Lease6Hook};
use crate::listen::{Job, Listener, TICK, spawn};
use crate::stats::{Dhcp6Stats, Dhcp6StatsSnapshot};
use crate::wire::{self, Malformed, msg};

/// Committed batches the flush thread may fall behind by.
const FLUSH_BATCHES: usize = 8;

/// What the packet path shares with the handle.
pub(crate) struct Runtime {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) stats: Arc<Dhcp6Stats>,
    pub(crate) store: Store,
    pub(crate) server: Server,
    /// Receives the committed binding events, once registered.
    pub(crate) hook: RwLock<Option<Arc<dyn Lease6Hook>>>,
}

impl Runtime {
    /// The registered binding hook, if any.
    pub(crate) fn hook(&self) -> Option<Arc<dyn Lease6Hook>> {
        self.hook
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A committed batch on its way to the flush thread: its replies as
/// (listener index, reply), and its binding events (only collected while
/// a hook is registered).
type Batch = (Vec<(usize, Reply)>, Vec<Lease6Event>);

/// Starts the worker (fed by `rx`) and the flush thread.
pub(crate) fn start(
    listeners: Arc<Vec<Listener>>,
    rx: Receiver<Job>,
    rt: &Arc<Runtime>,
) -> Result<(), Dhcp6Error> {
    let (flush_tx, flush_rx) = sync_channel::<Batch>(FLUSH_BATCHES);
    {
        let (listeners, rt) = (Arc::clone(&listeners), Arc::clone(rt));
        spawn("dhcp6-flush", move || flush(&listeners, &rt, &flush_rx))?;
    }
    let rt = Arc::clone(rt);
    spawn("dhcp6-worker", move || {
        worker(&listeners, &rt, &rx, &flush_tx)
    })
}

fn worker(listeners: &[Listener], rt: &Runtime, rx: &Receiver<Job>, flush: &SyncSender<Batch>) {
    let mut tally = Dhcp6StatsSnapshot::default();
    let mut last_stats = Instant::now();
    loop {
        if rt.stop.load(Ordering::Relaxed) {
            break;
        }
        let plan = rt.server.plan();
        if let Some(every) = plan.stats_every
            && last_stats.elapsed() >= every
        {
            last_stats = Instant::now();
            tracing::info!("dhcp6 stats: {}", rt.stats.snapshot());
        }
        let first = match rx.recv_timeout(TICK) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let (max_hops, max_batch) = (plan.max_hops, plan.max_batch);
        drop(plan);
        let mut tx = match rt.store.begin_unsynced() {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!("DHCPv6: cannot start a binding transaction, request dropped: {e}");
                tally.store_error += 1;
                rt.stats.merge(&mut tally);
                continue;
            }
        };
        let mut replies = Vec::new();
        let mut events: Option<Vec<Lease6Event>> = rt.hook().map(|_| Vec::new());
        let mut next = Some(first);
        let mut taken = 0usize;
        let mut failed: Option<StoreError> = None;
        while let Some(job) = next.take() {
            taken += 1;
            tally.received += 1;
            match wire::parse(&job.data, max_hops) {
                Err(m) => {
                    tracing::debug!(source = %job.source, reason = m.as_str(), "DHCPv6 datagram dropped");
                    tally.malformed += 1;
                    match m {
                        Malformed::Short => tally.malformed_short += 1,
                        Malformed::OptionOverrun => tally.malformed_option_overrun += 1,
                        Malformed::NotForServer => tally.malformed_not_for_server += 1,
                        Malformed::NoRelayMessage => tally.malformed_no_relay_message += 1,
                        Malformed::TooManyHops => tally.malformed_too_many_hops += 1,
                        _ => tally.malformed_bad_ia += 1,
                    }
                }
                Ok(req) => {
                    match req.message.kind {
                        msg::SOLICIT => tally.solicit += 1,
                        msg::REQUEST => tally.request += 1,
                        msg::CONFIRM => tally.confirm += 1,
                        msg::RENEW => tally.renew += 1,
                        msg::REBIND => tally.rebind += 1,
                        msg::RELEASE => tally.release += 1,
                        msg::DECLINE => tally.decline += 1,
                        msg::INFORMATION_REQUEST => tally.information_request += 1,
                        _ => {}
                    }
                    if !req.relays.is_empty() {
                        tally.relayed += 1;
                    }
                    let ctx = Ingress {
                        interface: listeners.get(job.socket).and_then(|l| l.interface.clone()),
                        source: job.source,
                        unicast: job.unicast,
                    };
                    let before = match events {
                        Some(_) => hook::bindings_before(&req, &mut *tx),
                        None => Ok(Vec::new()),
                    };
                    let decided = before.and_then(|before| {
                        let outcome = rt.server.handle(&req, &ctx, &mut *tx, SystemTime::now())?;
                        if let Some(ev) = events.as_mut() {
                            hook::events(&req, &outcome, before, &mut *tx, ev)?;
                        }
                        Ok(outcome)
                    });
                    match decided {
                        Ok(Outcome::Reply(r)) => replies.push((job.socket, r)),
                        Ok(Outcome::Silent(s)) => {
                            tally.silent += 1;
                            match s {
                                Silence::RateLimited => tally.rate_limited += 1,
                                Silence::NoSubnet => tally.no_subnet += 1,
                                Silence::RelayCap => tally.relay_cap += 1,
                                Silence::BadIdentifiers => tally.bad_identifiers += 1,
                                Silence::OtherServer => tally.other_server += 1,
                                Silence::Nothing => tally.nothing += 1,
                            }
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            if taken < max_batch {
                next = rx.try_recv().ok();
            }
        }
        if let Some(e) = failed {
            drop(tx);
            rt.server.forget_cursors();
            note_failure(&mut tally, taken, &e, "batch rolled back");
            rt.stats.merge(&mut tally);
            continue;
        }
        if let Err(e) = tx.commit() {
            rt.server.forget_cursors();
            note_failure(&mut tally, taken, &e, "commit failed, no reply sent");
            rt.stats.merge(&mut tally);
            continue;
        }
        tally.commits += 1;
        let events = events.unwrap_or_default();
        if !replies.is_empty() || !events.is_empty() {
            let n = replies.len() as u64;
            if flush.send((replies, events)).is_err() {
                tally.store_error += n;
            }
        }
        rt.stats.merge(&mut tally);
    }
}

/// Syncs every committed batch, then sends their replies in order.
fn flush(listeners: &[Listener], rt: &Runtime, rx: &Receiver<Batch>) {
    let mut tally = Dhcp6StatsSnapshot::default();
    loop {
        let first = match rx.recv_timeout(TICK) {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batches = vec![first];
        while let Ok(b) = rx.try_recv() {
            batches.push(b);
        }
        if let Err(e) = rt.store.sync() {
            let lost: usize = batches.iter().map(|(r, _)| r.len()).sum();
            tracing::error!("DHCPv6: bindings not flushed to disk, {lost} repl(ies) not sent: {e}");
            tally.store_error += lost as u64;
            rt.stats.merge(&mut tally);
            continue;
        }
        tally.syncs += 1;
        let mut replies = Vec::new();
        let mut events = Vec::new();
        for (r, e) in batches {
            replies.extend(r);
            events.extend(e);
        }
        // The names follow the bindings before the clients hear of them.
        if !events.is_empty()
            && let Some(hook) = rt.hook()
        {
            hook.committed(&events);
        }
        // Each run of replies through one socket leaves in one go.
        let mut sent = Vec::new();
        for run in replies.chunk_by(|a, b| a.0 == b.0) {
            let Some(l) = run.first().and_then(|(socket, _)| listeners.get(*socket)) else {
                continue;
            };
            let out: Vec<(&[u8], std::net::SocketAddr)> = run
                .iter()
                .map(|(_, r)| (r.bytes.as_slice(), r.to.into()))
                .collect();
            l.send_many(&out, &mut sent);
            for ((_, r), ok) in run.iter().zip(&sent) {
                if !*ok {
                    tally.send_error += 1;
                    tracing::debug!(to = %r.to, "DHCPv6 send failed");
                } else if r.kind == msg::ADVERTISE {
                    tally.advertise += 1;
                } else {
                    tally.reply += 1;
                }
            }
        }
        rt.stats.merge(&mut tally);
    }
}

fn note_failure(tally: &mut Dhcp6StatsSnapshot, taken: usize, e: &StoreError, what: &str) {
    if matches!(e, StoreError::Conflict { .. }) {
        tracing::debug!("DHCPv6: {taken} request(s) lost to another server's change ({what}): {e}");
    } else {
        tracing::error!("DHCPv6: lease store failed, {taken} request(s) dropped ({what}): {e}");
    }
    tally.store_error += taken as u64;
}
