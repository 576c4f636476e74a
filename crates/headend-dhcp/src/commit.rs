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

use headend_store::{Store, StoreError, Transaction};

use crate::DhcpError;
use crate::core::{Handled, Ingress, Outcome, Reply, Server, Silence};
use crate::hook::{self, LeaseEvent, LeaseHook};
use crate::listen::{Intake, Job, Listener, Next, POLL, TICK, spawn};
use crate::stats::{DhcpStats, DhcpStatsSnapshot};
use crate::wire;

/// Committed batches waiting for the flush thread; when it falls this far
/// behind (a slow disk), the worker waits and requests queue (then drop) at
/// the sockets instead.
const FLUSH_BATCHES: usize = 8;

/// A committed (not yet durable) batch: when its commit began, its
/// replies as (listener index, reply), and its lease events (only
/// collected while a [`LeaseHook`] is registered).
type Committed = (Instant, Replies, Vec<LeaseEvent>);

/// The replies of one batch, with the listener each leaves by.
type Replies = Vec<(usize, Reply)>;

/// What the packet path shares with the handle.
pub(crate) struct Runtime {
    /// Set to stop every thread.
    pub(crate) stop: Arc<AtomicBool>,
    /// The counters.
    pub(crate) stats: Arc<DhcpStats>,
    /// Relayed requests per relay (giaddr).
    pub(crate) relays: crate::stats::RelayCounts,
    /// Requests per client class.
    pub(crate) classes: crate::stats::ClassCounts,
    /// From the start of a batch's commit to the end of the sync that made
    /// it durable (the wait its replies had for the disk).
    pub(crate) commit_latency: headend_util::Histogram,
    /// Committed batches handed to the flush thread and not yet sent.
    in_flight: AtomicUsize,
    /// The lease store.
    pub(crate) store: Store,
    /// The decision logic and its current configuration.
    pub(crate) server: Server,
    /// The lease ends to log as expiries (`dhcp.log_leases`).
    pub(crate) expiries: std::sync::Mutex<crate::expiry::ExpiryWatch>,
    /// Who hears of committed lease changes (DNS names), if anyone.
    pub(crate) hook: std::sync::RwLock<Option<Arc<dyn LeaseHook>>>,
}

impl Runtime {
    /// The shared state for `server` over `store`, not yet running.
    pub(crate) fn new(server: Server, store: Store) -> Self {
        Self {
            stop: Arc::new(AtomicBool::new(false)),
            stats: Arc::new(DhcpStats::default()),
            commit_latency: headend_util::Histogram::default(),
            relays: crate::stats::RelayCounts::default(),
            classes: crate::stats::ClassCounts::default(),
            in_flight: AtomicUsize::new(0),
            store,
            server,
            expiries: std::sync::Mutex::default(),
            hook: std::sync::RwLock::new(None),
        }
    }

