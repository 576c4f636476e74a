//! The sans-I/O server driven with crafted packets, a real SQLite store in a
//! temporary folder, and a fake clock.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use headend_store::{LeaseState, Store};

use crate::wire::{MessageType, parse};
use crate::{DhcpConfig, Ingress, Outcome, Reply, Server, Silence};

const CONFIG: &str = r#"
server_id = "10.0.0.1"
interfaces = ["eth0"]
offer_hold_secs = 30
decline_quarantine_secs = 600
rate_limit = { per_second = 1000.0, burst = 1000 }

[[class]]
name = "docsis"
vendor_class = "docsis"
options = { tftp_server_name = "10.0.0.5", bootfile_name = "modem.cfg", time_offset = 3600 }

[[class]]
name = "ipxe"
user_class = "iPXE"
boot_file = "http://10.0.0.5/boot.ipxe"

[[class]]
name = "bios"
arch = [0]
boot_file = "undionly.kpxe"

[[class]]
name = "uefi"
arch = [7, 9]
boot_file = "ipxe.efi"

[[subnet]]
name = "lan"
subnet = "10.0.0.0/24"
interface = "eth0"
pools = ["10.0.0.10-10.0.0.12"]
lease_time_secs = 3600
next_server = "10.0.0.5"
options = { routers = ["10.0.0.1"], domain_name_servers = ["10.0.0.1"] }
max_leases_per_circuit_id = 2

[[subnet.reservation]]
mac = "02:00:00:00:00:99"
address = "10.0.0.50"
hostname = "fixed"

[[subnet]]
name = "modems"
subnet = "10.1.0.0/24"
pools = ["10.1.0.10-10.1.0.20"]
classes = ["docsis"]

[[subnet]]
name = "customers"
subnet = "100.64.0.0/24"
relays = ["10.1.0.1"]
pools = ["100.64.0.10-100.64.0.20"]
"#;

fn setup() -> (tempfile::TempDir, Store, Server) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("t.db")).unwrap();
    let config: DhcpConfig = toml::from_str(CONFIG).unwrap();
    (dir, store, Server::new(&config).unwrap())
}

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn direct() -> Ingress {
    Ingress {
        interface: Some("eth0".into()),
        source: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
    }
}

struct Pkt {
    kind: u8,
    mac: u8,
    ciaddr: [u8; 4],
    giaddr: [u8; 4],
    opts: Vec<u8>,
}

fn pkt(kind: u8, mac: u8) -> Pkt {
    Pkt {
        kind,
        mac,
        ciaddr: [0; 4],
        giaddr: [0; 4],
        opts: Vec::new(),
    }
}

impl Pkt {
    fn opt(mut self, code: u8, v: &[u8]) -> Self {
        self.opts.push(code);
        self.opts.push(v.len() as u8);
        self.opts.extend_from_slice(v);
        self
    }
    fn ciaddr(mut self, a: [u8; 4]) -> Self {
        self.ciaddr = a;
        self
    }
    fn giaddr(mut self, a: [u8; 4]) -> Self {
        self.giaddr = a;
        self
    }
    fn bytes(&self) -> Vec<u8> {
        let mut p = crate::wire::tests::packet(self.kind, [2, 0, 0, 0, 0, self.mac], &self.opts);
        p[12..16].copy_from_slice(&self.ciaddr);
        p[24..28].copy_from_slice(&self.giaddr);
        p
    }
}

fn run(server: &Server, store: &Store, p: &Pkt, ctx: &Ingress, now: SystemTime) -> Outcome {
    let req = parse(&p.bytes(), 4).unwrap();
    let mut tx = store.begin().unwrap();
    let out = server.handle(&req, ctx, &mut *tx, now).unwrap();
    tx.commit().unwrap();
    out
}

fn reply(o: Outcome) -> Reply {
    match o {
        Outcome::Reply(r) => r,
        Outcome::Silent(s) => panic!("expected a reply, got silence {s:?}"),
    }
}

/// Options of an encoded reply, in wire order.
fn options(r: &Reply) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = &r.bytes[240..];
    while let [c, tail @ ..] = rest {
        match *c {
            0 => rest = tail,
            255 => break,
            _ => {
                let len = tail[0] as usize;
                out.push((*c, tail[1..1 + len].to_vec()));
                rest = &tail[1 + len..];
            }
        }
    }
    out
}

