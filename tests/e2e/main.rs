//! The end-to-end tests: one binary, so the whole tree links once. Each module
//! drives the real `headend` binary and real peer programs (dig, knotd, nsd,
//! dhclient, udhcpc, dhcpcd, dhcrelay, perfdhcp, tftp, curl, PostgreSQL,
//! systemd-analyze) on loopback or inside network namespaces the tests create.

mod common;

mod admin;
mod admin_apikey;
mod admin_audit;
mod admin_auth;
mod admin_keys_shared;
mod admin_limits;
mod admin_mtls;
mod admin_retention;
mod admin_users;
mod admin_zone;
mod cable;
mod cli;
mod console;
mod dhcp;
mod dhcp6;
mod dhcp_crash;
mod dhcp_ddns;
mod dhcp_relay;
mod dhcp_shared;
mod dns;
mod dns_crash;
mod dns_edit;
mod dns_edns;
mod dns_kea_ddns;
mod dns_knot;
mod dns_limits;
mod dns_presigned;
mod dns_update;
mod dns_xfr;
mod dnssec;
mod docsis;
mod lab;
mod metrics;
mod oidc;
mod provisioning;
mod secrets;
mod store_postgres;
mod systemd;
mod tftp;
mod tftp_lease;
mod tftp_safety;
