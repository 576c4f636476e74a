//! The remedy to add to a socket error, only when it is its cause.

/// `" (ports below 1024 need root or CAP_NET_BIND_SERVICE)"` when binding
/// `port` was refused for lack of privilege, `" (another server holds the
/// port: stop it)"` when the port is taken, else nothing: a hint that names
/// the wrong cause sends the operator the wrong way.
pub fn bind_hint(port: u16, e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied if port < 1024 => {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        }
        std::io::ErrorKind::AddrInUse => " (another server holds the port: stop it)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::bind_hint;
    use std::io::{Error, ErrorKind};

    #[test]
    fn the_privilege_hint_appears_only_when_it_is_the_cause() {
        let denied = Error::from(ErrorKind::PermissionDenied);
        assert!(bind_hint(69, &denied).contains("CAP_NET_BIND_SERVICE"));
        assert_eq!(bind_hint(6969, &denied), "");
        let in_use = Error::from(ErrorKind::AddrInUse);
        assert!(
            !bind_hint(69, &in_use).contains("root"),
            "in use is not privilege"
        );
        assert!(bind_hint(69, &in_use).contains("another server"));
        assert_eq!(bind_hint(69, &Error::from(ErrorKind::AddrNotAvailable)), "");
    }
}