    /// The registered lease hook, if any.
    pub(crate) fn hook(&self) -> Option<Arc<dyn LeaseHook>> {
        self.hook
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
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
        window: (Instant::now(), 0),
        log_leases: true,
        ends: Vec::new(),
        relays: Vec::new(),
        events: None,
        classes: crate::stats::ClassTally::default(),
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
    /// Conflicts since the instant, for the rate warning.
    window: (Instant, u64),
    /// Whether this batch logs its lease events (`dhcp.log_leases`).
    log_leases: bool,
    /// The DHCPRELEASE and DHCPDECLINE lines of the batch being decided,
    /// logged once it committed without a conflict.
    ends: Vec<(
        &'static str,
        String,
        std::net::Ipv4Addr,
        Option<std::net::Ipv4Addr>,
    )>,
    /// Relayed requests of the batch by relay, added after it.
    relays: Vec<(std::net::Ipv4Addr, u64)>,
    /// The lease events of the batch being decided, while a hook is
    /// registered (`None`: nobody listens, nothing is collected).
    events: Option<Vec<LeaseEvent>>,
    /// Requests of the batch by client class, added after it.
    classes: crate::stats::ClassTally,
}

/// A request taken into a batch, kept to be decided again after a conflict.
struct Taken {
    job: Job,
    /// The first pass found its client over the rate limit.
    limited: bool,
}

/// Conflicts are compared with `dhcp.ha.conflict_warn_per_sec` over this long.
const CONFLICT_WINDOW: Duration = Duration::from_secs(10);

/// The time requests are decided at: the store's clock when it is shared
/// by several hosts (so every server judges a lease live or expired alike),
/// else this host's.
fn decision_time(tx: &dyn Transaction) -> SystemTime {
    tx.clock()
        .map_or_else(SystemTime::now, |d| SystemTime::UNIX_EPOCH + d)
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
            self.rt.classes.merge(&mut self.classes);
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
    /// A batch that loses a conflict with another server sharing the store
    /// is decided again ([`Worker::rerun`]), so the conflict costs only the
    /// requests it touches.
    fn batch(&mut self, first: Job, rx: &mut Intake) {
        let rt = Arc::clone(&self.rt);
        // Batch and hop limits as configured when the batch began; each
        // request is decided under the configuration current when it is.
        let plan = rt.server.plan();
        let (max_hops, max_batch) = (plan.max_hops, plan.max_batch.max(1));
        let exhaustion_every = plan.exhaustion_every;
        self.log_leases = plan.log_leases;
        self.ends.clear();
        let retries = plan.ha.conflict_retries;
        let warn_rate = plan.ha.conflict_warn_per_sec;
        drop(plan);
        self.events = rt.hook().map(|_| Vec::new());
        let mut tx = match rt.store.begin_unsynced() {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!("DHCP: cannot start a lease transaction, request dropped: {e}");
                self.tally.store_error += 1;
                return;
            }
        };
        let now = decision_time(&*tx);
        let mut replies: Replies = Vec::new();
        let mut silences = Vec::new();
        // Every request taken, kept to decide it again after a conflict.
        let mut taken: Vec<Taken> = Vec::new();
        let mut conflict = None;
        let mut chunk = vec![first];
        loop {
            let mut closed = false;
            if !chunk.is_empty() {
                // Whatever else is queued joins the batch now, and the rows of
                // all these requests are fetched at once (one round trip to a
                // database server instead of several per request).
                while taken.len() + chunk.len() < max_batch {
                    match rx.next(None) {
                        Next::Job(j) => chunk.push(j),
                        Next::Empty => break,
                        Next::Closed => {
                            closed = true;
                            break;
                        }
                    }
                }
                let mut jobs = std::mem::take(&mut chunk).into_iter();
                match prefetch(&rt.server, &mut *tx, jobs.as_slice(), max_hops) {
                    Ok(()) => {}
                    Err(e @ StoreError::Conflict { .. }) => conflict = Some(e),
                    Err(e) => {
                        note_store_failure(
                            &mut self.tally,
                            taken.len() + jobs.len(),
                            &e,
                            "batch rolled back",
                        );
                        return;
                    }
                }
                for job in jobs.by_ref() {
                    if conflict.is_some() {
                        // Decided after the conflict, with the rest of the batch.
                        self.tally_only(&job, max_hops);
                        taken.push(Taken {
                            job,
                            limited: false,
                        });
                        continue;
                    }
                    self.tally.received += 1;
                    let mut limited = false;
                    match self.first_pass(&job, max_hops, &mut *tx, now) {
                        Ok(None) => {}
                        Ok(Some(Outcome::Reply(r))) => replies.push((job.socket, r)),
                        Ok(Some(Outcome::Silent(s))) => {
                            limited = s == Silence::RateLimited;
                            silences.push(s);
                        }
                        Err(e @ StoreError::Conflict { .. }) => conflict = Some(e),
                        Err(e) => {
                            note_store_failure(
                                &mut self.tally,
                                taken.len() + 1 + jobs.len(),
                                &e,
                                "batch rolled back",
                            );
                            return;
                        }
                    }
                    taken.push(Taken { job, limited });
                }
            }
            if conflict.is_some() || closed || taken.len() >= max_batch {
                break;
            }
            match rx.next(None) {
                Next::Job(j) => {
                    chunk.push(j);
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
                Next::Job(j) => chunk.push(j),
                Next::Empty => {}
                Next::Closed => break,
            }
        }
        // In the log, not yet on disk: the flush thread sends the replies
        // only after a sync that began after this commit returned.
        let committing = Instant::now();
        let ended = match conflict {
            Some(e) => {
                drop(tx);
                Err(e)
            }
            None => tx.commit(),
        };
        let conflict_free = ended.is_ok();
        match ended {
            Ok(()) => self.tally.commits += 1,
            Err(e @ StoreError::Conflict { .. }) => {
                self.note_conflict(&e);
                if let Some(ev) = self.events.as_mut() {
                    ev.clear();
                }
                (replies, silences) = self.rerun(&taken, retries, max_hops);
            }
            Err(e) => {
                note_store_failure(
                    &mut self.tally,
                    taken.len(),
                    &e,
                    "commit failed, no reply sent",
                );
                return;
            }
        }
        if conflict_free {
            for (event, mac, ip, relay) in std::mem::take(&mut self.ends) {
                log_client_end(event, &mac, ip, relay);
            }
        }
        self.ends.clear();
        self.warn_conflicts(warn_rate);
        for s in silences {
            if let Some(c) = self.tally.silence_mut(&s) {
                *c += 1;
            }
            if let Silence::PoolExhausted { subnet } = s {
                self.note_exhaustion(subnet, exhaustion_every);
            }
        }
        let events = self.events.take().unwrap_or_default();
        if replies.is_empty() && events.is_empty() {
            return;
        }
        let n = replies.len() as u64;
        rt.in_flight.fetch_add(1, Ordering::AcqRel);
        if self.flush.send((committing, replies, events)).is_err() {
            // The flush thread is gone (stopping): these replies never leave.
            rt.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.tally.store_error += n;
        }
    }

    /// Where a request came from.
    fn ingress(&self, job: &Job) -> Ingress {
        Ingress {
            interface: self
                .listeners
                .get(job.socket)
                .and_then(|l| l.interface.clone()),
            source: job.source,
        }
    }

    /// Counts a request taken into a batch that a conflict ended before it
    /// was decided (it is decided with the retry).
    fn tally_only(&mut self, job: &Job, max_hops: u8) {
        self.tally.received += 1;
        match wire::parse(&job.data, max_hops) {
            Ok(req) => {
                if let Some(c) = self.tally.request_mut(req.kind) {
                    *c += 1;
                }
            }
            Err(m) => *self.tally.malformed_mut(m) += 1,
        }
    }

    /// Validates, counts and decides a request the first time it is seen;
    /// `None` for a malformed datagram (counted, dropped).
    fn first_pass(
        &mut self,
        job: &Job,
        max_hops: u8,
        tx: &mut dyn Transaction,
        now: SystemTime,
    ) -> Result<Option<Outcome>, StoreError> {
        let req = match wire::parse(&job.data, max_hops) {
            Ok(req) => req,
            Err(m) => {
                tracing::debug!(source = %job.source, reason = m.as_str(), "DHCP datagram dropped: {m}");
                *self.tally.malformed_mut(m) += 1;
                return Ok(None);
            }
        };
        if let Some(c) = self.tally.request_mut(req.kind) {
            *c += 1;
        }
        let giaddr = req.header.giaddr();
        if !giaddr.is_unspecified() {
            crate::stats::count_relay(&mut self.relays, giaddr);
        }
        // The first matching class is the one whose settings win.
        let plan = self.rt.server.plan();
        let class = plan.classes.iter().position(|c| c.matches(&req));
        self.classes.count(&plan, class, &self.rt.classes);
        let ctx = self.ingress(job);
        let before = match self.events {
            Some(_) => hook::lease_before(&req, &mut *tx)?,
            None => None,
        };
        let outcome = self.rt.server.handle(&req, &ctx, tx, now)?;
        if let Some(ev) = self.events.as_mut()
            && let Some(e) = hook::event(&req, &outcome, before, &mut *tx)?
        {
            ev.push(e);
        }
        if self.log_leases
            && let Outcome::Silent(Silence::Done(h @ (Handled::Release | Handled::Decline))) =
                &outcome
        {
            let ip = if *h == Handled::Release {
                req.header.ciaddr()
            } else {
                req.option_addr(wire::code::REQUESTED_ADDRESS)
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)
            };
            let mac = req
                .hwaddr()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            let relay = Some(req.header.giaddr()).filter(|g| !g.is_unspecified());
            self.ends.push((h.as_str(), mac, ip, relay));
        }
        Ok(Some(outcome))
    }

