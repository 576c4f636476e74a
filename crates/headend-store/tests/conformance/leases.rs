//! Leases: what a transaction sees and keeps, the pool queries of the DHCP
//! core, readers beside the writer, and two servers on one database.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use headend_store::auth::Reservation;
use headend_store::{Lease, LeaseState, Store, StoreError};

use super::Database;

/// A lease of `addr` in subnet `lan` for `client` (also its hardware
/// address), relayed on circuit `eth0`.
pub(crate) fn lease(addr: [u8; 4], client: &[u8], state: LeaseState, expires: u64) -> Lease {
    Lease {
        address: Ipv4Addr::from(addr),
        subnet: "lan".into(),
        client_key: client.to_vec(),
        hwaddr: client.to_vec(),
        client_id: None,
        hostname: Some("host".into()),
        state,
        expires,
        circuit_id: Some(b"eth0".to_vec()),
        remote_id: None,
        class: Some("docsis".into()),
        server: Some(Ipv4Addr::new(10, 0, 0, 1)),
    }
}

/// Claims `lease`'s address in a transaction of its own and commits it;
/// true if the address was free.
pub(crate) fn claim_and_commit(store: &Store, lease: &Lease) -> bool {
    let mut tx = store.begin().unwrap();
    let claimed = tx.claim(lease).unwrap();
    tx.commit().unwrap();
    claimed
}

/// Asserts that a new transaction (so a working write connection) finds no
/// row at `address`.
pub(crate) fn assert_no_row_in_a_new_transaction(store: &Store, address: Ipv4Addr) {
    let mut tx = store.begin().unwrap();
    assert!(tx.lease_by_address(address).unwrap().is_none(), "{address}");
    tx.commit().unwrap();
}

pub(crate) fn committed_lease_survives_reopen(db: &dyn Database) {
    let store = db.open();
    assert!(claim_and_commit(
        &store,
        &lease([10, 0, 0, 5], b"a", LeaseState::Bound, 100)
    ));
    drop(store);
    let store = db.open();
    let reader = db.open_existing();
    assert_eq!(
        store.leases().unwrap(),
        vec![lease([10, 0, 0, 5], b"a", LeaseState::Bound, 100)]
    );
    assert_eq!(reader.leases().unwrap(), store.leases().unwrap());
}

pub(crate) fn lease_class_is_stored_and_rewritten(db: &dyn Database) {
    let store = db.open();
    let mut l = lease([10, 0, 0, 7], b"c", LeaseState::Offered, 100);
    assert!(claim_and_commit(&store, &l));
    assert_eq!(store.leases().unwrap()[0].class.as_deref(), Some("docsis"));
    // A renewal after a reload that moved the client to another class
    // (or to none) rewrites it.
    for class in [Some("customer"), None] {
        l.class = class.map(str::to_owned);
        l.state = LeaseState::Bound;
        let mut tx = store.begin().unwrap();
        tx.put(&l).unwrap();
        tx.commit().unwrap();
        assert_eq!(store.lease_at(l.address).unwrap().unwrap().class, l.class);
    }
}

pub(crate) fn unsynced_commit_is_seen_by_the_next_transaction_and_kept_after_sync(
    db: &dyn Database,
) {
    let store = db.open();
    let mut tx = store.begin_unsynced().unwrap();
    assert!(
        tx.claim(&lease([10, 0, 0, 6], b"b", LeaseState::Offered, 50))
            .unwrap()
    );
    tx.commit().unwrap();
    // The next batch runs before the previous one is flushed.
    let mut tx = store.begin_unsynced().unwrap();
    assert!(
        !tx.claim(&lease([10, 0, 0, 6], b"c", LeaseState::Offered, 50))
            .unwrap()
    );
    tx.put(&lease([10, 0, 0, 6], b"b", LeaseState::Bound, 100))
        .unwrap();
    tx.commit().unwrap();
    store.sync().unwrap();
    drop(store);
    assert_eq!(
        db.open().leases().unwrap(),
        vec![lease([10, 0, 0, 6], b"b", LeaseState::Bound, 100)]
    );
}

