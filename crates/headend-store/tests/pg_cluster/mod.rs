//! A private PostgreSQL cluster for the tests of one test binary (process):
//! initdb into a temp dir, `postgres` on a free loopback port, a fresh
//! database per test.
//!
//! The cluster lives in a static, and statics are never dropped, so the
//! server is watched by a small shell process whose stdin is a pipe from
//! this process: when this process ends (passed, failed or killed), the pipe
//! closes and the watcher stops the server by the PID in `postmaster.pid`,
//! then removes the temp dir.
//!
//! initdb and postgres refuse to run as root: as root they run as the
//! `postgres` user through `runuser`, on a temp dir chowned to it.
//!
//! [`Cluster::start_with`] starts a further cluster of its own with extra
//! settings, files and a pg_hba.conf (e.g. TLS only, for
//! `tests/postgres_tls.rs`); it is stopped when dropped (or, if kept in a
//! static, when the process ends). The shared cluster above is unaffected.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use headend_store::{PostgresConfig, Store, StoreConfig};

/// The running cluster of this process.
pub(crate) struct Cluster {
    /// Its TCP port on 127.0.0.1.
    pub(crate) port: u16,
    dir: PathBuf,
    /// The superuser's connections go over the Unix socket rather than
    /// 127.0.0.1 (a custom pg_hba.conf may require TLS on TCP).
    admin_over_socket: bool,
    /// The watcher, kept for its stdin (see the module doc).
    watcher: Mutex<Child>,
}

/// What a separate cluster ([`Cluster::start_with`]) adds to the defaults.
#[derive(Debug, Default)]
#[allow(dead_code)]
pub(crate) struct Options {
    /// Extra server settings, each passed as `postgres -c <setting>`, e.g.
    /// `ssl=on`.
    pub(crate) settings: Vec<String>,
    /// Files written into the data directory before the server starts, as
    /// (name, contents): mode 0600, owned by the server's user (so that a
    /// `server.key` is accepted).
    pub(crate) files: Vec<(String, Vec<u8>)>,
    /// The whole pg_hba.conf. When given, the superuser connects over the
    /// Unix socket, so it must allow `local all all trust`.
    pub(crate) hba_conf: Option<String>,
}

static CLUSTER: LazyLock<Cluster> = LazyLock::new(Cluster::start);
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The cluster, started on first use.
pub(crate) fn cluster() -> &'static Cluster {
    &CLUSTER
}

const INSTALL: &str = "PostgreSQL server binaries (initdb, postgres) not found: install them with \
     `apt-get install postgresql` (or set PG_BIN to the directory holding them)";

