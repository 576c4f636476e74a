//! The end-to-end tests: one binary, so the whole tree links once. Each module
//! drives the real `headend` binary and real peer programs (dig, knotd, nsd,
//! dhclient, udhcpc, dhcpcd, dhcrelay, perfdhcp, tftp, curl, PostgreSQL) on
//! loopback or inside network namespaces the tests create.

mod common;

mod admin;
mod admin_zone;
mod dhcp;
mod dhcp_crash;
mod dhcp_relay;
mod dns;
mod dns_crash;
mod dns_knot;
mod dns_limits;
mod dns_presigned;
mod dns_xfr;
mod dnssec;
mod provisioning;
mod store_postgres;
mod tftp;
mod tftp_lease;
mod tftp_safety;