pub(crate) fn dropped_transaction_rolls_back(db: &dyn Database) {
    let store = db.open();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 5], b"a", LeaseState::Bound, 100))
        .unwrap();
    drop(tx);
    assert!(store.leases().unwrap().is_empty());
    // The connection is usable again right away.
    assert_no_row_in_a_new_transaction(&store, Ipv4Addr::new(10, 0, 0, 5));
}

pub(crate) fn claim_refuses_an_address_that_has_a_row(db: &dyn Database) {
    let store = db.open();
    let mut tx = store.begin().unwrap();
    assert!(
        tx.claim(&lease([10, 0, 0, 5], b"a", LeaseState::Offered, 100))
            .unwrap()
    );
    assert!(
        !tx.claim(&lease([10, 0, 0, 5], b"b", LeaseState::Offered, 100))
            .unwrap()
    );
    tx.commit().unwrap();
    assert_eq!(store.leases().unwrap()[0].client_key, b"a");
}

pub(crate) fn pool_queries_find_highest_gap_and_oldest_expired(db: &dyn Database) {
    let store = db.open();
    let mut tx = store.begin().unwrap();
    let (first, end) = (Ipv4Addr::new(10, 0, 0, 10), Ipv4Addr::new(10, 0, 0, 20));
    assert_eq!(tx.highest_claimed(first, end).unwrap(), None);
    assert_eq!(tx.lowest_unclaimed(first, end).unwrap(), Some(first));
    for (last, exp) in [(10u8, 50u64), (11, 20), (13, 30)] {
        tx.put(&lease([10, 0, 0, last], &[last], LeaseState::Bound, exp))
            .unwrap();
    }
    assert_eq!(
        tx.highest_claimed(first, end).unwrap(),
        Some(Ipv4Addr::new(10, 0, 0, 13))
    );
    assert_eq!(
        tx.lowest_unclaimed(first, end).unwrap(),
        Some(Ipv4Addr::new(10, 0, 0, 12))
    );
    assert_eq!(
        tx.lowest_unclaimed(Ipv4Addr::new(10, 0, 0, 9), end)
            .unwrap(),
        Some(Ipv4Addr::new(10, 0, 0, 9))
    );
    // A full range and an empty (reversed) range have no gap.
    assert_eq!(
        tx.lowest_unclaimed(first, Ipv4Addr::new(10, 0, 0, 11))
            .unwrap(),
        None
    );
    assert_eq!(tx.lowest_unclaimed(end, first).unwrap(), None);
    assert!(tx.oldest_expired(first, end, 19).unwrap().is_none());
    let old = tx.oldest_expired(first, end, 40).unwrap().unwrap();
    assert_eq!(old.address, Ipv4Addr::new(10, 0, 0, 11));
    // The top of the address space round-trips.
    let top = Ipv4Addr::new(255, 255, 255, 255);
    tx.put(&lease(top.octets(), b"t", LeaseState::Bound, 1))
        .unwrap();
    assert_eq!(tx.highest_claimed(top, top).unwrap(), Some(top));
    assert_eq!(tx.lease_by_address(top).unwrap().unwrap().address, top);
    tx.commit().unwrap();
}

pub(crate) fn client_lookup_skips_declined_and_counts_exclude_the_client(db: &dyn Database) {
    let store = db.open();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 1], b"a", LeaseState::Declined, 100))
        .unwrap();
    assert!(tx.lease_by_client("lan", b"a").unwrap().is_none());
    tx.put(&lease([10, 0, 0, 2], b"a", LeaseState::Bound, 100))
        .unwrap();
    tx.put(&lease([10, 0, 0, 3], b"b", LeaseState::Offered, 100))
        .unwrap();
    tx.put(&lease([10, 0, 0, 4], b"c", LeaseState::Bound, 10))
        .unwrap();
    let mut released = lease([10, 0, 0, 5], b"d", LeaseState::Released, 100);
    released.remote_id = Some(b"modem".to_vec());
    tx.put(&released).unwrap();
    let mut remote = lease([10, 0, 0, 6], b"e", LeaseState::Bound, 100);
    remote.remote_id = Some(b"modem".to_vec());
    tx.put(&remote).unwrap();
    assert_eq!(
        tx.lease_by_client("lan", b"a").unwrap().unwrap().address,
        Ipv4Addr::new(10, 0, 0, 2)
    );
    assert!(tx.lease_by_client("other", b"a").unwrap().is_none());
    assert_eq!(
        tx.count_live_by_circuit("lan", b"eth0", b"a", 50).unwrap(),
        2
    );
    assert_eq!(
        tx.count_live_by_circuit("lan", b"eth0", b"z", 50).unwrap(),
        3
    );
    assert_eq!(
        tx.count_live_by_circuit("other", b"eth0", b"z", 50)
            .unwrap(),
        0
    );
    // Released leases are not live; the client's own lease does not count.
    assert_eq!(
        tx.count_live_by_remote("lan", b"modem", b"z", 50).unwrap(),
        1
    );
    assert_eq!(
        tx.count_live_by_remote("lan", b"modem", b"e", 50).unwrap(),
        0
    );
    tx.commit().unwrap();
}