    /// After a conflict with another server: decides `taken` again in fresh
    /// transactions, the whole set up to `retries` times, then each half on
    /// its own, down to single requests. So a conflict costs at most the
    /// request it touches, and that one was decided afresh up to three
    /// times. Bounded: a batch of n requests takes at most `retries` + 4n
    /// transactions, and stopping the service ends it. Answers the replies
    /// and silences of every part that committed.
    fn rerun(&mut self, taken: &[Taken], retries: u32, max_hops: u8) -> (Replies, Vec<Silence>) {
        let mut replies = Vec::new();
        let mut silences = Vec::new();
        let mut parts: Vec<(&[Taken], u32)> = vec![(taken, retries.max(1))];
        while let Some((part, tries)) = parts.pop() {
            if self.rt.stop.load(Ordering::Relaxed) {
                self.tally.store_conflict += part.len() as u64;
                continue;
            }
            self.tally.conflict_retries += 1;
            match self.attempt(part, max_hops) {
                Ok((r, s)) => {
                    self.tally.commits += 1;
                    replies.extend(r);
                    silences.extend(s);
                }
                Err(e @ StoreError::Conflict { .. }) => {
                    self.note_conflict(&e);
                    if tries > 1 {
                        parts.push((part, tries - 1));
                    } else if part.len() > 1 {
                        let (a, b) = part.split_at(part.len() / 2);
                        parts.push((b, 2));
                        parts.push((a, 2));
                    } else {
                        tracing::debug!(
                            "DHCP: a request lost every retry to another server's change; its client retries: {e}"
                        );
                        self.tally.store_conflict += 1;
                    }
                }
                Err(e) => {
                    note_store_failure(
                        &mut self.tally,
                        part.len(),
                        &e,
                        "retry after a conflict failed",
                    );
                }
            }
        }
        (replies, silences)
    }

