//! Group commit: the worker decides a batch of requests in one store
//! transaction, and no reply leaves before its lease is on disk.
//!
//! The worker takes whatever has queued (up to `max_batch`), opens one
//! store transaction, runs every request through the [`Server`] and commits
//! it without waiting for the disk ([`Store::begin_unsynced`]); it hands the
//! batch's replies to the flush thread and goes on with the next batch. The
//! flush thread takes every batch committed so far, makes them durable with
//! one [`Store::sync`] (an fdatasync of the SQLite WAL) and only then sends
//! their replies. So no reply (no ACK) leaves before its lease is on disk,
//! the disk's latency overlaps the next batch's work instead of stalling it,
//! and one fsync serves many exchanges.
//!
//! Both threads count into a local [`DhcpStatsSnapshot`] and add it to the
//! shared [`DhcpStats`] once per batch: no lock and no shared write per packet.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant, SystemTime};

use headend_store::{Store, StoreError};

use crate::DhcpError;
use crate::core::{Ingress, Outcome, Reply, Server, Silence};
use crate::listen::{Intake, Job, Listener, Next, POLL, TICK, spawn};
use crate::stats::{DhcpStats, DhcpStatsSnapshot};
use crate::wire;

/// Committed batches waiting for the flush thread; when it falls this far
/// behind (a slow disk), the worker waits and requests queue (then drop) at
/// the sockets instead.
const FLUSH_BATCHES: usize = 8;

/// A committed (not yet durable) batch: when its commit began, and its
/// replies as (listener index, reply).
type Committed = (Instant, Vec<(usize, Reply)>);

/// What the packet path shares with the handle.
pub(crate) struct Runtime {
    /// Set to stop every thread.
    pub(crate) stop: Arc<AtomicBool>,
    /// The counters.
    pub(crate) stats: Arc<DhcpStats>,
    /// Relayed requests per relay (giaddr).
    pub(crate) relays: crate::stats::RelayCounts,
    /// From the start of a batch's commit to the end of the sync that made
    /// it durable (the wait its replies had for the disk).
    pub(crate) commit_latency: headend_util::Histogram,
    /// Committed batches handed to the flush thread and not yet sent.
    in_flight: AtomicUsize,
    /// The lease store.
    pub(crate) store: Store,
    /// The decision logic and its current configuration.
    pub(crate) server: Server,
}

impl Runtime {
    /// The shared state for `server` over `store`, not yet running.
    pub(crate) fn new(server: Server, store: Store) -> Self {
        Self {
            stop: Arc::new(AtomicBool::new(false)),
            stats: Arc::new(DhcpStats::default()),
            commit_latency: headend_util::Histogram::default(),
            relays: crate::stats::RelayCounts::default(),
            in_flight: AtomicUsize::new(0),
            store,
            server,
        }
    }
}

/// Starts the worker (fed by `intake`) and the flush thread (sending on
/// `listeners`).
pub(crate) fn start(
    listeners: Arc<Vec<Listener>>,
    intake: Intake,
    rt: &Arc<Runtime>,
) -> Result<(), DhcpError> {
    let (flush_tx, flush_rx) = sync_channel(FLUSH_BATCHES);
    {
        let (listeners, rt) = (Arc::clone(&listeners), Arc::clone(rt));
        spawn("dhcp-flush", move || flush(&listeners, &rt, &flush_rx))?;
    }
    let worker = Worker {
        listeners,
        flush: flush_tx,
        rt: Arc::clone(rt),
        exhausted: HashMap::new(),
        tally: DhcpStatsSnapshot::default(),
        relays: Vec::new(),
    };
    spawn("dhcp-worker", move || worker.run(intake))
}

