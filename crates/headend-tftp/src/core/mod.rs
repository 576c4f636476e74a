//! The sans-I/O protocol core: wire format, option negotiation and the two
//! transfer state machines. Nothing in here opens a socket, touches a file
//! or reads the clock; the socket loop (`listen`) feeds these packets and
//! the time and does what the returned [`Step`](transfer::Step) says.
//!
//! - [`packet`]: RFC 1350 packets (and the RFC 2347 OACK), parsed without copying.
//! - [`options`]: RFC 2347 negotiation of blksize (RFC 2348), tsize and
//!   timeout (RFC 2349) and windowsize (RFC 7440).
//! - [`netascii`]: the line-ending translation of netascii mode (RFC 1350 §1, RFC 764).
//! - [`transfer`]: the read transfer (RRQ: the server sends).
//! - [`receive`]: the write transfer (WRQ: the server receives).

pub(crate) mod machine;
pub mod netascii;
pub mod options;
pub mod packet;
pub mod receive;
pub(crate) mod request;
pub mod transfer;