    /// Decides `part` again in one new transaction and commits it (not yet
    /// durable, as a first pass). Requests the first pass found over their
    /// rate stay silent; malformed ones were counted then.
    fn attempt(
        &mut self,
        part: &[Taken],
        max_hops: u8,
    ) -> Result<(Replies, Vec<Silence>), StoreError> {
        let rt = Arc::clone(&self.rt);
        let mut tx = rt.store.begin_unsynced()?;
        let now = decision_time(&*tx);
        let jobs: Vec<&Job> = part.iter().filter(|t| !t.limited).map(|t| &t.job).collect();
        prefetch_refs(&rt.server, &mut *tx, &jobs, max_hops)?;
        let mut events: Option<Vec<LeaseEvent>> = self.events.as_ref().map(|_| Vec::new());
        let mut replies = Vec::new();
        let mut silences = Vec::new();
        for t in part {
            if t.limited {
                silences.push(Silence::RateLimited);
                continue;
            }
            let Ok(req) = wire::parse(&t.job.data, max_hops) else {
                continue;
            };
            let ctx = self.ingress(&t.job);
            let before = match events {
                Some(_) => hook::lease_before(&req, &mut *tx)?,
                None => None,
            };
            let outcome = rt.server.handle_again(&req, &ctx, &mut *tx, now)?;
            if let Some(ev) = events.as_mut()
                && let Some(e) = hook::event(&req, &outcome, before, &mut *tx)?
            {
                ev.push(e);
            }
            match outcome {
                Outcome::Reply(r) => replies.push((t.job.socket, r)),
                Outcome::Silent(s) => silences.push(s),
            }
        }
        tx.commit()?;
        if let (Some(all), Some(ev)) = (self.events.as_mut(), events) {
            all.extend(ev);
        }
        Ok((replies, silences))
    }

    /// Counts a transaction lost to a conflict.
    fn note_conflict(&mut self, e: &StoreError) {
        self.tally.conflicts += 1;
        self.window.1 += 1;
        if matches!(e, StoreError::Conflict { deadlock: true, .. }) {
            self.tally.deadlocks += 1;
        }
    }

