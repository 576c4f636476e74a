//! PostgreSQL connections, each owned by a thread of its own, and the pools
//! that hand them out.
//!
//! `postgres::Client` drives a private tokio runtime and panics ("Cannot
//! start a runtime from within a runtime") when used from inside another one,
//! and headend calls the store from tokio tasks. So no caller ever touches a
//! client: a [`Conn`] is a channel to a dedicated std thread that owns the
//! client and runs the closures sent to it, one at a time, in order; the
//! caller blocks on the answer for a bounded time. A broken connection is
//! dropped by its thread and made again on the next call; a call inside a
//! transaction never reconnects (the server rolled that transaction back), it
//! fails.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use ::postgres::types::ToSql;
use ::postgres::{Client, NoTls, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;
use crate::error::render_pg;

/// Server-side bound on one statement (lock waits included), below the
/// caller's wait so that a slow statement ends as an error the connection
/// survives rather than as a caller timeout.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(25);
/// How much longer than the connect timeout a caller waits for an answer.
const CALL_BUDGET: Duration = Duration::from_secs(30);

/// Where and how to connect: shared by every connection thread of a backend.
pub(crate) struct Target {
    config: ::postgres::Config,
    /// TLS for every connection (`[store] tls_ca_file`); `None`: none.
    tls: Option<MakeRustlsConnect>,
    /// `postgres:host:port/dbname`, for logs and errors.
    pub(crate) describe: String,
    /// The longest a caller waits for a connection or an answer.
    wait: Duration,
}

impl Target {
    /// `config` must be complete (password set, `ssl_mode` chosen to match
    /// `tls`); `connect_timeout` is applied here.
    pub(crate) fn new(
        mut config: ::postgres::Config,
        tls: Option<MakeRustlsConnect>,
        connect_timeout: Duration,
    ) -> Self {
        config.connect_timeout(connect_timeout);
        // Notice a dead server or network in about a minute rather than the
        // kernel's two hours, so a stuck connection thread frees itself.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.keepalives_interval(Duration::from_secs(10));
        config.keepalives_retries(3);
        if config.get_application_name().is_none() {
            config.application_name("headend");
        }
        let describe = crate::config::describe(&config);
        Self {
            config,
            tls,
            describe,
            wait: connect_timeout + CALL_BUDGET,
        }
    }

    fn unavailable(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Unavailable {
            target: self.describe.clone(),
            reason: reason.into(),
        }
    }

    fn connect(&self) -> Result<Client, StoreError> {
        let connect_err = |source: ::postgres::Error| StoreError::Connect {
            target: self.describe.clone(),
            detail: render_pg(&source),
            source,
        };
        // The connector is cheap to clone (its rustls config is shared).
        let mut client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
        .map_err(connect_err)?;
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}",
                STATEMENT_TIMEOUT.as_millis()
            ))
            .map_err(connect_err)?;
        tracing::debug!(store = %self.describe, "PostgreSQL connection made");
        Ok(client)
    }
}

/// One live connection with its prepared statements.
pub(crate) struct Session {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

/// Parameters of a query.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Session {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, ::postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    /// Every row of a (cached, prepared) query.
    pub(crate) fn query(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, ::postgres::Error> {
        let stmt = self.statement(sql)?;
        self.client.query(&stmt, params)
    }

    /// The first row of a query, if any.
    pub(crate) fn query_first(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, ::postgres::Error> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) fn execute(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<u64, ::postgres::Error> {
        let stmt = self.statement(sql)?;
        self.client.execute(&stmt, params)
    }

    /// Runs statements without parameters (simple query protocol).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), ::postgres::Error> {
        self.client.batch_execute(sql)
    }

    /// Runs `f` inside `BEGIN`..`COMMIT` (an error rolls everything back).
    pub(crate) fn atomically<R>(
        &mut self,
        operation: &'static str,
        f: impl FnOnce(&mut Self) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.batch("BEGIN").map_err(StoreError::pg(operation))?;
        match f(self) {
            Ok(r) => {
                self.batch("COMMIT").map_err(StoreError::pg(operation))?;
                Ok(r)
            }
            Err(e) => {
                if let Err(r) = self.batch("ROLLBACK") {
                    tracing::debug!("store rollback after an error failed: {}", render_pg(&r));
                }
                Err(e)
            }
        }
    }
}

/// The state a connection thread keeps between calls.
pub(crate) struct Worker {
    target: Arc<Target>,
    session: Option<Session>,
    /// Bumped on every new connection: a transaction begun on one connection
    /// must never go on on the next.
    generation: u64,
    /// A transaction begun by [`Conn::begin`] is open on this connection.
    open_tx: bool,
}

impl Worker {
    /// The session for a call outside any transaction: reconnects if the
    /// connection broke, and rolls back a transaction that its owner left
    /// open (e.g. after giving up waiting for it).
    fn fresh(&mut self) -> Result<&mut Session, StoreError> {
        let session = match self.session.take() {
            Some(mut s) if !s.client.is_closed() => {
                if std::mem::take(&mut self.open_tx)
                    && let Err(e) = s.batch("ROLLBACK")
                {
                    tracing::debug!(
                        "store: rolling back an abandoned transaction failed: {}",
                        render_pg(&e)
                    );
                }
                s
            }
            _ => {
                self.open_tx = false;
                let client = self.target.connect()?;
                self.generation += 1;
                Session {
                    client,
                    statements: HashMap::new(),
                }
            }
        };
        if session.client.is_closed() {
            return Err(self
                .target
                .unavailable("the connection closed during rollback"));
        }
        Ok(self.session.insert(session))
    }