pub(crate) fn put_replaces_another_clients_row_and_reads_outside_the_transaction(
    db: &dyn Database,
) {
    let store = db.open();
    let mut tx = store.begin().unwrap();
    let mut a = lease([10, 0, 0, 7], b"a", LeaseState::Bound, 10);
    a.client_id = Some(b"\x01id".to_vec());
    a.remote_id = Some(b"r".to_vec());
    tx.put(&a).unwrap();
    tx.put(&lease([10, 0, 0, 8], b"a", LeaseState::Released, 30))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(store.lease_at(Ipv4Addr::new(10, 0, 0, 7)).unwrap(), Some(a));
    let mine = store.leases_of_hwaddr(b"a").unwrap();
    assert_eq!(
        mine.iter().map(|l| l.expires).collect::<Vec<_>>(),
        [30, 10],
        "newest expiry first"
    );
    let mut tx = store.begin().unwrap();
    let b = lease([10, 0, 0, 7], b"b", LeaseState::Offered, 60);
    tx.put(&b).unwrap();
    tx.commit().unwrap();
    assert_eq!(store.lease_at(Ipv4Addr::new(10, 0, 0, 7)).unwrap(), Some(b));
    assert!(
        store
            .lease_at(Ipv4Addr::new(10, 0, 0, 9))
            .unwrap()
            .is_none()
    );
    assert_eq!(store.leases_of_hwaddr(b"a").unwrap().len(), 1);
    assert_eq!(store.leases().unwrap().len(), 2);
}

pub(crate) fn reader_sees_committed_rows_while_writer_is_open(db: &dyn Database) {
    let store = db.open();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 1], b"a", LeaseState::Bound, 100))
        .unwrap();
    tx.commit().unwrap();
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 2], b"b", LeaseState::Bound, 100))
        .unwrap();
    let reader = db.open_existing();
    assert_eq!(reader.leases().unwrap().len(), 1);
    tx.commit().unwrap();
    assert_eq!(reader.leases().unwrap().len(), 2);
}

pub(crate) fn api_reservations_are_seen_inside_lease_transactions(db: &dyn Database) {
    let store = db.open();
    let r = Reservation {
        subnet: "lan".into(),
        hwaddr: "aa:bb:cc:dd:ee:0f".into(),
        address: Ipv4Addr::new(10, 0, 0, 50),
        hostname: Some("printer".into()),
        created: 1,
    };
    assert!(store.auth().reservation_put(&r).unwrap());
    let mut tx = store.begin().unwrap();
    assert_eq!(
        tx.api_reservation("lan", &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f])
            .unwrap(),
        Some((Ipv4Addr::new(10, 0, 0, 50), Some("printer".into())))
    );
    assert!(
        tx.api_reservation("wan", &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f])
            .unwrap()
            .is_none()
    );
    assert!(tx.api_reserved("lan", Ipv4Addr::new(10, 0, 0, 50)).unwrap());
    assert!(!tx.api_reserved("lan", Ipv4Addr::new(10, 0, 0, 51)).unwrap());
    tx.commit().unwrap();
}