fn opt(r: &Reply, code: u8) -> Option<Vec<u8>> {
    options(r)
        .into_iter()
        .find(|(c, _)| *c == code)
        .map(|(_, v)| v)
}

fn file(r: &Reply) -> String {
    String::from_utf8_lossy(&r.bytes[108..236])
        .trim_end_matches('\0')
        .to_owned()
}

fn bind(server: &Server, store: &Store, mac: u8, now: SystemTime) -> Ipv4Addr {
    let offer = reply(run(server, store, &pkt(1, mac), &direct(), now));
    let ack = reply(run(
        server,
        store,
        &pkt(3, mac)
            .opt(54, &[10, 0, 0, 1])
            .opt(50, &offer.yiaddr.octets()),
        &direct(),
        now,
    ));
    assert_eq!(ack.kind, MessageType::Ack);
    ack.yiaddr
}

#[test]
fn discover_request_binds_and_reply_carries_lease_times_and_options() {
    let (_d, store, server) = setup();
    let offer = reply(run(
        &server,
        &store,
        &pkt(1, 1).opt(55, &[6, 3, 1]),
        &direct(),
        t(0),
    ));
    assert_eq!(offer.kind, MessageType::Offer);
    assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 0, 0, 10));
    assert_eq!(offer.to, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
    let codes: Vec<u8> = options(&offer).iter().map(|(c, _)| *c).collect();
    assert_eq!(
        &codes[..8],
        &[53, 54, 51, 58, 59, 6, 3, 1],
        "requested options come first, in order"
    );
    assert_eq!(opt(&offer, 51), Some(3600u32.to_be_bytes().to_vec()));
    assert_eq!(opt(&offer, 58), Some(1800u32.to_be_bytes().to_vec()));
    assert_eq!(opt(&offer, 59), Some(3150u32.to_be_bytes().to_vec()));
    assert_eq!(
        &offer.bytes[20..24],
        &[10, 0, 0, 5],
        "siaddr is next_server"
    );
    assert!(offer.bytes.len() >= 300);
    let ack = reply(run(
        &server,
        &store,
        &pkt(3, 1).opt(54, &[10, 0, 0, 1]).opt(50, &[10, 0, 0, 10]),
        &direct(),
        t(1),
    ));
    assert_eq!(
        (ack.kind, ack.yiaddr),
        (MessageType::Ack, Ipv4Addr::new(10, 0, 0, 10))
    );
    let lease = &store.leases().unwrap()[0];
    assert_eq!(
        (lease.state, lease.expires),
        (LeaseState::Bound, 1_700_000_001 + 3600)
    );
}

#[test]
fn discovers_from_two_clients_in_a_row_get_different_addresses() {
    let (_d, store, server) = setup();
    let a = reply(run(&server, &store, &pkt(1, 1), &direct(), t(0))).yiaddr;
    let b = reply(run(&server, &store, &pkt(1, 2), &direct(), t(0))).yiaddr;
    assert_ne!(a, b);
}

#[test]
fn request_with_another_servers_id_is_silent_and_frees_the_offer() {
    let (_d, store, server) = setup();
    reply(run(&server, &store, &pkt(1, 1), &direct(), t(0)));
    let out = run(
        &server,
        &store,
        &pkt(3, 1).opt(54, &[10, 0, 0, 99]).opt(50, &[10, 0, 0, 10]),
        &direct(),
        t(1),
    );
    assert!(matches!(out, Outcome::Silent(Silence::Done(_))));
    assert_eq!(store.leases().unwrap()[0].state, LeaseState::Released);
}

#[test]
fn init_reboot_for_an_address_off_the_subnet_is_naked() {
    let (_d, store, server) = setup();
    let nak = reply(run(
        &server,
        &store,
        &pkt(3, 1).opt(50, &[192, 168, 1, 5]),
        &direct(),
        t(0),
    ));
    assert_eq!(nak.kind, MessageType::Nak);
    assert_eq!(nak.to, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
}

#[test]
fn request_for_another_clients_address_is_naked() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    let nak = reply(run(
        &server,
        &store,
        &pkt(3, 2).opt(50, &a.octets()),
        &direct(),
        t(5),
    ));
    assert_eq!(nak.kind, MessageType::Nak);
}

