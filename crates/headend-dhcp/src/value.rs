//! Byte values an operator writes in the config: plain text, or hex.

use crate::DhcpError;

/// Text, or `hex:0a0b...` (colons and spaces allowed between hex digits).
pub(crate) fn parse_bytes(key: &str, s: &str) -> Result<Vec<u8>, DhcpError> {
    match s.strip_prefix("hex:") {
        Some(h) => {
            let clean: String = h
                .chars()
                .filter(|c| !matches!(c, ':' | ' ' | '-'))
                .collect();
            hex::decode(&clean).map_err(|e| {
                DhcpError::config(
                    key,
                    format!("bad hex value {s:?}: {e} (write hex:0a0b0c or plain text)"),
                )
            })
        }
        None => Ok(s.as_bytes().to_vec()),
    }
}