/// Two servers on one database claim one address at once: never do both
/// hold it. Either the second waits for the first's transaction and then
/// sees its row (or, on PostgreSQL, is told to retry), or, where writes are
/// held until the commit (PostgreSQL), the second commits first and the
/// first's commit fails with a conflict.
pub(crate) fn claim_of_one_address_by_two_servers_lets_one_win(db: &dyn Database) {
    let (one, two) = (db.open(), db.open());
    let mut tx1 = one.begin().unwrap();
    assert!(
        tx1.claim(&lease([10, 0, 0, 5], b"a", LeaseState::Offered, 100))
            .unwrap()
    );
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let other = std::thread::spawn(move || {
        tid_tx.send(super::thread_id()).unwrap();
        let mut tx2 = two.begin()?;
        let claimed = tx2.claim(&lease([10, 0, 0, 5], b"b", LeaseState::Offered, 100))?;
        tx2.commit()?;
        Ok::<_, StoreError>(claimed)
    });
    // The second server's attempt either waits for the first's transaction
    // or ends before that one commits.
    let tid = tid_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !db.is_blocked(tid) && !other.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the second server neither waited for the first nor finished"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let first = tx1.commit();
    let second = other.join().unwrap();
    let winner: &[u8] = match (first, second) {
        (Ok(()), Ok(false) | Err(StoreError::Conflict { .. })) => b"a",
        (Err(StoreError::Conflict { .. }), Ok(true)) => b"b",
        (first, second) => panic!("both or neither kept 10.0.0.5: {first:?} / {second:?}"),
    };
    let leases = one.leases().unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].client_key, winner);
}

pub(crate) fn heartbeats_are_aged_by_the_stores_clock_and_rows_name_their_server(
    db: &dyn Database,
) {
    let (one, two) = (db.open(), db.open());
    assert_eq!(one.heartbeat("a").unwrap().len(), 1);
    std::thread::sleep(Duration::from_millis(300));
    let ages = two.heartbeat("b").unwrap();
    let names: Vec<&str> = ages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b"], "every server's row, by name");
    assert!(
        (250..5_000).contains(&ages[0].1),
        "a's heartbeat is about 300 ms old: {ages:?}"
    );
    assert!(ages[1].1 < 250, "b's is fresh: {ages:?}");
    // The writing server's id is kept with the row.
    let mut row = lease([10, 0, 0, 7], b"c", LeaseState::Offered, 4_000_000_000);
    row.server = Some(Ipv4Addr::new(192, 0, 2, 2));
    assert!(claim_and_commit(&one, &row));
    assert_eq!(two.lease_at(row.address).unwrap(), Some(row.clone()));
    row.server = None;
    let mut tx = two.begin().unwrap();
    tx.put(&row).unwrap();
    tx.commit().unwrap();
    assert_eq!(one.lease_at(row.address).unwrap().unwrap().server, None);
}

/// The console's lease search: each filter field, paging and the total agree
/// with the reference filter over every row; counts by subnet and state.
pub(crate) fn lease_search_pages_and_counts_agree_with_the_reference(db: &dyn Database) {
    use headend_store::{LeaseFilter, counts_of, page_of};
    let store = db.open();
    let mut all = Vec::new();
    for i in 1..=30u8 {
        let mut l = lease(
            [10, 0, 0, i],
            &[2, 0, 0, 0, 0, i],
            if i % 3 == 0 {
                LeaseState::Released
            } else {
                LeaseState::Bound
            },
            if i % 2 == 0 { 2_000 } else { 500 },
        );
        l.hostname = (i % 5 != 0).then(|| format!("Modem_{i}%"));
        l.circuit_id = Some(format!("cmts1:{}", i % 4).into_bytes());
        if i > 20 {
            l.subnet = "wan".into();
        }
        assert!(claim_and_commit(&store, &l));
        all.push(l);
    }
    let filters = [
        LeaseFilter::default(),
        LeaseFilter {
            address: Some(Ipv4Addr::new(10, 0, 0, 7)),
            ..Default::default()
        },
        LeaseFilter {
            hwaddr: Some(vec![2, 0, 0, 0, 0, 9]),
            ..Default::default()
        },
        LeaseFilter {
            hostname: Some("modem_1".into()),
            ..Default::default()
        },
        // `%` and `_` are literal characters, not wildcards.
        LeaseFilter {
            hostname: Some("_2%".into()),
            ..Default::default()
        },
        LeaseFilter {
            hostname: Some("x%".into()),
            ..Default::default()
        },
        LeaseFilter {
            circuit_id: Some(b"cmts1:2".to_vec()),
            state: Some(LeaseState::Bound),
            ..Default::default()
        },
        LeaseFilter {
            subnet: Some("wan".into()),
            state: Some(LeaseState::Released),
            ..Default::default()
        },
    ];
    for f in &filters {
        for (offset, limit) in [(0, 100), (0, 4), (3, 4), (28, 10), (40, 5)] {
            let got = store.lease_page(f, offset, limit).unwrap();
            let want = page_of(all.clone(), f, offset, limit);
            assert_eq!(got, want, "{f:?} offset {offset} limit {limit}");
        }
    }
    assert_eq!(
        store
            .lease_page(&filters[4], 0, 10)
            .unwrap()
            .leases
            .iter()
            .map(|l| l.address.octets()[3])
            .collect::<Vec<_>>(),
        vec![2]
    );
    assert_eq!(store.lease_counts(1_000).unwrap(), counts_of(&all, 1_000));
}

