//! Starting the admin API and the handle the binary keeps (SIGHUP reloads
//! the certificate without dropping connections).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use governor::{Quota, RateLimiter};
use headend_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AdminError;
use crate::api::{self, App, unix_now};
use crate::config::AdminConfig;
use crate::core::session::{Lockout, Revocations, SessionPolicy};
use crate::core::tokens::TokenPolicy;
use crate::password::Passwords;
use crate::tls::{CertSource, install_crypto_provider};

/// The handles of the other services the API manages; `None` where the
/// service is not enabled in this process (the API then works on the shared
/// store alone, e.g. lease release without a `[dhcp]` section).
#[derive(Clone, Default)]
pub struct Handles {
    /// The DNS service, if enabled.
    pub dns: Option<headend_dns::DnsHandle>,
    /// The DHCP service, if enabled.
    pub dhcp: Option<headend_dhcp::DhcpHandle>,
    /// The DHCPv6 service, if enabled.
    pub dhcp6: Option<headend_dhcp6::Dhcp6Handle>,
    /// The TFTP service, if enabled.
    pub tftp: Option<headend_tftp::TftpHandle>,
    /// Start time and configuration reloads of the process (counted by the
    /// binary, shown on /metrics).
    pub process: Arc<crate::process::ProcessStats>,
}

/// The running admin API.
#[derive(Clone)]
pub struct AdminHandle {
    tls: crate::listen::TlsConfig,
    certs: CertSource,
    local_addr: SocketAddr,
    stop: Arc<tokio::sync::watch::Sender<bool>>,
}

impl std::fmt::Debug for AdminHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// The admin API service.
#[derive(Debug)]
pub struct AdminService;

/// The key-encryption key: `kek_file`, else the systemd credential
/// `headend-kek`, else `STATE_DIR/kek`, generated (0600) on first start.
pub(crate) fn load_kek(
    config: &AdminConfig,
    state_dir: &Path,
) -> Result<crate::core::kek::Kek, AdminError> {
    use crate::core::kek::Kek;
    let bad = |path: &Path, reason: String| AdminError::Config {
        key: "admin.kek_file",
        reason: format!("{}: {reason}", path.display()),
    };
    let credential = std::env::var_os("CREDENTIALS_DIRECTORY")
        .map(|d| Path::new(&d).join("headend-kek"))
        .filter(|p| p.exists());
    let path = match (&config.kek_file, credential) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => p,
        (None, None) => {
            let path = state_dir.join("kek");
            if !path.exists() {
                tracing::warn!(
                    path = %path.display(),
                    "no admin.kek_file: generated a key-encryption key in the state directory; \
                     give every server that shares a store the same kek_file"
                );
                headend_util::fs::write_atomic(&path, Kek::generate_text().as_bytes(), 0o600)
                    .map_err(|e| bad(&path, e.to_string()))?;
            }
            path
        }
    };
    let text = headend_util::fs::read_secret(&path).map_err(|e| bad(&path, e.to_string()))?;
    Kek::parse(&text).map_err(|e| bad(&path, e.to_string()))
}

fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Every `*_duration_seconds` is a histogram with the services'
            // bucket bounds (a summary otherwise).
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_duration_seconds".into()),
                    &api::scrape::duration_buckets(),
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics shows only admin metrics it sees");
            }
            handle
        })
        .clone()
}

