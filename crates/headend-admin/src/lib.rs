//! The TLS admin API of headend (work in progress).