struct Worker {
    listeners: Arc<Vec<Listener>>,
    /// To the flush thread, which sends each batch's replies once it is durable.
    flush: SyncSender<Committed>,
    rt: Arc<Runtime>,
    /// Per subnet: when exhaustion was last logged, and misses since.
    exhausted: HashMap<String, (Option<Instant>, u64)>,
    /// Counts of the batch being decided, added to the shared ones after it.
    tally: DhcpStatsSnapshot,
    /// Relayed requests of the batch by relay, added after it.
    relays: Vec<(std::net::Ipv4Addr, u64)>,
}

impl Worker {
    fn run(mut self, mut rx: Intake) {
        let mut last_stats = Instant::now();
        loop {
            if self.rt.stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some(every) = self.rt.server.plan().stats_every
                && last_stats.elapsed() >= every
            {
                last_stats = Instant::now();
                self.log_stats();
            }
            let first = match rx.next(Some(TICK)) {
                Next::Job(j) => j,
                Next::Empty => continue,
                Next::Closed => break,
            };
            self.batch(first, &mut rx);
            self.rt.stats.merge(&mut self.tally);
            self.rt.relays.merge(&mut self.relays);
        }
        self.log_stats();
    }

    fn log_stats(&self) {
        tracing::info!("dhcp stats: {}", self.rt.stats.snapshot());
    }

    /// One group commit: opens a transaction with `first` and keeps adding
    /// queued requests to it while the flush thread is still syncing the
    /// previous batch (so the decisions overlap the fsync, and a slower disk
    /// makes bigger batches rather than more commits), up to `max_batch`;
    /// then commits without waiting for the disk and hands the replies over.
    fn batch(&mut self, first: Job, rx: &mut Intake) {
        let rt = Arc::clone(&self.rt);
        // Batch and hop limits as configured when the batch began; each
        // request is decided under the configuration current when it is.
        let plan = rt.server.plan();
        let (max_hops, max_batch) = (plan.max_hops, plan.max_batch.max(1));
        let exhaustion_every = plan.exhaustion_every;
        drop(plan);
        let mut tx = match rt.store.begin_unsynced() {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!("DHCP: cannot start a lease transaction, request dropped: {e}");
                self.tally.store_error += 1;
                return;
            }
        };
        let mut replies: Vec<(usize, Reply)> = Vec::new();
        let mut silences = Vec::new();
        let mut taken = 0usize;
        let mut next = Some(first);
        loop {
            if let Some(job) = next.take() {
                taken += 1;
                self.tally.received += 1;
                let req = match wire::parse(&job.data, max_hops) {
                    Ok(req) => req,
                    Err(m) => {
                        tracing::debug!(source = %job.source, reason = m.as_str(), "DHCP datagram dropped: {m}");
                        *self.tally.malformed_mut(m) += 1;
                        continue;
                    }
                };
                if let Some(c) = self.tally.request_mut(req.kind) {
                    *c += 1;
                }
                let giaddr = req.header.giaddr();
                if !giaddr.is_unspecified() {
                    crate::stats::count_relay(&mut self.relays, giaddr);
                }
                let ctx = Ingress {
                    interface: self
                        .listeners
                        .get(job.socket)
                        .and_then(|l| l.interface.clone()),
                    source: job.source,
                };
                match rt.server.handle(&req, &ctx, &mut *tx, SystemTime::now()) {
                    Ok(Outcome::Reply(r)) => replies.push((job.socket, r)),
                    Ok(Outcome::Silent(s)) => silences.push(s),
                    Err(e) => {
                        note_store_failure(&mut self.tally, taken, &e, "batch rolled back");
                        return;
                    }
                }
            }
            if taken >= max_batch {
                break;
            }
            match rx.next(None) {
                Next::Job(j) => {
                    next = Some(j);
                    continue;
                }
                Next::Empty => {}
                Next::Closed => break,
            }
            // Nothing queued: commit now if the disk is free, else wait a
            // little for more requests to share the next sync.
            if rt.in_flight.load(Ordering::Acquire) == 0 {
                break;
            }
            match rx.next(Some(POLL)) {
                Next::Job(j) => next = Some(j),
                Next::Empty => {}
                Next::Closed => break,
            }
        }
        // In the log, not yet on disk: the flush thread sends the replies
        // only after a sync that began after this commit returned.
        let committing = Instant::now();
        if let Err(e) = tx.commit() {
            note_store_failure(&mut self.tally, taken, &e, "commit failed, no reply sent");
            return;
        }
        self.tally.commits += 1;
        for s in silences {
            if let Some(c) = self.tally.silence_mut(&s) {
                *c += 1;
            }
            if let Silence::PoolExhausted { subnet } = s {
                self.note_exhaustion(subnet, exhaustion_every);
            }
        }
        if replies.is_empty() {
            return;
        }
        let n = replies.len() as u64;
        rt.in_flight.fetch_add(1, Ordering::AcqRel);
        if self.flush.send((committing, replies)).is_err() {
            // The flush thread is gone (stopping): these replies never leave.
            rt.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.tally.store_error += n;
        }
    }

    /// A full pool is logged with the subnet's name, at most once per interval.
    fn note_exhaustion(&mut self, subnet: String, every: Duration) {
        let entry = self.exhausted.entry(subnet.clone()).or_insert((None, 0));
        entry.1 += 1;
        if entry.0.is_none_or(|t| t.elapsed() >= every) {
            tracing::warn!(
                subnet = %subnet,
                misses = entry.1,
                "DHCP pool exhausted: subnet {subnet} has no free address ({} request(s) unanswered since the last report)",
                entry.1
            );
            *entry = (Some(Instant::now()), 0);
        }
    }
}