impl AdminService {
    /// Loads or creates the signing keys (in the store) and the certificate in `state_dir`,
    /// binds `config.listen`, and serves the API until the process ends.
    pub async fn start(
        config: AdminConfig,
        state_dir: &Path,
        store: Store,
        handles: Handles,
    ) -> Result<AdminHandle, AdminError> {
        config.validate()?;
        install_crypto_provider();
        let kek = Arc::new(load_kek(&config, state_dir)?);
        let schedule = config.tokens.schedule();
        let keys = {
            let (store, kek, dir) = (store.clone(), Arc::clone(&kek), state_dir.to_path_buf());
            tokio::task::spawn_blocking(move || {
                let now = unix_now();
                crate::signing::migrate_files(&store, &kek, &dir, now)?;
                crate::signing::sync(&store, &kek, &schedule, now)
            })
            .await
            .map_err(|e| AdminError::Token {
                reason: e.to_string(),
            })??
        };
        let certs = CertSource::resolve(&config, state_dir)?;
        let (server_config, fingerprint) = certs.server_config()?;
        let argon = config.argon2.clone();
        let passwords = tokio::task::spawn_blocking(move || Passwords::new(&argon))
            .await
            .map_err(|e| AdminError::Password {
                reason: e.to_string(),
            })??;

        let per_minute = NonZeroU32::new(config.limits.login_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.limits.login_burst).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::dashmap(Quota::per_minute(per_minute).allow_burst(burst));

        // Sessions revoked recently enough that their access tokens may still be live.
        let now = unix_now();
        let horizon = now.saturating_sub(config.tokens.access_ttl + config.tokens.leeway);
        let mut revocations = Revocations::default();
        let s2 = store.clone();
        let (revoked, users, deleted) = tokio::task::spawn_blocking(move || {
            Ok::<_, headend_store::StoreError>((
                s2.auth().families_revoked_since(horizon)?,
                s2.auth().users()?,
                s2.auth().users_deleted_since(horizon)?,
            ))
        })
        .await
        .map_err(|e| AdminError::Password {
            reason: e.to_string(),
        })??;
        for f in &revoked {
            revocations.revoke_family(&f.id, f.revoked.unwrap_or(now));
        }
        for u in &users {
            if u.not_before >= horizon {
                revocations.set_not_before(&u.username, u.not_before);
            }
        }
        for (name, at) in &deleted {
            revocations.set_not_before(name, *at + 1);
        }

        let Handles {
            dns,
            dhcp,
            dhcp6,
            tftp,
            process,
        } = handles;
        let app = Arc::new(App {
            store,
            dns,
            dhcp,
            dhcp6,
            tftp,
            process,
            keys: arc_swap::ArcSwap::from_pointee(keys),
            rotate_lock: std::sync::Mutex::new(()),
            tokens: TokenPolicy {
                issuer: config.issuer.clone(),
                audience: config.audience.clone(),
                ttl: config.tokens.access_ttl,
                leeway: config.tokens.leeway,
            },
            sessions: SessionPolicy {
                absolute: config.tokens.refresh_ttl,
                idle: config.tokens.refresh_idle,
            },
            lockout: Lockout {
                after: config.limits.lockout_after,
                base: config.limits.lockout_base,
                max: config.limits.lockout_max,
            },
            passwords,
            revocations: RwLock::new(revocations),
            verified: RwLock::new(std::collections::HashMap::new()),
            limiter,
            unknown: std::sync::Mutex::new(Default::default()),
            refusals: std::sync::Mutex::new(Default::default()),
            metrics: prometheus(),
            api_keys: Default::default(),
            limits: Default::default(),
            cert_rules: match &config.client_tls {
                Some(c) => {
                    crate::core::mtls::compile(&c.rules()).map_err(|reason| AdminError::Config {
                        key: "admin.client_tls.map",
                        reason,
                    })?
                }
                None => Vec::new(),
            },
            cert_principals: RwLock::new(std::collections::HashMap::new()),
            kek,
            forward: Arc::new(crate::audit::Forward::open(
                config.audit.forward.as_deref(),
            )?),
            mfa_tickets: std::sync::Mutex::new(crate::core::totp::Tickets::default()),
            oidc: match &config.oidc {
                Some(o) => Some(Arc::new(crate::oidc::Provider::new(o)?)),
                None => None,
            },
            config: config.clone(),
        });

        let listener =
            std::net::TcpListener::bind(config.listen).map_err(|source| AdminError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| AdminError::Bind {
            addr: config.listen,
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| AdminError::Bind {
                addr: config.listen,
                source,
            })?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| AdminError::Bind {
                addr: config.listen,
                source,
            })?;
        let tls: crate::listen::TlsConfig = Arc::new(arc_swap::ArcSwap::from(server_config));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let router = api::router(Arc::clone(&app), crate::ui::router(Arc::clone(&app)));
        tokio::spawn(crate::listen::run(
            listener,
            Arc::clone(&tls),
            router,
            config.connections.clone(),
            stopped,
        ));

        // Every 2 s, pick up revocations made outside this process (e.g.
        // `headend user disable` on the state directory); every minute,
        // prune the per-address rate-limiter state.
        let weak = Arc::downgrade(&app);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
            let mut since = now;
            let mut ticks = 0u64;
            loop {
                tick.tick().await;
                let Some(app) = weak.upgrade() else { break };
                ticks += 1;
                if ticks.is_multiple_of(30) {
                    app.limiter.retain_recent();
                }
                // The retention sweep: soon after start, then hourly.
                if ticks % 1800 == 1 {
                    app.sweep().await;
                }
                app.sync_keys().await;
                let closed = app
                    .refusals
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .flush(unix_now());
                app.audit_refused(closed).await;
                let from = since.saturating_sub(2);
                since = unix_now();
                let synced = app
                    .blocking(move |s| {
                        Ok((
                            s.auth().families_revoked_since(from)?,
                            s.auth().users()?,
                            s.auth().users_deleted_since(from)?,
                        ))
                    })
                    .await;
                if let Ok((families, users, deleted)) = synced {
                    let ids: Vec<String> = families.into_iter().map(|f| f.id).collect();
                    app.revoke_in_cache(&ids, None);
                    for u in users.iter().filter(|u| u.not_before >= from) {
                        app.revoke_in_cache(&[], Some((&u.username, u.not_before)));
                    }
                    // Role changes and disables made by another process
                    // (`headend user role|disable`, another server).
                    let mut r = app
                        .revocations
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for u in &users {
                        let current = (!u.disabled)
                            .then(|| crate::core::Role::parse(&u.role))
                            .flatten();
                        r.sync_user(&u.username, current, u.not_before, from);
                    }
                    // Users deleted by another process: their tokens die
                    // (a name in use again holds a new account: its
                    // tokens, issued after the deletion, pass).
                    for (name, at) in &deleted {
                        r.set_not_before(name, *at + 1);
                        if !users.iter().any(|u| &u.username == name) {
                            r.set_role(name, None, *at);
                        }
                    }
                }
            }
        });

        tracing::info!(
            listen = %local_addr,
            cert = %certs.cert.display(),
            sha256_fingerprint = %fingerprint,
            "admin API listening (HTTPS only)"
        );
        Ok(AdminHandle {
            tls,
            certs,
            local_addr,
            stop: Arc::new(stop),
        })
    }
}

impl AdminHandle {
    /// The bound address (useful when `listen` has port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Re-reads the certificate and key (SIGHUP). New handshakes use them;
    /// open connections continue. On error the old certificate stays.
    /// Returns the new certificate's SHA-256 fingerprint.
    pub fn reload_tls(&self) -> Result<String, AdminError> {
        let (config, fingerprint) = self.certs.server_config()?;
        self.tls.store(config);
        tracing::info!(cert = %self.certs.cert.display(), sha256_fingerprint = %fingerprint, "admin TLS certificate reloaded");
        Ok(fingerprint)
    }

    /// Stops accepting connections and closes open ones gracefully (open
    /// requests get up to 5 s to finish).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}
