//! The core driven with crafted messages over a real SQLite store and a
//! fixed clock.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::{Duration, SystemTime};

use headend_store::{Lease6, Lease6Kind, LeaseState, Store};

use crate::wire::{self, Ia, IaEntry, IaKind, Message, Options, Relay, Request, msg, opt, status};
use crate::{Dhcp6Config, Ingress, Outcome, Reply, Server, Silence};

const SERVER_DUID: &[u8] = &[0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

fn cfg(extra: &str) -> Dhcp6Config {
    let text = format!(
        r#"
interfaces = ["eth1"]
{extra}
[[class]]
name = "docsis"
vendor_class = "docsis3.0"
enterprise = 4491
options.cablelabs = {{ tftp_servers = ["2001:db8::69"], config_file = "cm.cfg", time_servers = ["2001:db8::37"], time_offset = 3600 }}

[[subnet]]
name = "direct"
prefix = "2001:db8:1::/64"
interface = "eth1"
pools = ["2001:db8:1::10-2001:db8:1::11"]
pd_pools = [{{ prefix = "2001:db8:100::/55", delegated_len = 56 }}]
reservations = [{{ duid = "00:03:00:01:aa:bb:cc:dd:ee:ff", address = "2001:db8:1::99" }}]

[[subnet]]
name = "relayed"
prefix = "2001:db8:2::/64"
pools = ["2001:db8:2::10-2001:db8:2::20"]
reservations = [{{ hwaddr = "02:00:00:00:00:79", address = "2001:db8:2::79" }}, {{ remote_id = "cm-7", address = "2001:db8:2::7" }}]
"#
    );
    toml::from_str(&text).expect("config")
}

struct T {
    server: Server,
    store: Store,
    _dir: tempfile::TempDir,
    now: SystemTime,
}

fn setup(extra: &str) -> T {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_sqlite(dir.path().join("t.db")).expect("store");
    T {
        server: Server::from_config(&cfg(extra), SERVER_DUID.to_vec()).expect("server"),
        store,
        _dir: dir,
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    }
}

fn duid(n: u8) -> Vec<u8> {
    vec![0, 3, 0, 1, 2, 0, 0, 0, 0, n]
}

fn ia(kind: IaKind, entries: Vec<IaEntry>) -> Ia {
    Ia {
        kind,
        iaid: 1,
        t1: 0,
        t2: 0,
        entries,
        status: None,
    }
}

fn message(kind: u8, client: &[u8], server: bool, ias: &[Ia]) -> Message {
    let mut o = Options::default();
    o.push(opt::CLIENTID, client.to_vec());
    if server {
        o.push(opt::SERVERID, SERVER_DUID.to_vec());
    }
    for i in ias {
        i.encode_into(&mut o);
    }
    Message {
        kind,
        xid: [9, 8, 7],
        options: o,
    }
}

fn ingress(unicast: bool) -> Ingress {
    Ingress {
        interface: Some("eth1".into()),
        source: SocketAddrV6::new("fe80::2".parse().unwrap(), 546, 0, 3),
        unicast,
    }
}

impl T {
    fn send(&self, m: Message) -> Outcome {
        self.send_req(
            Request {
                relays: vec![],
                message: m,
            },
            &ingress(false),
        )
    }

    fn send_req(&self, r: Request, ctx: &Ingress) -> Outcome {
        let mut tx = self.store.begin().expect("tx");
        let out = self
            .server
            .handle(&r, ctx, &mut *tx, self.now)
            .expect("handle");
        tx.commit().expect("commit");
        out
    }
}

fn reply(o: Outcome) -> (Reply, Message) {
    match o {
        Outcome::Reply(r) => {
            let m = Message::parse(&r.bytes).expect("own reply");
            (r, m)
        }
        Outcome::Silent(s) => panic!("silent: {s:?}"),
    }
}

fn top_status(m: &Message) -> Option<u16> {
    m.options
        .get(opt::STATUS_CODE)
        .and_then(wire::parse_status)
        .map(|s| s.0)
}

#[test]
fn solicit_advertises_and_request_binds_the_same_address() {
    let t = setup("");
    let (r, m) = reply(t.send(message(
        msg::SOLICIT,
        &duid(1),
        false,
        &[ia(IaKind::Na, vec![])],
    )));
    assert_eq!(r.kind, msg::ADVERTISE);
    assert_eq!(m.options.get(opt::SERVERID), Some(SERVER_DUID));
    let adv = wire::ias(&m.options).unwrap();
    assert_eq!(
        adv[0].entries[0].address,
        "2001:db8:1::10".parse::<Ipv6Addr>().unwrap()
    );
    let leases = t.store.leases6().unwrap();
    assert_eq!(leases[0].state, LeaseState::Offered);
    let (r, m) = reply(t.send(message(
        msg::REQUEST,
        &duid(1),
        true,
        &[ia(IaKind::Na, vec![])],
    )));
    assert_eq!(r.kind, msg::REPLY);
    let got = wire::ias(&m.options).unwrap();
    assert_eq!(got[0].entries, adv[0].entries);
    assert_eq!((got[0].t1, got[0].t2), (1800, 2880));
    assert_eq!(t.store.leases6().unwrap()[0].state, LeaseState::Bound);
}

#[test]
fn rapid_commit_binds_at_once_only_when_configured() {
    let mut m = message(msg::SOLICIT, &duid(1), false, &[ia(IaKind::Na, vec![])]);
    m.options.push(opt::RAPID_COMMIT, vec![]);
    let (r, _) = reply(setup("").send(m.clone()));
    assert_eq!(r.kind, msg::ADVERTISE);
    let t = setup("rapid_commit = true");
    let (r, reply_msg) = reply(t.send(m));
    assert_eq!(r.kind, msg::REPLY);
    assert!(reply_msg.options.has(opt::RAPID_COMMIT));
    assert_eq!(t.store.leases6().unwrap()[0].state, LeaseState::Bound);
}

#[test]
fn request_for_another_server_and_solicit_with_server_id_are_ignored() {
    let t = setup("");
    let mut m = message(msg::REQUEST, &duid(1), false, &[ia(IaKind::Na, vec![])]);
    m.options.push(opt::SERVERID, vec![0, 4, 9, 9, 9]);
    assert!(matches!(t.send(m), Outcome::Silent(Silence::OtherServer)));
    let m = message(msg::SOLICIT, &duid(1), true, &[]);
    assert!(matches!(
        t.send(m),
        Outcome::Silent(Silence::BadIdentifiers)
    ));
    let mut m = message(msg::SOLICIT, &duid(1), false, &[]);
    m.options.0.retain(|(c, _)| *c != opt::CLIENTID);
    assert!(matches!(
        t.send(m),
        Outcome::Silent(Silence::BadIdentifiers)
    ));
}

#[test]
fn unicast_request_without_option_12_gets_use_multicast() {
    let t = setup("");
    let r = Request {
        relays: vec![],
        message: message(msg::REQUEST, &duid(1), true, &[ia(IaKind::Na, vec![])]),
    };
    let (_, m) = reply(t.send_req(r, &ingress(true)));
    assert_eq!(top_status(&m), Some(status::USE_MULTICAST));
    assert!(t.store.leases6().unwrap().is_empty());
}

#[test]
fn pools_run_out_with_noaddrsavail_and_noprefixavail() {
    let t = setup("rapid_commit = true");
    let mut statuses = Vec::new();
    for n in 1..=3 {
        let mut m = message(
            msg::SOLICIT,
            &duid(n),
            false,
            &[ia(IaKind::Na, vec![]), ia(IaKind::Pd, vec![])],
        );
        m.options.push(opt::RAPID_COMMIT, vec![]);
        let (_, m) = reply(t.send(m));
        statuses.push(
            wire::ias(&m.options)
                .unwrap()
                .iter()
                .map(|i| i.status.as_ref().map(|s| s.0))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(statuses[0], vec![None, None]);
    assert_eq!(statuses[1], vec![None, None]);
    assert_eq!(
        statuses[2],
        vec![Some(status::NO_ADDRS_AVAIL), Some(status::NO_PREFIX_AVAIL)]
    );
    let prefixes: Vec<_> = t
        .store
        .leases6()
        .unwrap()
        .into_iter()
        .filter(|l| l.prefix_len == 56)
        .map(|l| l.address.to_string())
        .collect();
    assert_eq!(prefixes, ["2001:db8:100::", "2001:db8:100:100::"]);
}

#[test]
fn renew_without_binding_is_nobinding_and_release_frees() {
    let t = setup("rapid_commit = true");
    let entry = IaEntry {
        address: "2001:db8:1::77".parse().unwrap(),
        prefix_len: 128,
        preferred: 0,
        valid: 0,
    };
    let (_, m) = reply(t.send(message(
        msg::RENEW,
        &duid(1),
        true,
        &[ia(IaKind::Na, vec![entry])],
    )));
    assert_eq!(
        wire::ias(&m.options).unwrap()[0]
            .status
            .as_ref()
            .map(|s| s.0),
        Some(status::NO_BINDING)
    );
    let mut s = message(msg::SOLICIT, &duid(1), false, &[ia(IaKind::Na, vec![])]);
    s.options.push(opt::RAPID_COMMIT, vec![]);
    let (_, m) = reply(t.send(s));
    let granted = wire::ias(&m.options).unwrap()[0].entries.clone();
    let (_, m) = reply(t.send(message(
        msg::RENEW,
        &duid(1),
        true,
        &[ia(IaKind::Na, granted.clone())],
    )));
    assert_eq!(
        wire::ias(&m.options).unwrap()[0].entries[0].address,
        granted[0].address
    );
    let (_, m) = reply(t.send(message(
        msg::RELEASE,
        &duid(1),
        true,
        &[ia(IaKind::Na, granted.clone())],
    )));
    assert_eq!(top_status(&m), Some(status::SUCCESS));
    assert_eq!(t.store.leases6().unwrap()[0].state, LeaseState::Released);
    // Another client's RELEASE of it changes nothing.
    let (_, m) = reply(t.send(message(
        msg::RELEASE,
        &duid(2),
        true,
        &[ia(IaKind::Na, granted)],
    )));
    assert_eq!(
        wire::ias(&m.options).unwrap()[0]
            .status
            .as_ref()
            .map(|s| s.0),
        Some(status::NO_BINDING)
    );
}

#[test]
fn confirm_says_whether_addresses_are_on_link() {
    let t = setup("");
    let on = IaEntry {
        address: "2001:db8:1::5".parse().unwrap(),
        prefix_len: 128,
        preferred: 0,
        valid: 0,
    };
    let off = IaEntry {
        address: "2001:db8:9::5".parse().unwrap(),
        ..on
    };
    let (_, m) = reply(t.send(message(
        msg::CONFIRM,
        &duid(1),
        false,
        &[ia(IaKind::Na, vec![on])],
    )));
    assert_eq!(top_status(&m), Some(status::SUCCESS));
    let (_, m) = reply(t.send(message(
        msg::CONFIRM,
        &duid(1),
        false,
        &[ia(IaKind::Na, vec![off])],
    )));
    assert_eq!(top_status(&m), Some(status::NOT_ON_LINK));
    assert!(matches!(
        t.send(message(msg::CONFIRM, &duid(1), false, &[])),
        Outcome::Silent(Silence::Nothing)
    ));
}

#[test]
fn relay_link_address_selects_the_subnet_and_the_reply_goes_back_wrapped() {
    let t = setup("");
    let mut ro = Options::default();
    ro.push(opt::INTERFACE_ID, b"cmts-1/0".to_vec());
    let r = Request {
        relays: vec![Relay {
            hop_count: 0,
            link_address: "2001:db8:2::1".parse().unwrap(),
            peer_address: "fe80::9".parse().unwrap(),
            options: ro,
        }],
        message: message(msg::SOLICIT, &duid(1), false, &[ia(IaKind::Na, vec![])]),
    };
    let ctx = Ingress {
        interface: None,
        source: SocketAddrV6::new("2001:db8:f::2".parse().unwrap(), 547, 0, 0),
        unicast: true,
    };
    let Outcome::Reply(rep) = t.send_req(r, &ctx) else {
        panic!("silent")
    };
    assert_eq!(rep.to, ctx.source);
    assert_eq!(rep.bytes[0], msg::RELAY_REPL);
    let outer = Options::parse(&rep.bytes[34..]).unwrap();
    assert_eq!(outer.get(opt::INTERFACE_ID), Some(&b"cmts-1/0"[..]));
    let inner = Message::parse(outer.get(opt::RELAY_MSG).unwrap()).unwrap();
    let got = wire::ias(&inner.options).unwrap();
    assert_eq!(
        got[0].entries[0].address,
        "2001:db8:2::10".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(t.store.leases6().unwrap()[0].subnet, "relayed");
}

#[test]
fn docsis_modem_gets_cablelabs_sub_options_and_reservation_by_duid() {
    let t = setup("");
    let client = [0u8, 3, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
    let mut m = message(msg::SOLICIT, &client, false, &[ia(IaKind::Na, vec![])]);
    let mut vc = 4491u32.to_be_bytes().to_vec();
    vc.extend_from_slice(&9u16.to_be_bytes());
    vc.extend_from_slice(b"docsis3.0");
    m.options.push(opt::VENDOR_CLASS, vc);
    m.options.push(opt::ORO, vec![0, 17]);
    let (_, m) = reply(t.send(m));
    assert_eq!(
        wire::ias(&m.options).unwrap()[0].entries[0].address,
        "2001:db8:1::99".parse::<Ipv6Addr>().unwrap()
    );
    let v = m.options.get(opt::VENDOR_OPTS).expect("option 17");
    assert_eq!(&v[..4], &4491u32.to_be_bytes());
    let subs = Options::parse(&v[4..]).unwrap();
    assert_eq!(
        subs.get(32),
        Some(&"2001:db8::69".parse::<Ipv6Addr>().unwrap().octets()[..])
    );
    assert_eq!(subs.get(33), Some(&b"cm.cfg"[..]));
    assert_eq!(subs.get(38), Some(&3600i32.to_be_bytes()[..]));
    assert_eq!(
        t.store.leases6().unwrap()[0].class.as_deref(),
        Some("docsis")
    );
    // A client without the vendor class gets no option 17.
    let (_, m) = reply(t.send(message(
        msg::SOLICIT,
        &duid(5),
        false,
        &[ia(IaKind::Na, vec![])],
    )));
    assert!(!m.options.has(opt::VENDOR_OPTS));
}

#[test]
fn bad_configs_name_the_key() {
    let bad = |extra: &str, sub: &str| {
        let text =
            format!("{extra}\n[[subnet]]\nname = \"a\"\nprefix = \"2001:db8:1::/64\"\n{sub}");
        let c: Dhcp6Config = toml::from_str(&text).expect("parses");
        c.validate().unwrap_err().to_string()
    };
    assert!(bad("", "pools = [\"2001:db8:2::1-2001:db8:2::5\"]").contains("subnet[0].pools[0]"));
    assert!(
        bad(
            "",
            "pd_pools = [{ prefix = \"2001:db8:100::/56\", delegated_len = 48 }]"
        )
        .contains("delegated_len")
    );
    assert!(bad("", "classes = [\"nope\"]").contains("classes[0]"));
    assert!(bad("max_hops = 0", "").contains("max_hops"));
    assert!(
        bad(
            "",
            "pools = [\"2001:db8:1::1-2001:db8:1::9\", \"2001:db8:1::5-2001:db8:1::7\"]"
        )
        .contains("overlaps")
    );
}

#[test]
fn solicit_from_a_bound_client_does_not_shorten_its_binding() {
    let t = setup("");
    reply(t.send(message(
        msg::SOLICIT,
        &duid(1),
        false,
        &[ia(IaKind::Na, vec![])],
    )));
    reply(t.send(message(
        msg::REQUEST,
        &duid(1),
        true,
        &[ia(IaKind::Na, vec![])],
    )));
    let bound = t.store.leases6().unwrap()[0].clone();
    let (r, m) = reply(t.send(message(
        msg::SOLICIT,
        &duid(1),
        false,
        &[ia(IaKind::Na, vec![])],
    )));
    assert_eq!(r.kind, msg::ADVERTISE);
    assert_eq!(
        wire::ias(&m.options).unwrap()[0].entries[0].address,
        bound.address
    );
    assert_eq!(t.store.leases6().unwrap()[0], bound);
}

fn relayed(options: Options, client: &[u8]) -> Request {
    Request {
        relays: vec![Relay {
            hop_count: 0,
            link_address: "2001:db8:2::1".parse().unwrap(),
            peer_address: "fe80::9".parse().unwrap(),
            options,
        }],
        message: message(msg::SOLICIT, client, false, &[ia(IaKind::Na, vec![])]),
    }
}

fn relay_ingress() -> Ingress {
    Ingress {
        interface: None,
        source: SocketAddrV6::new("2001:db8:f::2".parse().unwrap(), 547, 0, 0),
        unicast: true,
    }
}

fn inner_address(o: Outcome) -> Ipv6Addr {
    let Outcome::Reply(rep) = o else {
        panic!("silent")
    };
    let outer = Options::parse(&rep.bytes[34..]).unwrap();
    let inner = Message::parse(outer.get(opt::RELAY_MSG).unwrap()).unwrap();
    wire::ias(&inner.options).unwrap()[0].entries[0].address
}

#[test]
fn reservations_by_option_79_mac_and_by_relay_remote_id() {
    let t = setup("");
    // RFC 6939: link-layer type 1, then the MAC; the client's DUID says
    // nothing of it (DUID-EN).
    let mut o = Options::default();
    o.push(opt::CLIENT_LINKLAYER_ADDR, vec![0, 1, 2, 0, 0, 0, 0, 0x79]);
    let a = inner_address(t.send_req(relayed(o, &[0, 2, 0, 0, 0x11, 0x8b, 1]), &relay_ingress()));
    assert_eq!(a, "2001:db8:2::79".parse::<Ipv6Addr>().unwrap());
    // RFC 4649: enterprise number, then the remote-id.
    let mut o = Options::default();
    let mut rid = 4491u32.to_be_bytes().to_vec();
    rid.extend_from_slice(b"cm-7");
    o.push(opt::REMOTE_ID, rid);
    let a = inner_address(t.send_req(relayed(o, &[0, 2, 0, 0, 0x11, 0x8b, 2]), &relay_ingress()));
    assert_eq!(a, "2001:db8:2::7".parse::<Ipv6Addr>().unwrap());
    // Anyone else gets a pool address.
    let a = inner_address(t.send_req(
        relayed(Options::default(), &[0, 2, 0, 0, 0x11, 0x8b, 3]),
        &relay_ingress(),
    ));
    assert_eq!(a, "2001:db8:2::10".parse::<Ipv6Addr>().unwrap());
}

#[test]
/// A reservation the admin API stored is given to its client (address and
/// prefix), and the pools skip it for everyone else.
fn reservation_in_the_store_is_honoured_and_kept_from_others() {
    let t = setup("rapid_commit = true");
    let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    let r = headend_store::Reservation6 {
        subnet: "direct".into(),
        key: headend_store::Reservation6Key::Duid(duid(7)),
        address: Some(a("2001:db8:1::10")),
        prefix: Some((a("2001:db8:100::"), 56)),
        created: 0,
    };
    assert!(t.store.auth().reservation6_put(&r).unwrap());
    let commit = |n: u8| {
        let mut m = message(
            msg::SOLICIT,
            &duid(n),
            false,
            &[ia(IaKind::Na, vec![]), ia(IaKind::Pd, vec![])],
        );
        m.options.push(opt::RAPID_COMMIT, vec![]);
        let (_, m) = reply(t.send(m));
        wire::ias(&m.options)
            .unwrap()
            .iter()
            .map(|i| i.entries.first().map(|e| (e.address, e.prefix_len)))
            .collect::<Vec<_>>()
    };
    // Another client first: the reserved address and prefix are skipped.
    assert_eq!(
        commit(1),
        vec![
            Some((a("2001:db8:1::11"), 128)),
            Some((a("2001:db8:100:100::"), 56))
        ]
    );
    assert_eq!(
        commit(7),
        vec![
            Some((a("2001:db8:1::10"), 128)),
            Some((a("2001:db8:100::"), 56))
        ]
    );
}

#[test]
/// The operator's release ends a live binding as a client's RELEASE
/// would, keeps a declined one quarantined and tells an unknown one apart.
fn operator_release_follows_the_release_rules() {
    use crate::Release6;
    let t = setup("rapid_commit = true");
    let mut m = message(msg::SOLICIT, &duid(1), false, &[ia(IaKind::Na, vec![])]);
    m.options.push(opt::RAPID_COMMIT, vec![]);
    let (_, m) = reply(t.send(m));
    let bound = wire::ias(&m.options).unwrap()[0].entries[0].address;
    let release = |address: Ipv6Addr| {
        let mut tx = t.store.begin().unwrap();
        let r = crate::release_binding6(&mut *tx, address, t.now).unwrap();
        tx.commit().unwrap();
        r
    };
    match release(bound) {
        Release6::Ended { lease, was } => {
            assert_eq!(was, LeaseState::Bound);
            assert_eq!(lease.state, LeaseState::Released);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(release(bound), Release6::AlreadyFree(_)));
    assert_eq!(
        release("2001:db8:1::55".parse().unwrap()),
        Release6::Unknown
    );
    let mut tx = t.store.begin().unwrap();
    let mut l = tx.lease6_at(bound).unwrap().unwrap();
    l.state = LeaseState::Declined;
    l.expires = 1_800_000_000 + 600;
    tx.lease6_put(&l).unwrap();
    tx.commit().unwrap();
    assert!(matches!(release(bound), Release6::Quarantined(_)));
}

#[test]
/// RFC 4649 remote-id and RFC 8415 interface-id caps: a new client behind
/// a full relay id is not answered; one that holds a binding still is;
/// another id is not affected.
fn relay_caps_stop_new_clients_behind_a_full_remote_id_or_interface_id() {
    let config: Dhcp6Config = toml::from_str(
        r#"
[[subnet]]
name = "relayed"
prefix = "2001:db8:2::/64"
pools = ["2001:db8:2::10-2001:db8:2::20"]
max_clients_per_remote_id = 2
max_clients_per_interface_id = 3
"#,
    )
    .unwrap();
    let mut t = setup("");
    t.server = Server::from_config(&config, SERVER_DUID.to_vec()).unwrap();
    let behind = |rid: &[u8], iid: &[u8], n: u8| {
        let mut o = Options::default();
        let mut r = 4491u32.to_be_bytes().to_vec();
        r.extend_from_slice(rid);
        o.push(opt::REMOTE_ID, r);
        o.push(opt::INTERFACE_ID, iid.to_vec());
        t.send_req(relayed(o, &[0, 2, 0, 0, 0x11, 0x8b, n]), &relay_ingress())
    };
    assert!(matches!(behind(b"cm-1", b"port1", 1), Outcome::Reply(_)));
    assert!(matches!(behind(b"cm-1", b"port1", 2), Outcome::Reply(_)));
    assert!(
        matches!(
            behind(b"cm-1", b"port1", 3),
            Outcome::Silent(Silence::RelayCap)
        ),
        "a third client behind cm-1"
    );
    assert!(
        matches!(behind(b"cm-1", b"port1", 1), Outcome::Reply(_)),
        "a client holding a binding is never capped"
    );
    assert!(matches!(behind(b"cm-2", b"port1", 4), Outcome::Reply(_)));
    assert!(
        matches!(
            behind(b"cm-3", b"port1", 5),
            Outcome::Silent(Silence::RelayCap)
        ),
        "a fourth client behind port1"
    );
}

#[test]
fn client_fqdn_is_answered_with_the_qualified_name_and_o_when_overridden() {
    let t = setup(r#"ddns = { forward_zone = "cpe.example." }"#);
    let mut m = message(msg::REQUEST, &duid(1), true, &[ia(IaKind::Na, vec![])]);
    // S = 0 (the client would update its AAAA itself), partial name.
    m.options.push(opt::CLIENT_FQDN, b"\x00\x06Laptop".to_vec());
    let (_, got) = reply(t.send(m.clone()));
    let fqdn = got.options.get(opt::CLIENT_FQDN).expect("option 39");
    let f = crate::ddns::parse_client_fqdn(fqdn).expect("parses");
    assert_eq!(f.flags, crate::ddns::flag::S | crate::ddns::flag::O);
    assert_eq!(f.labels, ["laptop", "cpe", "example"]);
    assert!(f.qualified);
    // Without [dhcp6.ddns], or without the client's option, none.
    let (_, got) = reply(setup("").send(m));
    assert!(!got.options.has(opt::CLIENT_FQDN));
    let plain = message(msg::REQUEST, &duid(2), true, &[ia(IaKind::Na, vec![])]);
    let (_, got) = reply(t.send(plain));
    assert!(!got.options.has(opt::CLIENT_FQDN));
}

#[test]
fn malformed_client_fqdn_is_ignored_and_the_binding_still_granted() {
    let t = setup(r#"ddns = { forward_zone = "cpe.example." }"#);
    let mut m = message(msg::REQUEST, &duid(1), true, &[ia(IaKind::Na, vec![])]);
    m.options.push(opt::CLIENT_FQDN, vec![0x00, 0x3f, b'a']);
    let (r, got) = reply(t.send(m));
    assert_eq!(r.granted.len(), 1);
    assert!(!got.options.has(opt::CLIENT_FQDN));
}

#[test]
fn allocation_cursor_follows_claims_by_others_and_forgets_a_rolled_back_batch() {
    let t = setup("");
    let solicit = |n: u8| relayed(Options::default(), &duid(n));
    let a1 = inner_address(t.send_req(solicit(1), &relay_ingress()));
    // Another server of a shared store takes the next address: the claim
    // at the cursor fails and the one after it is given.
    let next = Ipv6Addr::from(u128::from(a1) + 1);
    {
        let mut tx = t.store.begin().expect("tx");
        let other = Lease6 {
            address: next,
            prefix_len: 128,
            kind: Lease6Kind::Address,
            subnet: "relayed".into(),
            duid: duid(99),
            iaid: 1,
            hwaddr: None,
            state: LeaseState::Bound,
            preferred: 1_900_000_000,
            expires: 1_900_000_000,
            class: None,
            remote_id: None,
            interface_id: None,
        };
        assert!(tx.lease6_claim(&other).expect("claim"));
        tx.commit().expect("commit");
    }
    let a2 = inner_address(t.send_req(solicit(2), &relay_ingress()));
    assert_eq!(u128::from(a2), u128::from(a1) + 2);
    // A batch rolled back: its claim never happened, and once the worker
    // forgets the cursors the same address goes to the next client.
    {
        let mut tx = t.store.begin().expect("tx");
        let out = t
            .server
            .handle(&solicit(3), &relay_ingress(), &mut *tx, t.now)
            .expect("handle");
        assert_eq!(u128::from(inner_address(out)), u128::from(a2) + 1);
        drop(tx);
    }
    t.server.forget_cursors();
    let a4 = inner_address(t.send_req(solicit(4), &relay_ingress()));
    assert_eq!(u128::from(a4), u128::from(a2) + 1);
}
