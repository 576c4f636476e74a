//! The `[tftp]` section of headend.toml.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

/// Configuration of the TFTP service (`[tftp]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TftpConfig {
    /// Addresses to listen on (port 69 by default). On a wildcard address
    /// replies leave from the address each request arrived on.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// The folder served read-only; nothing outside it is ever served.
    /// A relative path is taken relative to the config file's folder.
    #[serde(default = "default_root")]
    pub root: PathBuf,
    /// Largest blksize granted (RFC 2348: 8..=65464); larger requests are clamped.
    #[serde(default = "default_max_blksize")]
    pub max_blksize: usize,
    /// Largest windowsize granted (RFC 7440; at most 64).
    #[serde(default = "default_max_windowsize")]
    pub max_windowsize: u16,
    /// Retransmission timeout in milliseconds when the client sets none
    /// (doubled on each retry, up to 8×).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Retransmissions before a silent client is given up (a client that
    /// never acknowledged anything gets at most 3).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Most transfers in progress at once; further requests get ERROR 0.
    #[serde(default = "default_max_transfers")]
    pub max_transfers: usize,
    /// Most transfers in progress per client address.
    #[serde(default = "default_max_transfers_per_client")]
    pub max_transfers_per_client: usize,
    /// Requests per second allowed per client address (token bucket refill rate).
    #[serde(default = "default_client_rate")]
    pub client_rate: f64,
    /// Requests a client may send in a burst above its rate.
    #[serde(default = "default_client_burst")]
    pub client_burst: u32,
    /// Client prefixes allowed to use the service, e.g. `["10.0.0.0/8"]`;
    /// empty means every client.
    #[serde(default)]
    pub allow: Vec<IpNet>,
    /// Longest request file name accepted, in bytes.
    #[serde(default = "default_max_filename_len")]
    pub max_filename_len: usize,
    /// Rewrite rules applied in order to every requested name after `\` is
    /// mapped to `/` (like tftpd-hpa's `-m` file).
    #[serde(default)]
    pub remap: Vec<RemapRule>,
    /// Per-device files rendered from templates (`[[tftp.template]]`).
    #[serde(default, rename = "template")]
    pub templates: Vec<TemplateConfig>,
    /// Folder that receives uploads (WRQ); absent means uploads are refused.
    #[serde(default)]
    pub write_root: Option<PathBuf>,
    /// Whether an upload may replace an existing file (default: no, ERROR 6).
    #[serde(default)]
    pub allow_overwrite: bool,
    /// Largest upload accepted in bytes (ERROR 3 beyond it).
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
    /// Which server socket (TID) a transfer uses: `auto` (default) gives
    /// lock-step downloads a few shared sockets per address when more than
    /// two transfers run, `shared` always does, `own` gives every transfer
    /// a socket of its own.
    #[serde(default)]
    pub transfer_sockets: TransferSockets,
}

/// Where transfers get their server-side port (TID, RFC 1350 §4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferSockets {
    /// Shared sockets for lock-step downloads under load; a socket each
    /// (and a short busy poll) when the server is nearly idle.
    #[default]
    Auto,
    /// Lock-step downloads always share a few sockets per address.
    Shared,
    /// Every transfer gets a socket of its own.
    Own,
}

/// One rewrite rule (`[[tftp.remap]]`): exactly one of `prefix` or `regex`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemapRule {
    /// A literal prefix to replace, e.g. `"boot/x86/"`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// A regular expression to replace (first match), e.g. `"^pxelinux\\.cfg/01-"`.
    #[serde(default)]
    pub regex: Option<String>,
    /// The replacement; `$1`/`${name}` refer to regex groups.
    pub replace: String,
}

