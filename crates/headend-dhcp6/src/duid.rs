//! The server DUID (option 2): configured, or generated once (DUID-UUID,
//! RFC 6355) and kept in the state directory, so clients keep talking to
//! "the same server" across restarts.

use std::path::Path;

use crate::Dhcp6Error;
use crate::plan::hex_bytes;

/// The file in the state directory that holds the generated DUID (hex).
pub const DUID_FILE: &str = "dhcp6-server-duid";

/// The configured DUID, else the one in `state_dir`, else a new one written there.
pub fn load_or_create(configured: Option<&str>, state_dir: &Path) -> Result<Vec<u8>, Dhcp6Error> {
    if let Some(c) = configured {
        let d = hex_bytes("dhcp6.server_duid", c)?;
        return check(d).map_err(|reason| Dhcp6Error::config("dhcp6.server_duid", reason));
    }
    let path = state_dir.join(DUID_FILE);
    let fail = |reason: String| Dhcp6Error::Duid {
        path: path.clone(),
        reason,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let d = hex::decode(text.trim())
                .map_err(|e| fail(format!("not hex: {e}; delete the file to make a new DUID")))?;
            check(d).map_err(fail)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // DUID-UUID: type 4, then 16 random bytes.
            let mut d = vec![0, 4];
            d.extend_from_slice(&rand::random::<[u8; 16]>());
            headend_util::fs::write_atomic(
                &path,
                format!("{}\n", hex::encode(&d)).as_bytes(),
                0o644,
            )
            .map_err(|e| fail(format!("cannot write: {e}")))?;
            tracing::info!(duid = %hex::encode(&d), file = %path.display(), "DHCPv6 server DUID generated");
            Ok(d)
        }
        Err(e) => Err(fail(format!("cannot read: {e}"))),
    }
}

fn check(d: Vec<u8>) -> Result<Vec<u8>, String> {
    // RFC 8415 §11.1: 2 bytes of type, at most 128 bytes of identifier.
    if d.len() < 3 || d.len() > 130 {
        return Err(format!("{} bytes; a DUID has 3 to 130", d.len()));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_duid_is_kept_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(None, dir.path()).unwrap();
        let b = load_or_create(None, dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(&a[..2], &[0, 4]);
        assert_eq!(a.len(), 18);
    }

    #[test]
    fn configured_duid_wins_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            load_or_create(Some("00:02:00:00:11:8b:01"), dir.path()).unwrap(),
            vec![0, 2, 0, 0, 0x11, 0x8b, 1]
        );
        assert!(load_or_create(Some("00"), dir.path()).is_err());
        assert!(!dir.path().join(DUID_FILE).exists());
    }
}