#[test]
fn renewal_keeps_the_address_and_unicasts_to_ciaddr() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    let ack = reply(run(
        &server,
        &store,
        &pkt(3, 1).ciaddr(a.octets()),
        &direct(),
        t(1800),
    ));
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack, a));
    assert_eq!(ack.to, SocketAddrV4::new(a, 68));
    assert_eq!(
        store.leases().unwrap()[0].expires,
        1_700_000_000 + 1800 + 3600
    );
}

#[test]
fn returning_client_gets_its_address_back() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    bind(&server, &store, 2, t(0));
    let again = reply(run(&server, &store, &pkt(1, 1), &direct(), t(100))).yiaddr;
    assert_eq!(again, a);
}

#[test]
fn release_frees_the_address_for_another_client() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    bind(&server, &store, 2, t(0));
    bind(&server, &store, 3, t(0));
    assert!(matches!(
        run(&server, &store, &pkt(1, 4), &direct(), t(1)),
        Outcome::Silent(Silence::PoolExhausted { .. })
    ));
    run(
        &server,
        &store,
        &pkt(7, 1).ciaddr(a.octets()).opt(54, &[10, 0, 0, 1]),
        &direct(),
        t(2),
    );
    assert_eq!(
        reply(run(&server, &store, &pkt(1, 4), &direct(), t(3))).yiaddr,
        a
    );
}

#[test]
fn declined_address_is_quarantined_then_reused() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    run(
        &server,
        &store,
        &pkt(4, 1).opt(50, &a.octets()).opt(54, &[10, 0, 0, 1]),
        &direct(),
        t(1),
    );
    let next = bind(&server, &store, 1, t(2));
    assert_ne!(
        next, a,
        "the declining client is not offered the same address"
    );
    bind(&server, &store, 2, t(3));
    assert!(matches!(
        run(&server, &store, &pkt(1, 5), &direct(), t(4)),
        Outcome::Silent(Silence::PoolExhausted { .. })
    ));
    assert_eq!(
        reply(run(&server, &store, &pkt(1, 5), &direct(), t(700))).yiaddr,
        a,
        "after the quarantine"
    );
}

#[test]
fn expired_lease_goes_to_a_new_client_and_full_pool_gives_no_offer() {
    let (_d, store, server) = setup();
    let a = bind(&server, &store, 1, t(0));
    bind(&server, &store, 2, t(10));
    bind(&server, &store, 3, t(10));
    let out = run(&server, &store, &pkt(1, 4), &direct(), t(100));
    assert_eq!(
        out.silence(),
        Some(Silence::PoolExhausted {
            subnet: "lan".into()
        })
    );
    let offer = reply(run(&server, &store, &pkt(1, 4), &direct(), t(3601)));
    assert_eq!(offer.yiaddr, a, "client 1's lease expired first");
}

#[test]
fn reservation_by_mac_gets_the_fixed_address_and_host_name() {
    let (_d, store, server) = setup();
    let offer = reply(run(&server, &store, &pkt(1, 0x99), &direct(), t(0)));
    assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 0, 0, 50));
    assert_eq!(opt(&offer, 12), Some(b"fixed".to_vec()));
    let nak = reply(run(
        &server,
        &store,
        &pkt(3, 0x99).opt(50, &[10, 0, 0, 10]),
        &direct(),
        t(1),
    ));
    assert_eq!(
        nak.kind,
        MessageType::Nak,
        "a reserved client asking for another address"
    );
}

#[test]
fn pxe_architecture_and_ipxe_user_class_pick_the_boot_file() {
    let (_d, store, server) = setup();
    let bios = reply(run(
        &server,
        &store,
        &pkt(1, 1).opt(93, &[0, 0]),
        &direct(),
        t(0),
    ));
    assert_eq!(file(&bios), "undionly.kpxe");
    let uefi = reply(run(
        &server,
        &store,
        &pkt(1, 2).opt(93, &[0, 7]),
        &direct(),
        t(0),
    ));
    assert_eq!(file(&uefi), "ipxe.efi");
    let ipxe = reply(run(
        &server,
        &store,
        &pkt(1, 3).opt(93, &[0, 7]).opt(77, b"iPXE"),
        &direct(),
        t(0),
    ));
    assert_eq!(file(&ipxe), "http://10.0.0.5/boot.ipxe");
}