    /// Every 10 s: a warning if conflicts ran above `per_sec` (0: never).
    fn warn_conflicts(&mut self, per_sec: f64) {
        let elapsed = self.window.0.elapsed();
        if elapsed < CONFLICT_WINDOW {
            return;
        }
        let (count, secs) = (self.window.1, elapsed.as_secs_f64());
        self.window = (Instant::now(), 0);
        let rate = count as f64 / secs;
        if per_sec > 0.0 && rate > per_sec {
            tracing::warn!(
                conflicts = count,
                per_sec = rate,
                "DHCP: {count} lease transaction(s) conflicted with another server in {secs:.0} s ({rate:.1}/s, above dhcp.ha.conflict_warn_per_sec = {per_sec}); their requests were retried. Consider [dhcp.ha] mode = \"load-balancing\" so each client has one server"
            );
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

/// Tells the store which clients and addresses `jobs` are about to look up
/// ([`headend_store::LeaseTx::prefetch`]): each request's client and the
/// addresses it names (requested address, ciaddr); not the clients another
/// server answers (`[dhcp.ha]`), whose requests need no lookup.
fn prefetch(
    server: &Server,
    tx: &mut dyn Transaction,
    jobs: &[Job],
    max_hops: u8,
) -> Result<(), StoreError> {
    let refs: Vec<&Job> = jobs.iter().collect();
    prefetch_refs(server, tx, &refs, max_hops)
}

fn prefetch_refs(
    server: &Server,
    tx: &mut dyn Transaction,
    jobs: &[&Job],
    max_hops: u8,
) -> Result<(), StoreError> {
    if !tx.wants_prefetch() {
        return Ok(());
    }
    let mut keys = Vec::with_capacity(jobs.len());
    let mut addresses = Vec::new();
    for job in jobs {
        let Ok(req) = wire::parse(&job.data, max_hops) else {
            continue;
        };
        if !server.answers(&req) {
            continue;
        }
        keys.push(req.client_key());
        addresses.extend(req.option_addr(wire::code::REQUESTED_ADDRESS));
        let ciaddr = req.header.ciaddr();
        if !ciaddr.is_unspecified() {
            addresses.push(ciaddr);
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    tx.prefetch(&keys, &addresses)
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
            let lost: usize = batches.iter().map(|(_, b, _)| b.len()).sum();
            tracing::error!("DHCP: leases not flushed to disk, {lost} repl(ies) not sent: {e}");
            tally.store_error += lost as u64;
            rt.in_flight.fetch_sub(taken, Ordering::AcqRel);
            rt.stats.merge(&mut tally);
            continue;
        }
        tally.syncs += 1;
        for (committing, _, _) in &batches {
            rt.commit_latency.observe(committing.elapsed());
        }
        // Durable now: the names follow before the clients hear their ACKs.
        let events: Vec<LeaseEvent> = batches
            .iter_mut()
            .flat_map(|(_, _, e)| std::mem::take(e))
            .collect();
        if !events.is_empty()
            && let Some(hook) = rt.hook()
        {
            hook.committed(&events);
        }
        let mut notes = Vec::new();
        let mut replies: Vec<(usize, Reply)> =
            batches.into_iter().flat_map(|(_, b, _)| b).collect();
        for (_, r) in &mut replies {
            if let Some(n) = r.note.take() {
                notes.push((n, r.kind, r.yiaddr));
            }
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
                if *ok {
                    *tally.reply_mut(r.kind) += 1;
                    tracing::debug!(kind = ?r.kind, yiaddr = %r.yiaddr, to = %r.to, "DHCP reply sent");
                } else {
                    tally.send_error += 1;
                }
            }
        }
        rt.in_flight.fetch_sub(taken, Ordering::AcqRel);
        rt.stats.merge(&mut tally);
        // After every reply of these batches left: the log costs no client
        // any latency and never holds up a commit.
        if !notes.is_empty() {
            let now = headend_util::unix_now();
            let mut expiries = rt
                .expiries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (n, kind, yiaddr) in &notes {
                if let (wire::MessageType::Ack, Some(secs)) = (kind, n.lease_secs) {
                    expiries.schedule(*yiaddr, now + u64::from(secs));
                }
            }
        }
        for (n, kind, yiaddr) in notes {
            log_lease(&n, kind, yiaddr);
        }
    }
}

/// The info line of one lease event, on the `headend::lease` target:
/// `DHCPACK on 10.0.0.5 to aa:bb:cc:dd:ee:ff via 10.1.0.1` with fields.
fn log_lease(n: &crate::LeaseNote, kind: wire::MessageType, ip: std::net::Ipv4Addr) {
    let via = n
        .relay
        .map_or_else(|| "direct".to_owned(), |r| r.to_string());
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let what = if kind == wire::MessageType::Nak {
        "DHCPNAK to"
    } else {
        "DHCPACK on"
    };
    let shown = if kind == wire::MessageType::Nak {
        String::new()
    } else {
        format!("{ip} to ")
    };
    tracing::info!(
        target: "headend::lease",
        event = %n.event,
        mac = %n.mac,
        client_id = %dash(&n.client_id),
        ip = %ip,
        subnet = %n.subnet,
        class = %dash(&n.class),
        circuit_id = %dash(&n.circuit_id),
        remote_id = %dash(&n.remote_id),
        relay = %via,
        lease_secs = n.lease_secs.unwrap_or(0),
        "{what} {shown}{} via {via}",
        n.mac
    );
}

/// The info line of a DHCPRELEASE or DHCPDECLINE, once its batch committed.
pub(crate) fn log_client_end(
    event: &'static str,
    mac: &str,
    ip: std::net::Ipv4Addr,
    relay: Option<std::net::Ipv4Addr>,
) {
    let via = relay.map_or_else(|| "direct".to_owned(), |r| r.to_string());
    let what = if event == "release" {
        "DHCPRELEASE"
    } else {
        "DHCPDECLINE"
    };
    tracing::info!(
        target: "headend::lease",
        event = %event,
        mac = %mac,
        ip = %ip,
        relay = %via,
        "{what} of {ip} from {mac} via {via}"
    );
}

/// Requests lost to the store: counted, and logged as an error, except when
/// another server sharing the database changed the same leases first
/// (PostgreSQL serialization conflict) in every retry. That is expected
/// when several servers answer one client, and its client simply retries.
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