/// The flush thread: takes every batch committed so far, makes them all
/// durable with one sync (which begins after each of their commits returned),
/// then sends their replies in commit order. A failed sync sends nothing.
fn flush(listeners: &[Listener], rt: &Runtime, rx: &Receiver<Committed>) {
    let mut tally = DhcpStatsSnapshot::default();
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
        let taken = batches.len();
        if let Err(e) = rt.store.sync() {
            let lost: usize = batches.iter().map(|(_, b)| b.len()).sum();
            tracing::error!("DHCP: leases not flushed to disk, {lost} repl(ies) not sent: {e}");
            tally.store_error += lost as u64;
            rt.in_flight.fetch_sub(taken, Ordering::AcqRel);
            rt.stats.merge(&mut tally);
            continue;
        }
        tally.syncs += 1;
        for (committing, _) in &batches {
            rt.commit_latency.observe(committing.elapsed());
        }
        for (socket, r) in batches.into_iter().flat_map(|(_, b)| b) {
            let Some(l) = listeners.get(socket) else {
                continue;
            };
            match l.send(&r.bytes, r.to) {
                Ok(_) => {
                    *tally.reply_mut(r.kind) += 1;
                    tracing::debug!(kind = ?r.kind, yiaddr = %r.yiaddr, to = %r.to, "DHCP reply sent");
                }
                Err(e) => {
                    tally.send_error += 1;
                    tracing::debug!(to = %r.to, "DHCP send failed: {e}");
                }
            }
        }
        rt.in_flight.fetch_sub(taken, Ordering::AcqRel);
        rt.stats.merge(&mut tally);
    }
}

/// A batch lost to the store: counted, and logged as an error, except when
/// another server sharing the database changed the same leases first
/// (PostgreSQL serialization conflict). That is expected when several
/// servers answer one client, and its clients simply retry.
fn note_store_failure(tally: &mut DhcpStatsSnapshot, taken: usize, e: &StoreError, what: &str) {
    if matches!(e, StoreError::Conflict { .. }) {
        tracing::debug!(
            "DHCP: {taken} request(s) lost to another server's change ({what}); their clients retry: {e}"
        );
        tally.store_conflict += taken as u64;
    } else {
        tracing::error!("DHCP: lease store failed, {taken} request(s) dropped ({what}): {e}");
        tally.store_error += taken as u64;
    }
}