#[test]
fn relayed_docsis_modem_gets_modem_subnet_and_option_82_echoed_last() {
    let (_d, store, server) = setup();
    let relay = Ingress {
        interface: Some("eth0".into()),
        source: SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, 1), 67),
    };
    let info = [1, 4, b'c', b'm', b'0', b'1', 2, 2, 0xaa, 0xbb];
    let modem = reply(run(
        &server,
        &store,
        &pkt(1, 1)
            .giaddr([10, 1, 0, 1])
            .opt(60, b"docsis3.0")
            .opt(82, &info),
        &relay,
        t(0),
    ));
    assert_eq!(modem.yiaddr, Ipv4Addr::new(10, 1, 0, 10));
    assert_eq!(modem.to, SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, 1), 67));
    assert_eq!(opt(&modem, 67), Some(b"modem.cfg".to_vec()));
    assert_eq!(opt(&modem, 2), Some(3600i32.to_be_bytes().to_vec()));
    assert_eq!(options(&modem).last(), Some(&(82, info.to_vec())));
    let pc = reply(run(
        &server,
        &store,
        &pkt(1, 2).giaddr([10, 1, 0, 1]),
        &relay,
        t(0),
    ));
    assert_eq!(
        pc.yiaddr,
        Ipv4Addr::new(100, 64, 0, 10),
        "customer device gets the customer pool"
    );
}

#[test]
fn circuit_id_cap_holds_a_flood_but_other_circuits_still_get_leases() {
    let (_d, store, server) = setup();
    let info = [1, 5, b'p', b'o', b'r', b't', b'1'];
    let mut offered = 0;
    for mac in 1..=3 {
        if let Outcome::Reply(_) = run(
            &server,
            &store,
            &pkt(1, mac).opt(82, &info),
            &direct(),
            t(0),
        ) {
            offered += 1;
        }
    }
    assert_eq!(offered, 2);
    let other = [1, 5, b'p', b'o', b'r', b't', b'2'];
    assert!(matches!(
        run(&server, &store, &pkt(1, 9).opt(82, &other), &direct(), t(0)),
        Outcome::Reply(_)
    ));
}

#[test]
fn looping_client_is_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("t.db")).unwrap();
    let config: DhcpConfig = toml::from_str(&CONFIG.replace(
        "per_second = 1000.0, burst = 1000",
        "per_second = 1.0, burst = 3",
    ))
    .unwrap();
    let server = Server::new(&config).unwrap();
    let silent = (0..10)
        .filter(|_| {
            matches!(
                run(&server, &store, &pkt(1, 1), &direct(), t(0)),
                Outcome::Silent(Silence::RateLimited)
            )
        })
        .count();
    assert_eq!(silent, 7);
}

#[test]
fn bootp_without_a_reservation_is_dropped() {
    let (_d, store, server) = setup();
    let mut p = pkt(1, 1).bytes();
    p.truncate(240);
    p.push(255);
    let req = parse(&p, 4).unwrap();
    let mut tx = store.begin().unwrap();
    let out = server.handle(&req, &direct(), &mut *tx, t(0)).unwrap();
    assert_eq!(out.silence(), Some(Silence::Bootp));
}

