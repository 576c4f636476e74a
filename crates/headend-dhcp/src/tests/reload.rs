//! Configuration reload: the sans-I/O server under a swapped configuration,
//! the reload report, and the running service's handle.

use headend_store::{Lease, LeaseTx, StoreError};

use super::*;

/// CONFIG with `from` replaced by `to` (which must occur).
fn edited(edits: &[(&str, &str)]) -> DhcpConfig {
    let mut text = CONFIG.to_owned();
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} not in CONFIG");
        text = text.replacen(from, to, 1);
    }
    toml::from_str(&text).unwrap()
}

fn relayed_modem(mac: u8) -> (Pkt, Ingress) {
    let relay = Ingress {
        interface: Some("eth0".into()),
        source: SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, 1), 67),
    };
    (
        pkt(1, mac).giaddr([10, 1, 0, 1]).opt(60, b"docsis3.0"),
        relay,
    )
}

#[test]
fn reload_changes_option_67_in_the_next_offer() {
    let (_d, store, server) = setup();
    let (p, relay) = relayed_modem(1);
    let before = reply(run(&server, &store, &p, &relay, t(0)));
    assert_eq!(opt(&before, 67), Some(b"modem.cfg".to_vec()));
    server
        .reload(&edited(&[(
            "bootfile_name = \"modem.cfg\"",
            "bootfile_name = \"modem-v2.cfg\"",
        )]))
        .unwrap();
    let after = reply(run(&server, &store, &p, &relay, t(1)));
    assert_eq!(opt(&after, 67), Some(b"modem-v2.cfg".to_vec()));
    assert_eq!(after.yiaddr, before.yiaddr, "the held offer survives");
}

/// The real store transaction, with a reload landing in the middle of the
/// exchange: the first time the core asks for an admin-API reservation (after
/// it took its configuration snapshot, before it allocates and builds the
/// reply), `server` is reloaded with `config`.
struct ReloadMidway<'a> {
    inner: &'a mut dyn LeaseTx,
    server: &'a Server,
    config: Option<DhcpConfig>,
}

impl LeaseTx for ReloadMidway<'_> {
    fn lease_by_address(&mut self, a: Ipv4Addr) -> Result<Option<Lease>, StoreError> {
        self.inner.lease_by_address(a)
    }
    fn lease_by_client(&mut self, s: &str, k: &[u8]) -> Result<Option<Lease>, StoreError> {
        self.inner.lease_by_client(s, k)
    }
    fn offer_by_client(
        &mut self,
        s: &str,
        k: &[u8],
        server: Ipv4Addr,
    ) -> Result<Option<Lease>, StoreError> {
        self.inner.offer_by_client(s, k, server)
    }
    fn highest_claimed(
        &mut self,
        f: Ipv4Addr,
        l: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError> {
        self.inner.highest_claimed(f, l)
    }
    fn lowest_unclaimed(
        &mut self,
        f: Ipv4Addr,
        l: Ipv4Addr,
    ) -> Result<Option<Ipv4Addr>, StoreError> {
        self.inner.lowest_unclaimed(f, l)
    }
    fn oldest_expired(
        &mut self,
        f: Ipv4Addr,
        l: Ipv4Addr,
        now: u64,
    ) -> Result<Option<Lease>, StoreError> {
        self.inner.oldest_expired(f, l, now)
    }
    fn count_live_by_circuit(
        &mut self,
        s: &str,
        c: &[u8],
        e: &[u8],
        now: u64,
    ) -> Result<u64, StoreError> {
        self.inner.count_live_by_circuit(s, c, e, now)
    }
    fn count_live_by_remote(
        &mut self,
        s: &str,
        r: &[u8],
        e: &[u8],
        now: u64,
    ) -> Result<u64, StoreError> {
        self.inner.count_live_by_remote(s, r, e, now)
    }
    fn claim(&mut self, lease: &Lease) -> Result<bool, StoreError> {
        self.inner.claim(lease)
    }
    fn put(&mut self, lease: &Lease) -> Result<(), StoreError> {
        self.inner.put(lease)
    }
    fn api_reservation(
        &mut self,
        s: &str,
        hw: &[u8],
    ) -> Result<Option<(Ipv4Addr, Option<String>)>, StoreError> {
        if let Some(config) = self.config.take() {
            self.server.reload(&config).unwrap();
        }
        self.inner.api_reservation(s, hw)
    }
    fn api_reserved(&mut self, s: &str, a: Ipv4Addr) -> Result<bool, StoreError> {
        self.inner.api_reserved(s, a)
    }
}

