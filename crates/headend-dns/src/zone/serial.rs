//! RFC 1982 serial number arithmetic, for SOA serials: the signer picks the
//! next serial with it and IXFR decides whether a secondary is behind.

/// RFC 1982 §3.2: is serial `a` before serial `b`? Serials wrap at 2^32, and
/// two serials exactly 2^31 apart are unordered (neither is before the other).
pub(crate) fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < (1 << 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(serial_lt(1, 2));
        assert!(serial_lt(u32::MAX, 1));
        assert!(!serial_lt(2, 1));
    }
}