#[test]
fn inform_gets_options_but_no_lease() {
    let (_d, store, server) = setup();
    let ack = reply(run(
        &server,
        &store,
        &pkt(8, 1).ciaddr([10, 0, 0, 77]),
        &direct(),
        t(0),
    ));
    assert_eq!(ack.kind, MessageType::Ack);
    assert_eq!(ack.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(opt(&ack, 51), None);
    assert_eq!(opt(&ack, 3), Some(vec![10, 0, 0, 1]));
    assert!(store.leases().unwrap().is_empty());
}

#[test]
fn unknown_interface_without_relay_has_no_subnet() {
    let (_d, store, server) = setup();
    let ctx = Ingress {
        interface: Some("eth9".into()),
        source: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
    };
    assert_eq!(
        run(&server, &store, &pkt(1, 1), &ctx, t(0)).silence(),
        Some(Silence::NoSubnet)
    );
}

#[test]
fn max_message_size_limits_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("t.db")).unwrap();
    let long = "x".repeat(250);
    let config: DhcpConfig = toml::from_str(&CONFIG.replace(
        "routers = [\"10.0.0.1\"],",
        &format!("routers = [\"10.0.0.1\"], raw = {{ \"224\" = \"{long}\", \"225\" = \"{long}\", \"226\" = \"{long}\" }},"),
    ))
    .unwrap();
    let server = Server::new(&config).unwrap();
    let small = reply(run(&server, &store, &pkt(1, 1), &direct(), t(0)));
    assert!(small.bytes.len() <= 576 - 28);
    let big = reply(run(
        &server,
        &store,
        &pkt(1, 1).opt(57, &1500u16.to_be_bytes()),
        &direct(),
        t(0),
    ));
    assert!(
        big.bytes.len() > 576,
        "option 57 lets all three long options in"
    );
}

impl Outcome {
    fn silence(self) -> Option<Silence> {
        match self {
            Self::Silent(s) => Some(s),
            Self::Reply(_) => None,
        }
    }
}

#[test]
fn example_configs_compile() {
    for name in ["isp-cable", "pxe-lab"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../configs/{name}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let value: toml::Table = toml::from_str(&text).unwrap();
        let dhcp: DhcpConfig = value["dhcp"].clone().try_into().unwrap();
        dhcp.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(dhcp.warnings(), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn bootp_request_from_a_reserved_client_gets_a_bootreply_where_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("t.db")).unwrap();
    let config: DhcpConfig = toml::from_str(&CONFIG.replace(
        "max_leases_per_circuit_id = 2\n",
        "max_leases_per_circuit_id = 2\nbootp = true\nboot_file = \"pxelinux.0\"\n",
    ))
    .unwrap();
    let server = Server::new(&config).unwrap();
    let mut p = pkt(1, 0x99).bytes();
    p.truncate(240);
    p.push(255);
    let req = parse(&p, 4).unwrap();
    let mut tx = store.begin().unwrap();
    let r = reply(server.handle(&req, &direct(), &mut *tx, t(0)).unwrap());
    tx.commit().unwrap();
    assert_eq!(r.yiaddr, Ipv4Addr::new(10, 0, 0, 50));
    assert_eq!(file(&r), "pxelinux.0");
    assert_eq!(opt(&r, 53), None, "a BOOTREPLY has no DHCP message type");
    assert_eq!(store.leases().unwrap()[0].state, LeaseState::Bound);
    let mut p = pkt(1, 0x01).bytes();
    p.truncate(240);
    p.push(255);
    let req = parse(&p, 4).unwrap();
    let mut tx = store.begin().unwrap();
    let out = server.handle(&req, &direct(), &mut *tx, t(0)).unwrap();
    assert_eq!(
        out.silence(),
        Some(Silence::Bootp),
        "unreserved BOOTP clients are not answered"
    );
}

#[test]
/// A reservation the store holds (where the admin API puts it: the route
/// itself is tested end to end in tests/e2e/admin.rs) is honoured.
fn reservation_in_the_store_is_honoured() {
    let (_d, store, server) = setup();
    let reservation = headend_store::auth::Reservation {
        subnet: "lan".into(),
        hwaddr: "02:00:00:00:00:07".into(),
        address: Ipv4Addr::new(10, 0, 0, 11),
        hostname: Some("api-host".into()),
        created: 0,
    };
    assert!(store.auth().reservation_put(&reservation).unwrap());
    let offer = reply(run(&server, &store, &pkt(1, 7), &direct(), t(0)));
    assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 0, 0, 11));
    assert_eq!(opt(&offer, 12), Some(b"api-host".to_vec()));
    // Others skip the reserved address.
    let a = reply(run(&server, &store, &pkt(1, 1), &direct(), t(0))).yiaddr;
    let b = reply(run(&server, &store, &pkt(1, 2), &direct(), t(0))).yiaddr;
    let mut got = [a, b];
    got.sort();
    assert_eq!(
        got,
        [Ipv4Addr::new(10, 0, 0, 10), Ipv4Addr::new(10, 0, 0, 12)]
    );
}

mod release;
mod reload;
mod shared;