/// DHCPv6 bindings (migration 9): addresses and delegated prefixes keyed by
/// their 16 bytes, which sort as numbers (the pool scan), claimed once,
/// found by client (DUID, IAID, kind) and by expiry, kept across a reopen.
pub(crate) fn dhcp6_bindings_claim_scan_and_survive_reopen(db: &dyn Database) {
    use headend_store::{Lease6, Lease6Kind};
    use std::net::Ipv6Addr;
    let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    let binding = |addr: &str, len: u8, kind, duid: &[u8], expires| Lease6 {
        address: a(addr),
        prefix_len: len,
        kind,
        subnet: "lan6".into(),
        duid: duid.to_vec(),
        iaid: 7,
        hwaddr: Some(vec![2, 0, 0, 0, 0, 1]),
        state: LeaseState::Bound,
        preferred: expires,
        expires,
        class: Some("docsis".into()),
        remote_id: None,
        interface_id: Some(b"cmts".to_vec()),
    };
    let store = db.open();
    let mut tx = store.begin().unwrap();
    assert_eq!(
        tx.lease6_highest(a("2001:db8::"), a("2001:db8::ffff"))
            .unwrap(),
        None
    );
    let na = binding("2001:db8::ff", 128, Lease6Kind::Address, b"d1", 1000);
    assert!(tx.lease6_claim(&na).unwrap());
    assert!(
        !tx.lease6_claim(&binding(
            "2001:db8::ff",
            128,
            Lease6Kind::Address,
            b"d2",
            1000
        ))
        .unwrap()
    );
    // 0x100 sorts above 0xff: bytes compare as the number.
    assert!(
        tx.lease6_claim(&binding(
            "2001:db8::100",
            128,
            Lease6Kind::Address,
            b"d2",
            10
        ))
        .unwrap()
    );
    let pd = binding("2001:db8:100::", 56, Lease6Kind::Prefix, b"d1", 2000);
    assert!(tx.lease6_claim(&pd).unwrap());
    assert_eq!(
        tx.lease6_highest(a("2001:db8::"), a("2001:db8::ffff"))
            .unwrap(),
        Some(a("2001:db8::100"))
    );
    assert_eq!(
        tx.lease6_by_client("lan6", Lease6Kind::Prefix, b"d1", 7)
            .unwrap()
            .as_ref(),
        Some(&pd)
    );
    assert_eq!(
        tx.lease6_by_client("lan6", Lease6Kind::Address, b"d1", 8)
            .unwrap(),
        None
    );
    // The per-IA lookups of one client at once answer as one by one.
    let keys = [
        (Lease6Kind::Prefix, 7),
        (Lease6Kind::Address, 8),
        (Lease6Kind::Address, 7),
    ];
    let one_by_one: Vec<_> = keys
        .iter()
        .map(|&(k, i)| tx.lease6_by_client("lan6", k, b"d1", i).unwrap())
        .collect();
    assert_eq!(one_by_one[0].as_ref(), Some(&pd));
    assert_eq!(
        tx.lease6_by_client_ias("lan6", b"d1", &keys).unwrap(),
        one_by_one
    );
    let old = tx
        .lease6_oldest_expired(a("2001:db8::"), a("2001:db8::ffff"), 500)
        .unwrap()
        .expect("expired");
    assert_eq!(old.address, a("2001:db8::100"));
    let mut released = na;
    released.state = LeaseState::Released;
    tx.lease6_put(&released).unwrap();
    tx.commit().unwrap();
    drop(store);
    let all = db.open_existing().leases6().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], released);
    assert_eq!(all[2], pd);
}