/// Runs `p` with `config` installed while the exchange is being decided.
fn run_reloading_midway(
    server: &Server,
    store: &Store,
    p: &Pkt,
    ctx: &Ingress,
    now: SystemTime,
    config: DhcpConfig,
) -> Outcome {
    let req = parse(&p.bytes(), 4).unwrap();
    let mut tx = store.begin().unwrap();
    let mut midway = ReloadMidway {
        inner: &mut *tx,
        server,
        config: Some(config),
    };
    let out = server.handle(&req, ctx, &mut midway, now).unwrap();
    assert!(
        midway.config.is_none(),
        "the reload did not land mid-exchange"
    );
    tx.commit().unwrap();
    out
}

#[test]
fn an_offer_being_decided_when_a_reload_lands_is_built_from_the_old_config() {
    let (_d, store, server) = setup();
    let (p, relay) = relayed_modem(1);
    let new = edited(&[
        (
            "bootfile_name = \"modem.cfg\"",
            "bootfile_name = \"modem-v2.cfg\"",
        ),
        (
            "pools = [\"10.1.0.10-10.1.0.20\"]",
            "pools = [\"10.1.0.30-10.1.0.40\"]",
        ),
    ]);
    let during = reply(run_reloading_midway(&server, &store, &p, &relay, t(0), new));
    assert_eq!(during.kind, MessageType::Offer);
    assert_eq!(
        opt(&during, 67),
        Some(b"modem.cfg".to_vec()),
        "old option 67"
    );
    assert_eq!(during.yiaddr, Ipv4Addr::new(10, 1, 0, 10), "old pool");
    // The next exchange is decided under the new configuration.
    let (p2, relay) = relayed_modem(2);
    let after = reply(run(&server, &store, &p2, &relay, t(1)));
    assert_eq!(opt(&after, 67), Some(b"modem-v2.cfg".to_vec()));
    assert_eq!(after.yiaddr, Ipv4Addr::new(10, 1, 0, 30));
}

#[test]
fn a_request_being_acked_when_a_reload_lands_keeps_the_old_lease_time_and_is_stored() {
    let (_d, store, server) = setup();
    let offer = reply(run(&server, &store, &pkt(1, 1), &direct(), t(0)));
    let new = edited(&[("lease_time_secs = 3600", "lease_time_secs = 7200")]);
    let request = pkt(3, 1)
        .opt(54, &[10, 0, 0, 1])
        .opt(50, &offer.yiaddr.octets());
    let ack = reply(run_reloading_midway(
        &server,
        &store,
        &request,
        &direct(),
        t(1),
        new,
    ));
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack, offer.yiaddr));
    assert_eq!(opt(&ack, 51), Some(3600u32.to_be_bytes().to_vec()));
    // The lease written with that ACK is the one the old config gave.
    let row = store
        .leases()
        .unwrap()
        .into_iter()
        .find(|l| l.address == offer.yiaddr)
        .unwrap();
    assert_eq!(row.state, LeaseState::Bound);
    assert_eq!(row.expires, 1_700_000_001 + 3600);
    // A renewal afterwards gets the new lease time.
    let renew = reply(run(
        &server,
        &store,
        &pkt(3, 1).ciaddr(offer.yiaddr.octets()),
        &direct(),
        t(2),
    ));
    assert_eq!(opt(&renew, 51), Some(7200u32.to_be_bytes().to_vec()));
}

#[test]
fn invalid_reload_is_refused_and_the_old_config_still_answers() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    let err = server
        .reload(&edited(&[("10.0.0.10-10.0.0.12", "10.9.0.10-10.9.0.12")]))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("dhcp.subnet[0].pools[0]"), "{err}");
    let ack = reply(run(
        &server,
        &store,
        &pkt(3, 1).ciaddr(a.octets()),
        &direct(),
        t(10),
    ));
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack, a));
    assert_eq!(opt(&ack, 51), Some(3600u32.to_be_bytes().to_vec()));
    assert_eq!(bind(&server, &store, 2, t(11)), Ipv4Addr::new(10, 0, 0, 11));
}

