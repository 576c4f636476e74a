//! How a start-up error is shown to the operator: the chain of causes on one
//! line, each said once.
//!
//! The service crates' error types name their cause in their own message
//! (`cannot bind 127.0.0.1:53: Address already in use (os error 98)`) and
//! also return it as `source()`, so that the error reads well when logged on
//! its own. Printing the whole chain with `{:#}` would then repeat the OS
//! text; [`chain`] leaves out a cause whose text the message before it
//! already carries.

use std::error::Error;

/// The error and its causes, outermost first, joined by `: `, without a cause
/// whose text is already part of the line.
pub(crate) fn chain(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service error that, like the crates' thiserror types, both says
    /// its cause and returns it as the source.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot bind {addr}: {source}")]
    struct Bind {
        addr: &'static str,
        source: std::io::Error,
    }

    fn in_use() -> std::io::Error {
        std::io::Error::from_raw_os_error(98)
    }

    #[test]
    fn os_error_text_appears_once_under_context() {
        let e = anyhow::Error::new(Bind {
            addr: "127.0.0.1:53",
            source: in_use(),
        })
        .context("starting DNS");
        let line = chain(e.as_ref());
        assert_eq!(line.matches("os error 98").count(), 1, "{line}");
        assert!(
            line.starts_with("starting DNS: cannot bind 127.0.0.1:53: "),
            "{line}"
        );
        // anyhow's own alternate form is what repeated it.
        assert_eq!(format!("{e:#}").matches("os error 98").count(), 2);
    }

    #[test]
    fn causes_not_in_the_message_are_kept_in_order() {
        let e = anyhow::Error::new(in_use())
            .context("opening the store")
            .context("starting DHCP");
        let line = chain(e.as_ref());
        assert_eq!(
            line,
            format!("starting DHCP: opening the store: {}", in_use()),
        );
    }
}
