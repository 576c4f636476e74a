//! TFTP server for headend (work in progress).