/// DHCPv6 reservations of the admin API: one address or prefix belongs to
/// one client; the DHCPv6 core finds them by DUID, then MAC, then
/// remote-id, inside its lease transaction; they are listed and removed.
pub(crate) fn dhcp6_api_reservations_are_unique_and_seen_inside_lease_transactions(
    db: &dyn Database,
) {
    use headend_store::{Reservation6, Reservation6Key};
    use std::net::Ipv6Addr;
    let store = db.open();
    let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    let by_duid = Reservation6 {
        subnet: "v6".into(),
        key: Reservation6Key::Duid(vec![0, 3, 0, 1, 2, 0, 0, 0, 0, 1]),
        address: Some(a("2001:db8:1::10")),
        prefix: Some((a("2001:db8:200::"), 56)),
        created: 1,
    };
    let by_mac = Reservation6 {
        subnet: "v6".into(),
        key: Reservation6Key::Hwaddr(vec![2, 0, 0, 0, 0, 2]),
        address: Some(a("2001:db8:1::11")),
        prefix: None,
        created: 1,
    };
    assert!(store.auth().reservation6_put(&by_duid).unwrap());
    assert!(store.auth().reservation6_put(&by_mac).unwrap());
    let thief = Reservation6 {
        key: Reservation6Key::RemoteId(b"cm-9".to_vec()),
        address: None,
        ..by_duid.clone()
    };
    assert!(
        !store.auth().reservation6_put(&thief).unwrap(),
        "the prefix is another client's"
    );
    // The same client may change its own.
    let moved = Reservation6 {
        address: Some(a("2001:db8:1::12")),
        ..by_duid
    };
    assert!(store.auth().reservation6_put(&moved).unwrap());
    assert_eq!(
        store.auth().reservations6().unwrap(),
        vec![moved.clone(), by_mac.clone()]
    );
    let mut tx = store.begin().unwrap();
    assert_eq!(
        tx.api_reservation6(
            "v6",
            &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1],
            Some(&[2, 0, 0, 0, 0, 2]),
            None
        )
        .unwrap(),
        Some(moved.clone()),
        "the DUID wins over the MAC"
    );
    assert_eq!(
        tx.api_reservation6("v6", &[9, 9], Some(&[2, 0, 0, 0, 0, 2]), None)
            .unwrap(),
        Some(by_mac.clone())
    );
    assert!(
        tx.api_reservation6("other", &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1], None, None)
            .unwrap()
            .is_none()
    );
    assert!(tx.api_reserved6("v6", a("2001:db8:1::12"), 128).unwrap());
    assert!(tx.api_reserved6("v6", a("2001:db8:200::"), 56).unwrap());
    assert!(!tx.api_reserved6("v6", a("2001:db8:200::"), 64).unwrap());
    assert!(!tx.api_reserved6("v6", a("2001:db8:1::10"), 128).unwrap());
    tx.commit().unwrap();
    assert!(store.auth().reservation6_delete("v6", &by_mac.key).unwrap());
    assert!(!store.auth().reservation6_delete("v6", &by_mac.key).unwrap());
    assert_eq!(store.auth().reservations6().unwrap(), vec![moved]);
}