/// One per-device template (`[[tftp.template]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// The request paths it serves, with `{name}` captures matching one path
    /// segment part, e.g. `modems/{mac}.cfg`; `{mac}` must be a MAC address
    /// (any of `aabbccddeeff`, `aa:bb:..`, `aa-bb-..`).
    pub pattern: String,
    /// The minijinja template file; relative to the config file's folder.
    pub file: PathBuf,
    /// Serve only to the IP address currently leased to the `{mac}` in the
    /// path (theft-of-service protection for cable modems).
    #[serde(default)]
    pub bind_to_lease: bool,
    /// What the rendered text becomes: `"text"` (served as rendered, the
    /// default), `"docsis"` (compiled to a binary cable modem config with
    /// CM and CMTS MICs) or `"mta"` (a PacketCable MTA config with its hash).
    #[serde(default = "default_format")]
    pub format: String,
    /// The CMTS shared secret for `format = "docsis"`: a file readable by
    /// its owner only (0600), or `$CREDENTIALS_DIRECTORY/NAME` with systemd.
    /// Relative to the config file's folder. Absent: the systemd credential
    /// `headend-docsis-secret` (`LoadCredential=`), when it exists.
    #[serde(default)]
    pub shared_secret_file: Option<PathBuf>,
}

fn default_format() -> String {
    "text".to_owned()
}

impl Default for TftpConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            root: default_root(),
            max_blksize: default_max_blksize(),
            max_windowsize: default_max_windowsize(),
            timeout_ms: default_timeout_ms(),
            max_retries: default_max_retries(),
            max_transfers: default_max_transfers(),
            max_transfers_per_client: default_max_transfers_per_client(),
            client_rate: default_client_rate(),
            client_burst: default_client_burst(),
            allow: Vec::new(),
            max_filename_len: default_max_filename_len(),
            remap: Vec::new(),
            templates: Vec::new(),
            write_root: None,
            allow_overwrite: false,
            max_upload_bytes: default_max_upload_bytes(),
            transfer_sockets: TransferSockets::default(),
        }
    }
}

impl TftpConfig {
    /// Makes the roots and template files relative to `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        if self.root.is_relative() {
            self.root = base.join(&self.root);
        }
        if let Some(w) = &mut self.write_root
            && w.is_relative()
        {
            *w = base.join(&*w);
        }
        for t in &mut self.templates {
            if t.file.is_relative() {
                t.file = base.join(&t.file);
            }
            if let Some(f) = &mut t.shared_secret_file
                && f.is_relative()
            {
                *f = base.join(&*f);
            }
        }
    }
}

fn default_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([0, 0, 0, 0], 69))]
}

fn default_root() -> PathBuf {
    PathBuf::from("/srv/tftp")
}

fn default_max_blksize() -> usize {
    1468
}

fn default_max_windowsize() -> u16 {
    64
}

fn default_timeout_ms() -> u64 {
    1000
}

fn default_max_retries() -> u32 {
    5
}

fn default_max_transfers() -> usize {
    1024
}

fn default_max_transfers_per_client() -> usize {
    64
}

fn default_client_rate() -> f64 {
    100.0
}

fn default_client_burst() -> u32 {
    200
}

fn default_max_filename_len() -> usize {
    512
}

fn default_max_upload_bytes() -> u64 {
    16 * 1024 * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_resolved_against_the_config_folder() {
        let mut c = TftpConfig {
            root: "tftp".into(),
            write_root: Some("up".into()),
            templates: vec![TemplateConfig {
                pattern: "m/{mac}.cfg".into(),
                file: "t.j2".into(),
                bind_to_lease: false,
                format: "docsis".into(),
                shared_secret_file: Some("secret".into()),
            }],
            ..TftpConfig::default()
        };
        c.resolve_paths(Path::new("/etc/headend"));
        assert_eq!(c.root, Path::new("/etc/headend/tftp"));
        assert_eq!(c.write_root.as_deref(), Some(Path::new("/etc/headend/up")));
        assert_eq!(c.templates[0].file, Path::new("/etc/headend/t.j2"));
        assert_eq!(
            c.templates[0].shared_secret_file.as_deref(),
            Some(Path::new("/etc/headend/secret"))
        );
    }
}
