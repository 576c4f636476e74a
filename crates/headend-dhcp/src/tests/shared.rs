//! Two servers deciding on one store (`[dhcp.ha]`): whose offer a REQUEST
//! for another server ends, who answers in load-balancing, and where each
//! server draws never-used addresses from.

use super::*;
use crate::core::Silence as S;

/// Server `me` of `["a", "b"]` in `mode`, with its own server id (a:
/// 10.0.0.1, b: 10.0.0.2), on `store`'s shared pools.
fn server(me: &str, mode: &str) -> Server {
    let id = if me == "a" { "10.0.0.1" } else { "10.0.0.2" };
    let text = CONFIG.replace("server_id = \"10.0.0.1\"", &format!("server_id = \"{id}\""))
        + &format!("\n[ha]\nmode = \"{mode}\"\nthis_server = \"{me}\"\nservers = [\"a\", \"b\"]\n");
    let config: DhcpConfig = toml::from_str(&text).unwrap();
    Server::new(&config).unwrap()
}

fn request(mac: u8, server_id: [u8; 4], address: Ipv4Addr) -> Pkt {
    pkt(3, mac).opt(54, &server_id).opt(50, &address.octets())
}

#[test]
fn request_for_another_server_keeps_that_servers_offer() {
    let (_d, store, _) = setup();
    let (a, b) = (server("a", "shared"), server("b", "shared"));
    // Both servers answer the DISCOVER; b's offer comes second and offers
    // the address a holds for the same client.
    let offer_a = reply(run(&a, &store, &pkt(1, 1), &direct(), t(0)));
    let offer_b = reply(run(&b, &store, &pkt(1, 1), &direct(), t(0)));
    assert_eq!(
        offer_a.yiaddr, offer_b.yiaddr,
        "one address held for the client"
    );
    // The client takes b's offer; a sees the REQUEST first. Before, a freed
    // the client's row (b's offer) and b's ACK was lost.
    let silent = run(
        &a,
        &store,
        &request(1, [10, 0, 0, 2], offer_b.yiaddr),
        &direct(),
        t(1),
    );
    assert!(matches!(silent, Outcome::Silent(S::Done(_))));
    let ack = reply(run(
        &b,
        &store,
        &request(1, [10, 0, 0, 2], offer_b.yiaddr),
        &direct(),
        t(1),
    ));
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack, offer_b.yiaddr));
    let row = store.lease_at(ack.yiaddr).unwrap().unwrap();
    assert_eq!(row.state, LeaseState::Bound);
    assert_eq!(
        row.server,
        Some(Ipv4Addr::new(10, 0, 0, 2)),
        "the row names b"
    );
    // A late copy of the REQUEST at a leaves b's binding alone.
    run(
        &a,
        &store,
        &request(1, [10, 0, 0, 2], ack.yiaddr),
        &direct(),
        t(2),
    );
    assert_eq!(
        store.lease_at(ack.yiaddr).unwrap().unwrap().state,
        LeaseState::Bound
    );
}

#[test]
fn request_for_another_server_ends_this_servers_own_offer() {
    let (_d, store, _) = setup();
    let a = server("a", "shared");
    let offer = reply(run(&a, &store, &pkt(1, 1), &direct(), t(0)));
    run(
        &a,
        &store,
        &request(1, [10, 0, 0, 2], offer.yiaddr),
        &direct(),
        t(1),
    );
    let row = store.lease_at(offer.yiaddr).unwrap().unwrap();
    assert_eq!(row.state, LeaseState::Released, "a's own offer is freed");
}

#[test]
fn request_for_another_server_ends_this_servers_offer_under_the_others_newer_binding() {
    let (_d, store, _) = setup();
    let b = server("b", "shared");
    let offer = reply(run(&b, &store, &pkt(1, 1), &direct(), t(0)));
    // Meanwhile a, deciding at the same time, offered another address and
    // bound it: the client's newest row is a's, not b's offer.
    let mut theirs = store.lease_at(offer.yiaddr).unwrap().unwrap();
    theirs.address = if offer.yiaddr == Ipv4Addr::new(10, 0, 0, 10) {
        Ipv4Addr::new(10, 0, 0, 11)
    } else {
        Ipv4Addr::new(10, 0, 0, 10)
    };
    theirs.state = LeaseState::Bound;
    theirs.server = Some(Ipv4Addr::new(10, 0, 0, 1));
    theirs.expires += 3600;
    {
        let mut tx = store.begin().unwrap();
        tx.put(&theirs).unwrap();
        tx.commit().unwrap();
    }
    // b restarted meanwhile: it finds its offer in the store, not in memory.
    let b = server("b", "shared");
    run(
        &b,
        &store,
        &request(1, [10, 0, 0, 1], theirs.address),
        &direct(),
        t(1),
    );
    assert_eq!(
        store.lease_at(offer.yiaddr).unwrap().unwrap().state,
        LeaseState::Released,
        "b's own offer is freed, not held until it runs out"
    );
    assert_eq!(
        store.lease_at(theirs.address).unwrap().unwrap().state,
        LeaseState::Bound,
        "a's binding stays"
    );
}

#[test]
fn load_balancing_answers_each_client_from_exactly_one_server_until_one_is_down() {
    let (_d, store, _) = setup();
    let (a, b) = (server("a", "load-balancing"), server("b", "load-balancing"));
    a.set_live(vec![true, true]);
    b.set_live(vec![true, true]);
    let scoped = |s: &Server, mac: u8| {
        // INFORM: answered without touching the (small) pool.
        !matches!(
            run(
                s,
                &store,
                &pkt(8, mac).ciaddr([10, 0, 0, 7]),
                &direct(),
                t(0)
            ),
            Outcome::Silent(S::NotInScope)
        )
    };
    let mut of_b = Vec::new();
    for mac in 1..=16u8 {
        let (by_a, by_b) = (scoped(&a, mac), scoped(&b, mac));
        assert!(by_a != by_b, "client {mac}: exactly one server answers");
        if by_b {
            of_b.push(mac);
        }
    }
    assert!(
        !of_b.is_empty() && of_b.len() < 16,
        "16 clients spread over both servers: b has {of_b:?}"
    );
    // b is down (its heartbeat is too old): a answers b's clients too.
    a.set_live(vec![true, false]);
    assert!(of_b.iter().all(|mac| scoped(&a, *mac)));
}

#[test]
fn servers_draw_never_used_addresses_from_their_own_part_of_the_pool() {
    let (_d, store, _) = setup();
    let (a, b) = (server("a", "shared"), server("b", "shared"));
    // The pool 10.0.0.10-12 is cut in two: a starts at .10, b at .11.
    let first_b = reply(run(&b, &store, &pkt(1, 2), &direct(), t(0))).yiaddr;
    let first_a = reply(run(&a, &store, &pkt(1, 1), &direct(), t(0))).yiaddr;
    assert_eq!(first_a, Ipv4Addr::new(10, 0, 0, 10));
    assert_eq!(first_b, Ipv4Addr::new(10, 0, 0, 11));
    // a's part is full: a falls back to the whole pool.
    let next_a = reply(run(&a, &store, &pkt(1, 3), &direct(), t(0))).yiaddr;
    assert_eq!(next_a, Ipv4Addr::new(10, 0, 0, 12));
}