    /// The session of the open transaction `generation`, if it is still there.
    fn in_tx(&mut self, generation: u64) -> Result<&mut Session, StoreError> {
        match &mut self.session {
            Some(s) if self.open_tx && self.generation == generation && !s.client.is_closed() => {
                Ok(s)
            }
            _ => Err(self.target.unavailable(
                "the connection to PostgreSQL was lost inside a transaction; the server rolled it back",
            )),
        }
    }
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// A handle to one connection thread.
pub(crate) struct Conn {
    jobs: Sender<Job>,
    target: Arc<Target>,
}

impl Conn {
    /// Starts the thread; it connects on its first call and ends when the
    /// handle is dropped.
    fn spawn(target: &Arc<Target>, name: String) -> Result<Self, StoreError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let mut worker = Worker {
            target: Arc::clone(target),
            session: None,
            generation: 0,
            open_tx: false,
        };
        std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    // A panic in the client library must not take the
                    // thread down: forget the connection and go on.
                    if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut worker))).is_err() {
                        tracing::error!(store = %worker.target.describe, "PostgreSQL call panicked; reconnecting");
                        worker.session = None;
                        worker.open_tx = false;
                    }
                }
            })
            .map_err(|e| target.unavailable(format!("cannot start a connection thread: {e}")))?;
        Ok(Self {
            jobs,
            target: Arc::clone(target),
        })
    }

    /// Runs `f` on the connection thread and waits (bounded) for its answer.
    fn send<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |w| {
            // The caller may have stopped waiting: nobody to tell then.
            let _ = reply.send(f(w));
        });
        self.jobs
            .send(job)
            .map_err(|_| self.target.unavailable("the connection thread has stopped"))?;
        match answer.recv_timeout(self.target.wait) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(self.target.unavailable(format!(
                "no answer from PostgreSQL within {} s (server overloaded or unreachable?)",
                self.target.wait.as_secs()
            ))),
            Err(RecvTimeoutError::Disconnected) => Err(self
                .target
                .unavailable("the call failed inside the client library; the connection is made again on the next call")),
        }
    }

    /// Runs `f` outside any transaction (autocommit; `f` may use
    /// [`Session::atomically`]), reconnecting first if needed.
    pub(crate) fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.send(move |w| w.fresh().and_then(f))
    }

    /// Opens a transaction with `sql` as [`Conn::begin`] does and, in the
    /// same round trip, reads the database's clock (`now()`, since the Unix
    /// epoch) and the answer of `probe` (a boolean SQL expression, e.g.
    /// whether a table has any row).
    pub(crate) fn begin_timed(
        &self,
        sql: &'static str,
        probe: &'static str,
    ) -> Result<(OpenTx<'_>, Duration, bool), StoreError> {
        let (generation, clock, probed) = self.send(move |w| {
            let msgs = w
                .fresh()?
                .client
                .simple_query(&format!(
                    "{sql}; SELECT extract(epoch FROM now())::float8, ({probe})"
                ))
                .map_err(StoreError::pg("begin"))?;
            w.open_tx = true;
            let row = msgs.iter().find_map(|m| match m {
                ::postgres::SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            });
            let clock = row
                .and_then(|r| r.get(0))
                .and_then(|t| t.parse::<f64>().ok())
                .and_then(|t| Duration::try_from_secs_f64(t).ok())
                .ok_or_else(|| StoreError::Corrupt {
                    reason: "the database's clock (now()) did not read as a number".into(),
                })?;
            // Anything but an explicit false keeps the lookups on.
            let probed = row.and_then(|r| r.get(1)) != Some("f");
            Ok((w.generation, clock, probed))
        })?;
        Ok((
            OpenTx {
                conn: self,
                generation,
                open: true,
                failed: std::cell::Cell::new(false),
            },
            clock,
            probed,
        ))
    }

    /// Opens a transaction with `sql` (e.g. `BEGIN ISOLATION LEVEL
    /// SERIALIZABLE`); the answer identifies it for [`Conn::run_in`].
    pub(crate) fn begin(&self, sql: &'static str) -> Result<OpenTx<'_>, StoreError> {
        let generation = self.send(move |w| {
            w.fresh()?.batch(sql).map_err(StoreError::pg("begin"))?;
            w.open_tx = true;
            Ok(w.generation)
        })?;
        Ok(OpenTx {
            conn: self,
            generation,
            open: true,
            failed: std::cell::Cell::new(false),
        })
    }
}