/// The directory holding initdb and postgres.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return PathBuf::from(dir);
    }
    // Debian: /usr/lib/postgresql/<major>/bin, newest first; else initdb on PATH.
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("postgres").exists())
        .collect();
    majors.sort();
    if let Some((_, bin)) = majors.pop() {
        return bin;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let initdb = dir.join("initdb");
        if let Ok(real) = std::fs::canonicalize(&initdb)
            && let Some(bin) = real.parent()
            && bin.join("postgres").exists()
        {
            return bin.to_path_buf();
        }
    }
    panic!("{INSTALL}");
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run `id -u`");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `program` as the postgres user when we are root.
fn command(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// Stops the server by PID and removes the dir once stdin closes.
const WATCHER: &str = r#"
dir="$1"; shift
"$@" >"$dir/server.log" 2>&1 &
cat >/dev/null
pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -INT "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
fi
wait
rm -rf "$dir"
"#;

impl Cluster {
    fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Starts a cluster of its own with `options` (initdb, files, server);
    /// stopped and removed when dropped.
    pub(crate) fn start_with(options: Options) -> Self {
        let bin = bin_dir();
        assert!(
            bin.join("initdb").exists() && bin.join("postgres").exists(),
            "{INSTALL} (looked in {})",
            bin.display()
        );
        let root = is_root();
        let dir = tempfile::Builder::new()
            .prefix("headend-pg-")
            .tempdir()
            .expect("temp dir")
            .keep();
        if root {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("run chown");
            assert!(ok.success(), "chown {} to postgres failed", dir.display());
        }
        let data = dir.join("data");
        // A linguistic default collation (as on most real servers), so the
        // tests see that listings sort bytewise all the same.
        let initdb = |icu: bool| {
            let mut c = command(root, &bin.join("initdb"));
            c.arg("-D").arg(&data).args([
                "-U",
                "headend",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]);
            if icu {
                c.args([
                    "--locale-provider=icu",
                    "--icu-locale=en-US",
                    "--locale=C.UTF-8",
                ]);
            }
            c.output().expect("run initdb")
        };
        let mut out = initdb(true);
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&data);
            out = initdb(false);
        }
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            panic!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut files = options.files;
        let admin_over_socket = options.hba_conf.is_some();
        if let Some(hba) = options.hba_conf {
            files.push(("pg_hba.conf".to_owned(), hba.into_bytes()));
        }
        for (name, contents) in &files {
            if let Err(e) = write_private(&data.join(name), contents, root) {
                let _ = std::fs::remove_dir_all(&dir);
                panic!("cannot write {name} into the data directory: {e}");
            }
        }
        let port = free_port();
        let mut server = command(root, &bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-p"])
            .arg(port.to_string())
            .args(["-c", "fsync=on", "-c", "max_connections=200"]);
        for setting in &options.settings {
            server.arg("-c").arg(setting);
        }
        let mut watcher = Command::new("sh");
        watcher
            .args(["-c", WATCHER, "sh"])
            .arg(&dir)
            .arg(server.get_program())
            .args(server.get_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let watcher = watcher.spawn().expect("start the server watcher");
        let cluster = Self {
            port,
            dir,
            admin_over_socket,
            watcher: Mutex::new(watcher),
        };
        cluster.wait_ready();
        cluster
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.try_exec("postgres", "SELECT 1") {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    let log =
                        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                    panic!("PostgreSQL did not start on port {}: {e}\n{log}", self.port);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Runs `work` on a superuser connection to `db`, on a thread of its own
    /// (so it also works from inside a tokio runtime).
    fn as_superuser<T: Send + 'static>(
        &self,
        db: &str,
        work: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, String> {
        let (port, db) = (self.port, db.to_owned());
        let socket_dir = self.admin_over_socket.then(|| self.dir.clone());
        std::thread::spawn(move || {
            let mut config = postgres::Config::new();
            match &socket_dir {
                Some(dir) => config.host_path(dir),
                None => config.host("127.0.0.1"),
            };
            let mut c = config
                .port(port)
                .user("headend")
                .dbname(&db)
                .connect_timeout(Duration::from_secs(5))
                .connect(postgres::NoTls)
                .map_err(|e| format!("{e:?}"))?;
            work(&mut c).map_err(|e| format!("{e:?}"))
        })
        .join()
        .expect("admin thread")
    }

    /// Runs SQL as the superuser on `db`; panics on failure.
    #[allow(dead_code)]
    pub(crate) fn exec(&self, db: &str, sql: &str) {
        self.try_exec(db, sql).expect(sql);
    }

    /// The first column of every row of a query as the superuser on `db`,
    /// as text; panics on failure.
    #[allow(dead_code)]
    pub(crate) fn query(&self, db: &str, sql: &str) -> Vec<Option<String>> {
        self.try_query(db, sql).expect(sql)
    }

    /// The server's log so far (for failure messages).
    #[allow(dead_code)]
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Runs SQL as the superuser on `db`.
    fn try_exec(&self, db: &str, sql: &str) -> Result<(), String> {
        let sql = sql.to_owned();
        self.as_superuser(db, move |c| c.batch_execute(&sql))
    }

    /// Runs a query as the superuser on `db`; the first column of every row, as text.
    fn try_query(&self, db: &str, sql: &str) -> Result<Vec<Option<String>>, String> {
        let sql = sql.to_owned();
        self.as_superuser(db, move |c| {
            Ok(c.simple_query(&sql)?
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
                    _ => None,
                })
                .collect())
        })
    }
}

/// Closing the watcher's stdin stops the server and removes the temp dir;
/// wait for that (only clusters from [`Cluster::start_with`] are ever
/// dropped: the shared one lives in a static).
impl Drop for Cluster {
    fn drop(&mut self) {
        let watcher = self
            .watcher
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        drop(watcher.stdin.take());
        let _ = watcher.wait();
    }
}

/// Writes `contents` to `path` with mode 0600, owned by the postgres user
/// when we are root (the server runs as that user then).
fn write_private(path: &Path, contents: &[u8], root: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    if root {
        let ok = Command::new("chown")
            .arg("postgres:postgres")
            .arg(path)
            .status()?;
        if !ok.success() {
            return Err(std::io::Error::other(format!(
                "chown postgres {} failed",
                path.display()
            )));
        }
    }
    Ok(())
}

/// A fresh database of the cluster, dropped at the end of the test.
pub(crate) struct Db {
    /// Its name.
    pub(crate) name: String,
    /// The cluster's port.
    pub(crate) port: u16,
}

impl Db {
    /// Creates an empty database.
    pub(crate) fn new() -> Self {
        let c = cluster();
        let name = format!("t_{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
        c.try_exec("postgres", &format!("CREATE DATABASE {name}"))
            .expect("create database");
        Self { name, port: c.port }
    }

    /// A URL for it (no password: the cluster trusts loopback).
    pub(crate) fn url(&self) -> String {
        format!("postgresql://headend@127.0.0.1:{}/{}", self.port, self.name)
    }

    /// A key=value connection string over the cluster's Unix socket, which
    /// (unlike 127.0.0.1) reaches it from inside a network namespace too
    /// (used by the binary's tests, which include this module).
    #[allow(dead_code)]
    pub(crate) fn socket_url(&self) -> String {
        format!(
            "host={} port={} user=headend dbname={}",
            cluster().dir.display(),
            self.port,
            self.name
        )
    }

    /// The store config for it, with a pool of `pool`.
    pub(crate) fn config(&self, pool: usize) -> StoreConfig {
        let mut pg = PostgresConfig::new(self.url());
        pg.pool = pool;
        pg.connect_timeout_secs = 5;
        StoreConfig::Postgres(pg)
    }

    /// A migrated store on it (one "headend server").
    pub(crate) fn store(&self) -> Store {
        Store::open(&self.config(4), Path::new("/nonexistent-state-dir")).expect("open store")
    }

    /// Runs SQL on it as the superuser.
    pub(crate) fn exec(&self, sql: &str) {
        cluster().try_exec(&self.name, sql).expect(sql);
    }

    /// The first column of every row of a query on it, as text.
    pub(crate) fn query(&self, sql: &str) -> Vec<Option<String>> {
        cluster().try_query(&self.name, sql).expect(sql)
    }

    /// A one-value query.
    pub(crate) fn value(&self, sql: &str) -> String {
        self.query(sql)
            .into_iter()
            .next()
            .flatten()
            .unwrap_or_else(|| panic!("no value: {sql}"))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = cluster().try_exec(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}