#[test]
fn pool_shrink_naks_the_renewal_of_an_address_left_outside_then_gives_a_new_one() {
    let (_d, store, server) = setup();
    let kept = bind(&server, &store, 1, t(0));
    bind(&server, &store, 2, t(0));
    let moved = bind(&server, &store, 3, t(0));
    assert_eq!(moved, Ipv4Addr::new(10, 0, 0, 12));
    server
        .reload(&edited(&[
            (
                "\"10.0.0.10-10.0.0.12\"",
                "\"10.0.0.10-10.0.0.11\", \"10.0.0.30-10.0.0.40\"",
            ),
            ("lease_time_secs = 3600", "lease_time_secs = 7200"),
        ]))
        .unwrap();
    // Still in a pool: renewed, with the new lease time.
    let ack = reply(run(
        &server,
        &store,
        &pkt(3, 1).ciaddr(kept.octets()),
        &direct(),
        t(1800),
    ));
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack, kept));
    assert_eq!(opt(&ack, 51), Some(7200u32.to_be_bytes().to_vec()));
    // Left the pools: NAK (broadcast, RFC 2131 §4.1), and the binding ends.
    let nak = reply(run(
        &server,
        &store,
        &pkt(3, 3).ciaddr(moved.octets()),
        &direct(),
        t(1800),
    ));
    assert_eq!(nak.kind, MessageType::Nak);
    assert_eq!(nak.to, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
    let row = store
        .leases()
        .unwrap()
        .into_iter()
        .find(|l| l.address == moved)
        .unwrap();
    assert_eq!(row.state, LeaseState::Released);
    // The client starts over and gets an address from the new pool.
    let fresh = bind(&server, &store, 3, t(1801));
    assert_eq!(fresh, Ipv4Addr::new(10, 0, 0, 30));
}

#[test]
fn reload_adds_a_reservation_and_a_class() {
    let (_d, store, server) = setup();
    server
        .reload(&edited(&[
            (
                "[[subnet.reservation]]",
                "[[subnet.reservation]]\nmac = \"02:00:00:00:00:05\"\naddress = \"10.0.0.60\"\n\n[[subnet.reservation]]",
            ),
            (
                "[[subnet]]",
                "[[class]]\nname = \"phones\"\nvendor_class = \"Cisco\"\noptions = { tftp_server_addresses = [\"10.0.0.7\"] }\n\n[[subnet]]",
            ),
        ]))
        .unwrap();
    let offer = reply(run(&server, &store, &pkt(1, 5), &direct(), t(0)));
    assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 0, 0, 60));
    let phone = reply(run(
        &server,
        &store,
        &pkt(1, 6).opt(60, b"Cisco SIP"),
        &direct(),
        t(0),
    ));
    assert_eq!(opt(&phone, 150), Some(vec![10, 0, 0, 7]));
}

#[test]
fn reload_report_names_the_changes_and_what_needs_a_restart() {
    use crate::plan::Plan;
    use crate::reload::{Listen, diff};
    let old: DhcpConfig = toml::from_str(CONFIG).unwrap();
    let new = edited(&[
        (
            "interfaces = [\"eth0\"]",
            "interfaces = [\"eth0\", \"eth1\"]\nport = 6767",
        ),
        ("\"10.0.0.10-10.0.0.12\"", "\"10.0.0.10-10.0.0.11\""),
        ("per_second = 1000.0", "per_second = 500.0"),
        (
            "[[subnet]]\nname = \"customers\"",
            "[[subnet]]\nname = \"lab\"\nsubnet = \"10.2.0.0/24\"\ninterface = \"eth1\"\n\n[[subnet]]\nname = \"customers\"",
        ),
    ]);
    let report = diff(
        &old,
        &Plan::compile(&old).unwrap(),
        &new,
        &Plan::compile(&new).unwrap(),
        &Listen::of(&old),
    );
    assert_eq!(report.needs_restart, ["dhcp.interfaces", "dhcp.port"]);
    assert_eq!(
        report.applied,
        [
            "dhcp.rate_limit",
            "subnet \"lan\": pools",
            "subnet \"lab\" added"
        ]
    );
    let warnings = report.warnings.join("\n");
    assert!(warnings.contains("restarts"), "{warnings}");
    assert!(
        warnings.contains("\"lab\" is on interface \"eth1\", which has no DHCP socket"),
        "{warnings}"
    );
    assert!(
        warnings.contains("10.0.0.12") && warnings.contains("NAK"),
        "{warnings}"
    );
    assert!(
        report
            .to_string()
            .contains("needs a restart: dhcp.interfaces, dhcp.port")
    );
    let same = diff(
        &old,
        &Plan::compile(&old).unwrap(),
        &old,
        &Plan::compile(&old).unwrap(),
        &Listen::of(&old),
    );
    assert!(same.is_unchanged(), "{same}");
}

