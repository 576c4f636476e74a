//! Option negotiation (RFC 2347, 2348, 2349, 7440): a pure function from the
//! client's options and the server's limits to the values used and the OACK.

use std::time::Duration;

/// RFC 1350 block size, used when no blksize is negotiated.
pub const DEFAULT_BLKSIZE: usize = 512;
/// RFC 2348 §2: "valid values range between 8 and 65464 octets, inclusive".
pub const MIN_BLKSIZE: usize = 8;
/// RFC 2348 upper bound.
pub const MAX_BLKSIZE: usize = 65464;
/// RFC 7440 windowsize upper bound this server ever accepts.
pub const MAX_WINDOWSIZE: u16 = 64;

/// What the server allows, from the config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest blksize granted (a larger request is clamped down to it).
    pub max_blksize: usize,
    /// Largest windowsize granted (≤ [`MAX_WINDOWSIZE`]).
    pub max_windowsize: u16,
    /// Retransmission timeout when the client asks for none.
    pub default_timeout: Duration,
}

/// The values a transfer uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Bytes per DATA block.
    pub blksize: usize,
    /// Blocks sent before waiting for an ACK (1 = RFC 1350 lock-step).
    pub windowsize: u16,
    /// Retransmission timeout.
    pub timeout: Duration,
    /// True when the client set the timeout (RFC 2349): no backoff then.
    pub timeout_negotiated: bool,
    /// For a WRQ: the size the client announced with tsize.
    pub announced_size: Option<u64>,
    /// Options to acknowledge; empty means no OACK (plain RFC 1350 start).
    pub oack: Vec<(String, String)>,
}

/// Negotiates the options of a request. `size` is the size of the file to be
/// sent (RRQ) or `None` for a WRQ; `allow_window` is false for uploads (this
/// server receives lock-step only and so does not acknowledge windowsize).
/// Unknown options and invalid values are ignored (RFC 2347 §4: the server
/// "should not include" options it does not support in the OACK).
pub fn negotiate(
    options: &[(String, String)],
    limits: Limits,
    size: Option<u64>,
    allow_window: bool,
) -> Negotiated {
    let mut n = Negotiated {
        blksize: DEFAULT_BLKSIZE,
        windowsize: 1,
        timeout: limits.default_timeout,
        timeout_negotiated: false,
        announced_size: None,
        oack: Vec::new(),
    };
    for (name, value) in options {
        let value = value.trim();
        match name.as_str() {
            // RFC 2348 §2: a larger value than the server can use is answered
            // with a smaller one in the OACK.
            "blksize" => {
                let Ok(v) = value.parse::<u64>() else {
                    continue;
                };
                if v < MIN_BLKSIZE as u64 || n.oack.iter().any(|(k, _)| k == "blksize") {
                    continue;
                }
                let cap = limits.max_blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE) as u64;
                let v = v.min(cap) as usize;
                n.blksize = v;
                n.oack.push((name.clone(), v.to_string()));
            }
            // RFC 2349 §2: "valid values range between 1 and 255 seconds";
            // the server acknowledges the same value or not at all.
            "timeout" => {
                let Ok(v) = value.parse::<u64>() else {
                    continue;
                };
                if !(1..=255).contains(&v) {
                    continue;
                }
                n.timeout = Duration::from_secs(v);
                n.timeout_negotiated = true;
                n.oack.push((name.clone(), v.to_string()));
            }
            // RFC 2349 §4: on a RRQ the client sends 0 and the server answers
            // with the size; on a WRQ the client sends the size.
            "tsize" => {
                let Ok(v) = value.parse::<u64>() else {
                    continue;
                };
                match size {
                    Some(len) => n.oack.push((name.clone(), len.to_string())),
                    None => {
                        n.announced_size = Some(v);
                        n.oack.push((name.clone(), v.to_string()));
                    }
                }
            }
            // RFC 7440 §3: "valid values range between 1 and 65535 blocks";
            // the server may answer with a smaller value.
            "windowsize" if allow_window => {
                let Ok(v) = value.parse::<u64>() else {
                    continue;
                };
                if v == 0 {
                    continue;
                }
                let cap = u64::from(limits.max_windowsize.clamp(1, MAX_WINDOWSIZE));
                let v = v.min(cap) as u16;
                n.windowsize = v;
                n.oack.push((name.clone(), v.to_string()));
            }
            _ => {}
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_blksize: 1468,
            max_windowsize: 16,
            default_timeout: Duration::from_secs(1),
        }
    }

    fn opts(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn blksize_above_the_maximum_is_clamped() {
        let n = negotiate(&opts(&[("blksize", "65464")]), limits(), Some(10), true);
        assert_eq!(n.blksize, 1468);
        assert_eq!(n.oack, opts(&[("blksize", "1468")]));
    }

    #[test]
    fn blksize_below_eight_is_ignored() {
        let n = negotiate(&opts(&[("blksize", "7")]), limits(), Some(10), true);
        assert_eq!(n.blksize, 512);
        assert!(n.oack.is_empty());
    }

    #[test]
    fn tsize_on_read_reports_the_file_size() {
        let n = negotiate(&opts(&[("tsize", "0")]), limits(), Some(4242), true);
        assert_eq!(n.oack, opts(&[("tsize", "4242")]));
    }

    #[test]
    fn tsize_on_write_is_the_announced_size() {
        let n = negotiate(&opts(&[("tsize", "99")]), limits(), None, false);
        assert_eq!(n.announced_size, Some(99));
    }

    #[test]
    fn windowsize_is_clamped_and_refused_for_uploads() {
        let n = negotiate(&opts(&[("windowsize", "200")]), limits(), Some(1), true);
        assert_eq!(n.windowsize, 16);
        let n = negotiate(&opts(&[("windowsize", "8")]), limits(), None, false);
        assert_eq!(n.windowsize, 1);
        assert!(n.oack.is_empty());
    }

    #[test]
    fn timeout_out_of_range_and_unknown_options_are_ignored() {
        let n = negotiate(
            &opts(&[("timeout", "0"), ("multicast", ""), ("timeout", "300")]),
            limits(),
            Some(1),
            true,
        );
        assert!(n.oack.is_empty());
        let n = negotiate(&opts(&[("timeout", "3")]), limits(), Some(1), true);
        assert_eq!(n.timeout, Duration::from_secs(3));
        assert!(n.timeout_negotiated);
    }
}
