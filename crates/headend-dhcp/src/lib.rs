//! DHCPv4 for headend (work in progress).
