//! Authoritative DNS for headend.
//!
//! Zone files are read by headend's own RFC 1035 parser ([`zonefile`]), checked
//! ([`check`]), built into an immutable in-memory [`zone::Zone`], and served by
//! a sans-I/O responder ([`answer`]) behind thin UDP/TCP listeners ([`listen`])
//! that hand every request to one entry point ([`respond`]).
//! The set of served zones is swapped atomically on reload, so queries never
//! pause and a zone that fails to load keeps serving its previous version.
//! The entry point is [`DnsService::start`]; the rest of the program talks to
//! the running service through its cloneable [`DnsHandle`].
//!
//! Zones with `dnssec` configured are signed on load and re-signed by a
//! scheduler before their signatures expire ([`dnssec`]); the operator's
//! DNSSEC commands (DS records, rollovers) are in [`ops`].
//! Zone transfers (AXFR, IXFR from a journal, TSIG, ACLs) are
//! answered on the TCP listeners, and every serial change sends NOTIFY to the
//! configured secondaries ([`notify`]).
//!
//! This crate does not recurse: names outside the served zones are REFUSED.

pub mod check;
pub mod config;
mod error;
pub mod zonefile;

pub use config::{DnsConfig, DnssecConfig, TsigKeyConfig, UpdateRule, ZoneConfig};
pub use error::DnsError;

pub mod answer;
pub mod dnssec;
mod edit;
pub mod fast;
mod listen;
mod notify;
pub mod ops;
pub mod present;
pub mod request;
mod respond;
pub mod rrl;
mod rrtype;
mod service;
mod stats;
mod tcp_table;
mod update;
mod xfr;
pub mod zone;

pub use dnssec::SignedZone;
pub use edit::{EditOutcome, RecordView, ZoneEdit, ZoneSummary};
pub use service::{
    DnsHandle, DnsService, LoadedZone, NameChange, PublishedName, ZoneReport, check_config,
    load_zone, load_zone_with,
};
pub use stats::{
    DnsResponses, DnsStats, DnsStatsSnapshot, FastCounts, QTYPES, RCODES, TransferCounts,
    ZoneQueries,
};
pub use update::dhcp::{DhcidIdentifier, LeaseName, NameOutcome, dhcid_rdata, ptr_name};
pub use zone::parse_origin;