#[test]
fn removed_or_renamed_subnet_is_reported_with_what_happens_to_its_leases() {
    use crate::plan::Plan;
    use crate::reload::{Listen, diff};
    let old: DhcpConfig = toml::from_str(CONFIG).unwrap();
    let report = |new: &DhcpConfig| {
        diff(
            &old,
            &Plan::compile(&old).unwrap(),
            new,
            &Plan::compile(new).unwrap(),
            &Listen::of(&old),
        )
    };
    let mut gone = old.clone();
    gone.subnets.retain(|s| s.name != "customers");
    let r = report(&gone);
    assert_eq!(r.applied, ["subnet \"customers\" removed"]);
    assert!(r.warnings[0].contains("renewals get no answer"), "{r:?}");
    let renamed = edited(&[("name = \"customers\"", "name = \"cpe\"")]);
    let r = report(&renamed);
    assert_eq!(
        r.applied,
        ["subnet \"cpe\" added", "subnet \"customers\" removed"]
    );
    assert!(r.warnings[0].contains("answered by \"cpe\""), "{r:?}");
    assert!(r.needs_restart.is_empty());
}

mod service {
    //! The running service: real sockets on loopback, a real SQLite store.

    use std::net::UdpSocket;
    use std::time::Instant;

    use super::*;
    use crate::{DhcpHandle, DhcpService, DhcpStatsSnapshot};

    fn config(port: u16, extra: &str, subnet: &str) -> DhcpConfig {
        toml::from_str(&format!(
            "server_id = \"127.0.0.1\"\nport = {port}\nstats_interval_secs = 0\n{extra}\n[[subnet]]\nname = \"lo\"\nsubnet = \"{subnet}\"\n"
        ))
        .unwrap()
    }

    fn wait_for(handle: &DhcpHandle, key: fn(&DhcpStatsSnapshot) -> u64, value: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while key(&handle.stats()) < value {
            assert!(
                Instant::now() < deadline,
                "counter never reached {value}: {:?}",
                handle.stats()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn reload_keeps_sockets_and_counters_and_reports_interface_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path().join("t.db")).unwrap();
        // An unprivileged port, free a moment ago.
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // No subnet holds 127.0.0.77 yet.
        let handle = DhcpService::start(config(port, "", "127.0.1.0/24"), store).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let inform = pkt(8, 1).ciaddr([127, 0, 0, 77]).bytes();
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        client.send_to(&inform, to).unwrap();
        wait_for(&handle, |s| s.no_subnet, 1);

        let report = handle
            .reload(config(port + 1, "interfaces = [\"lo\"]", "127.0.0.0/24"))
            .unwrap();
        assert_eq!(report.needs_restart, ["dhcp.interfaces", "dhcp.port"]);
        assert_eq!(report.applied, ["subnet \"lo\": subnet"]);
        let stats = handle.stats();
        assert_eq!(stats.received, 1, "{stats:?}");
        assert_eq!(stats.no_subnet, 1, "{stats:?}");
        assert_eq!(stats.config_reloads, 1, "{stats:?}");

        // Same socket (the old port), new subnet: now answered.
        client.send_to(&inform, to).unwrap();
        wait_for(&handle, |s| s.ack, 1);

        // A broken config is refused; the running one keeps answering.
        let mut broken = config(port, "", "127.0.0.0/24");
        broken.max_batch = 0;
        let err = handle.reload(broken).unwrap_err().to_string();
        assert!(err.starts_with("dhcp.max_batch"), "{err}");
        client.send_to(&inform, to).unwrap();
        wait_for(&handle, |s| s.ack, 2);
        let stats = handle.stats();
        assert_eq!(stats.received, 3, "{stats:?}");
        assert_eq!(stats.inform, 3, "{stats:?}");
        assert_eq!(stats.config_reload_refused, 1, "{stats:?}");
        handle.stop();
        std::thread::sleep(Duration::from_millis(400));
    }
}