/// Lookups inside a transaction answer alike whether or not its requests'
/// rows were fetched ahead (`prefetch`), and see the transaction's own
/// writes before they reach the database: the newest row of a client, a
/// row taken over by another client, a claim above the highest row, and
/// the pool scans after them. Then the writes commit as written.
pub(crate) fn lookups_answer_alike_with_prefetch_and_see_held_writes(db: &dyn Database) {
    let store = db.open();
    let at = |last: u8| Ipv4Addr::new(10, 0, 0, last);
    let mut tx = store.begin().unwrap();
    tx.put(&lease([10, 0, 0, 10], b"a", LeaseState::Bound, 500))
        .unwrap();
    tx.put(&lease([10, 0, 0, 11], b"a", LeaseState::Released, 900))
        .unwrap();
    tx.put(&lease([10, 0, 0, 12], b"b", LeaseState::Bound, 500))
        .unwrap();
    tx.put(&lease([10, 0, 0, 20], b"c", LeaseState::Declined, 500))
        .unwrap();
    tx.commit().unwrap();
    for (prefetch, commit) in [(false, false), (true, false), (true, true)] {
        let mut tx = store.begin().unwrap();
        if prefetch {
            let keys = [b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"z".to_vec()];
            tx.prefetch(&keys, &[at(10), at(30)]).unwrap();
            // Twice: a second hint for the same clients changes nothing.
            tx.prefetch(&keys[..2], &[at(12)]).unwrap();
        }
        let newest = tx.lease_by_client("lan", b"a").unwrap().unwrap();
        assert_eq!((newest.address, prefetch), (at(11), prefetch));
        assert_eq!(
            tx.lease_by_address(at(12)).unwrap().unwrap().client_key,
            b"b"
        );
        assert_eq!(tx.lease_by_address(at(30)).unwrap(), None);
        assert_eq!(tx.lease_by_client("lan", b"c").unwrap(), None, "declined");
        assert_eq!(tx.lease_by_client("lan", b"z").unwrap(), None);
        assert_eq!(tx.highest_claimed(at(0), at(255)).unwrap(), Some(at(20)));
        assert_eq!(tx.lease_by_address(at(21)).unwrap(), None);
        assert!(
            tx.claim(&lease([10, 0, 0, 21], b"z", LeaseState::Offered, 700))
                .unwrap()
        );
        assert!(
            !tx.claim(&lease([10, 0, 0, 21], b"y", LeaseState::Offered, 700))
                .unwrap()
        );
        assert_eq!(tx.highest_claimed(at(0), at(255)).unwrap(), Some(at(21)));
        assert_eq!(
            tx.lease_by_client("lan", b"z").unwrap().unwrap().address,
            at(21)
        );
        // Client b takes over a's newest row: a's next one answers for a,
        // and b's newest is now that row.
        tx.put(&lease([10, 0, 0, 11], b"b", LeaseState::Offered, 1000))
            .unwrap();
        assert_eq!(
            tx.lease_by_client("lan", b"a").unwrap().unwrap().address,
            at(10)
        );
        assert_eq!(
            tx.lease_by_client("lan", b"b").unwrap().unwrap().address,
            at(11)
        );
        assert_eq!(tx.lease_by_client("wan", b"a").unwrap(), None);
        // The scans the database answers see the held writes.
        assert_eq!(tx.lowest_unclaimed(at(10), at(30)).unwrap(), Some(at(13)));
        assert_eq!(tx.lowest_unclaimed(at(20), at(30)).unwrap(), Some(at(22)));
        let old = tx.oldest_expired(at(10), at(30), 950).unwrap().unwrap();
        assert_eq!(old.address, at(10));
        // Writes after a scan are held again, and seen.
        tx.put(&lease([10, 0, 0, 10], b"d", LeaseState::Offered, 800))
            .unwrap();
        assert_eq!(
            tx.lease_by_address(at(10)).unwrap().unwrap().client_key,
            b"d"
        );
        assert_eq!(tx.lease_by_client("lan", b"a").unwrap(), None);
        if commit {
            tx.commit().unwrap();
        }
    }
    let rows: Vec<(Ipv4Addr, Vec<u8>, LeaseState)> = store
        .leases()
        .unwrap()
        .into_iter()
        .map(|l| (l.address, l.client_key, l.state))
        .collect();
    assert_eq!(
        rows,
        vec![
            (at(10), b"d".to_vec(), LeaseState::Offered),
            (at(11), b"b".to_vec(), LeaseState::Offered),
            (at(12), b"b".to_vec(), LeaseState::Bound),
            (at(20), b"c".to_vec(), LeaseState::Declined),
            (at(21), b"z".to_vec(), LeaseState::Offered),
        ]
    );
}