/// An open transaction on a [`Conn`]: rolled back when dropped unless
/// committed. Its owner must hold the connection exclusively meanwhile.
pub(crate) struct OpenTx<'a> {
    conn: &'a Conn,
    generation: u64,
    open: bool,
    /// A call inside the transaction failed: the server aborted it, and a
    /// COMMIT would only roll it back, so [`OpenTx::commit_after`] refuses.
    failed: std::cell::Cell<bool>,
}

impl OpenTx<'_> {
    /// Runs `f` inside the transaction; fails if the connection was lost.
    pub(crate) fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let generation = self.generation;
        let result = self.conn.send(move |w| w.in_tx(generation).and_then(f));
        if result.is_err() {
            self.failed.set(true);
        }
        result
    }

    /// Commits; an error means nothing was kept (or, after a timeout, that
    /// the outcome is unknown).
    pub(crate) fn commit(self) -> Result<(), StoreError> {
        self.commit_after(|_| Ok(()))
    }

    /// Runs `last` inside the transaction, then commits, both in one call
    /// to the connection thread. If `last` fails, the transaction is rolled
    /// back and its error returned.
    pub(crate) fn commit_after(
        mut self,
        last: impl FnOnce(&mut Session) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        let failed = self.failed.get();
        self.open = !failed;
        if failed {
            // Dropping `self` rolls the transaction back.
            return Err(self.conn.target.unavailable(
                "a statement of this transaction failed earlier; nothing of it was kept",
            ));
        }
        let generation = self.generation;
        self.conn.send(move |w| {
            let s = w.in_tx(generation)?;
            let result = match last(s) {
                // COMMIT ends the transaction whether it worked or not.
                Ok(()) => s.batch("COMMIT").map_err(StoreError::pg("commit")),
                Err(e) => {
                    if let Err(r) = s.batch("ROLLBACK") {
                        tracing::debug!("store rollback failed: {}", render_pg(&r));
                    }
                    Err(e)
                }
            };
            w.open_tx = false;
            result
        })
    }
}

impl Drop for OpenTx<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let generation = self.generation;
        // Queued behind any call still running; not waited for (the next
        // user of the connection runs after it anyway).
        let job: Job = Box::new(move |w| {
            if w.generation != generation || !w.open_tx {
                return;
            }
            w.open_tx = false;
            if let Some(s) = &mut w.session
                && let Err(e) = s.batch("ROLLBACK")
            {
                tracing::warn!("store rollback failed: {}", render_pg(&e));
            }
        });
        if self.conn.jobs.send(job).is_err() {
            tracing::debug!("store rollback: the connection thread has stopped");
        }
    }
}

/// A fixed set of connections, each used by one caller at a time.
pub(crate) struct Pool {
    conns: Vec<Conn>,
    /// Indexes of the idle connections (the most recently used last).
    free: Mutex<Vec<usize>>,
    freed: Condvar,
    target: Arc<Target>,
}

impl Pool {
    /// Starts `size` connection threads (connections are made on first use).
    pub(crate) fn new(target: &Arc<Target>, size: usize, role: &str) -> Result<Self, StoreError> {
        let conns = (0..size)
            .map(|i| Conn::spawn(target, format!("pg-{role}-{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            conns,
            free: Mutex::new((0..size).rev().collect()),
            freed: Condvar::new(),
            target: Arc::clone(target),
        })
    }

    /// Takes an idle connection, waiting (bounded) for one to be released.
    pub(crate) fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (mut free, _) = self
            .freed
            .wait_timeout_while(free, self.target.wait, |f| f.is_empty())
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match free.pop() {
            Some(index) => Ok(Pooled { pool: self, index }),
            None => Err(self.target.unavailable(format!(
                "all {} PostgreSQL connection(s) stayed busy for {} s",
                self.conns.len(),
                self.target.wait.as_secs()
            ))),
        }
    }
}

/// Exclusive use of one pooled connection until dropped.
pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    index: usize,
}

impl<'a> Pooled<'a> {
    /// The connection (borrowed from the pool, so it may outlive this guard's
    /// borrow inside a struct that also holds the guard).
    pub(crate) fn conn(&self) -> &'a Conn {
        &self.pool.conns[self.index]
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        self.pool
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(self.index);
        self.pool.freed.notify_one();
    }
}
