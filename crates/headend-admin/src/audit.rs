//! Forwarding of audit entries, beside the store, as one JSON object per
//! entry: appended as lines to a file, or sent to the local syslog socket
//! (journald reads `/dev/log`), for a SIEM to collect. The store stays the
//! record the API answers from; a forwarding failure is logged and does not
//! fail the request.

use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use headend_store::auth::AuditRecord;

use crate::AdminError;

/// syslog facility authpriv (10), severity info (6): RFC 5424 §6.2.1.
const PRI_AUTHPRIV_INFO: u8 = 10 * 8 + 6;

/// Where audit entries go besides the store.
#[derive(Debug)]
pub(crate) enum Forward {
    /// The store only.
    Off,
    /// JSON lines appended to a file (created 0600).
    File {
        path: PathBuf,
        file: Mutex<std::fs::File>,
    },
    /// One datagram per entry to a syslog socket.
    Syslog { socket: PathBuf, sock: UnixDatagram },
}

impl Forward {
    /// Parses `[admin.audit] forward`: `file:PATH`, `syslog` (`/dev/log`)
    /// or `syslog:SOCKET`.
    pub(crate) fn open(forward: Option<&str>) -> Result<Self, AdminError> {
        let bad = |reason: String| AdminError::Config {
            key: "admin.audit.forward",
            reason,
        };
        let Some(spec) = forward else {
            return Ok(Self::Off);
        };
        if let Some(path) = spec.strip_prefix("file:") {
            use std::os::unix::fs::OpenOptionsExt as _;
            let path = PathBuf::from(path);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
            return Ok(Self::File {
                path,
                file: Mutex::new(file),
            });
        }
        let socket = match spec {
            "syslog" => Path::new("/dev/log").to_path_buf(),
            s => match s.strip_prefix("syslog:") {
                Some(p) => PathBuf::from(p),
                None => {
                    return Err(bad(format!(
                        "{spec:?}: expected \"file:/path\", \"syslog\" or \"syslog:/socket\""
                    )));
                }
            },
        };
        let sock = UnixDatagram::unbound().map_err(|e| bad(e.to_string()))?;
        Ok(Self::Syslog { socket, sock })
    }

    /// Sends one entry (blocking; called from the audit writer's blocking task).
    pub(crate) fn send(&self, record: &AuditRecord) {
        match self {
            Self::Off => {}
            Self::File { path, file } => {
                let mut line = json(record);
                line.push('\n');
                let mut f = file
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Err(e) = f.write_all(line.as_bytes()) {
                    tracing::warn!(file = %path.display(), "cannot forward an audit entry: {e}");
                }
            }
            Self::Syslog { socket, sock } => {
                // RFC 3164 form, which journald and every syslog daemon read:
                // <PRI>TAG[PID]: MSG
                let msg = format!(
                    "<{PRI_AUTHPRIV_INFO}>headend-audit[{}]: {}",
                    std::process::id(),
                    json(record)
                );
                if let Err(e) = sock.send_to(msg.as_bytes(), socket) {
                    tracing::warn!(socket = %socket.display(), "cannot forward an audit entry: {e}");
                }
            }
        }
    }
}

/// One entry as a JSON object (the fields of `GET /api/v1/audit`).
fn json(r: &AuditRecord) -> String {
    serde_json::json!({
        "id": r.id,
        "at": r.at,
        "actor": r.actor,
        "source": r.source,
        "action": r.action,
        "target": r.target,
        "result": r.result,
        "detail": r.detail,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AuditRecord {
        AuditRecord {
            id: 0,
            at: 1_700_000_000,
            actor: "ada".into(),
            source: Some("127.0.0.1".into()),
            action: "record.set".into(),
            target: Some("example.test www A".into()),
            result: "ok".into(),
            detail: None,
        }
    }

    #[test]
    fn file_gets_one_json_line_per_entry_and_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let f = Forward::open(Some(&format!("file:{}", path.display()))).unwrap();
        f.send(&record());
        f.send(&record());
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["actor"], "ada");
        assert_eq!(lines[0]["target"], "example.test www A");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn syslog_gets_an_authpriv_datagram_with_the_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let f = Forward::open(Some(&format!("syslog:{}", path.display()))).unwrap();
        f.send(&record());
        let mut buf = [0u8; 2048];
        let n = server.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(msg.starts_with("<86>headend-audit["), "{msg}");
        let body = msg.split_once("]: ").unwrap().1;
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["action"], "record.set");
    }

    #[test]
    fn unknown_forward_is_a_config_error() {
        let err = Forward::open(Some("kafka://x")).unwrap_err();
        assert!(err.to_string().contains("admin.audit.forward"), "{err}");
    }
}
