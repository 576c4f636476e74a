//! The sans-I/O request entry point: one request in, the bytes to send and a
//! [`Verdict`] out.
//!
//! [`respond`] reads a request once ([`Request`]) and decides what it is: a
//! zone transfer (over TCP, answered in many messages), an IXFR over UDP
//! (RFC 1995 §2, the current SOA alone), or anything else, for the answer
//! cache and the full responder. Over UDP it then asks the worker's
//! response rate limiter what to do with the answer. It reads no socket and
//! no clock: the listeners ([`crate::listen`]) pass the request, the peer,
//! the time and the worker's state in, and act on the verdict.

use std::net::IpAddr;
use std::time::Instant;

use crate::answer::{Catalog, Transport};
use crate::fast::AnswerCache;
use crate::request::Request;
use crate::rrl::{ResponseKind, Rrl, RrlAction, truncate_at};
use crate::xfr::Transfers;

/// What the listener does after [`respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send the answer written to `out`.
    Send,
    /// Rate-limited: send `out`, the answer cut to its question with TC=1,
    /// so a real client retries over TCP.
    Slip,
    /// Rate-limited: send nothing.
    Drop,
    /// Nothing to answer (too short for a header, or a response).
    Ignore,
    /// A zone transfer: run [`transfer`] (off the async workers) and send
    /// its messages in order. Only over TCP.
    Transfer,
    /// An RFC 2136 UPDATE: hand it to the update queue, which answers it
    /// once its change is durable.
    Update,
}

/// What every request is answered from: the zones being served and the
/// transfer policies and journals.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Served<'a> {
    /// The catalog in force for this request.
    pub(crate) catalog: &'a Catalog,
    /// Transfer ACLs, TSIG keys and IXFR journals.
    pub(crate) transfers: &'a Transfers,
}

/// The time of a request, read by the listener (once per batch).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    /// For rate limiting.
    pub(crate) instant: Instant,
    /// Unix seconds, for TSIG.
    pub(crate) unix: u64,
}

impl Now {
    /// The clocks now.
    pub(crate) fn read() -> Self {
        Self {
            instant: Instant::now(),
            unix: headend_util::time::unix_now(),
        }
    }
}

/// What one listener (a UDP worker, a TCP connection) keeps between
/// requests; nothing in it is shared, so nothing in it is locked.
#[derive(Debug)]
pub(crate) struct Worker {
    /// Finished answers to plain queries.
    pub(crate) cache: AnswerCache,
    /// This worker's share of response rate limiting (UDP only).
    pub(crate) rrl: Option<Rrl>,
}

/// Answers one request into `out` (cleared first) and says what to do
/// with it.
pub(crate) fn respond(
    served: Served<'_>,
    request: &[u8],
    peer: IpAddr,
    transport: Transport,
    now: Now,
    worker: &mut Worker,
    out: &mut Vec<u8>,
) -> Verdict {
    out.clear();
    let Some(request) = Request::parse(request) else {
        return Verdict::Ignore;
    };
    // RFC 2136: UPDATE changes the zone; it is answered by the service
    // after the change is journaled, not here.
    if crate::update::is_update(request.bytes()) {
        return Verdict::Update;
    }
    if request.is_transfer() {
        match transport {
            // RFC 5936 §2.2: AXFR (and IXFR, RFC 1995 §2) over TCP, in as
            // many messages as the zone needs.
            Transport::Tcp => return Verdict::Transfer,
            // RFC 1995 §2: an IXFR over UDP gets the current SOA, with the
            // transfer ACL and TSIG checks. An AXFR over UDP (RFC 5936
            // §4.2: TCP only) goes on to the responder, which refuses it.
            Transport::Udp if request.is_ixfr_with_soa() => {
                if let Some(reply) =
                    served
                        .transfers
                        .respond_udp(served.catalog, request.bytes(), peer, now.unix)
                {
                    out.extend_from_slice(&reply);
                    return limit(worker.rrl.as_mut(), &request, peer, now, out);
                }
            }
            Transport::Udp => {}
        }
    }
    if !worker
        .cache
        .answer(served.catalog, &request, transport, out)
    {
        return Verdict::Ignore;
    }
    match transport {
        Transport::Udp => limit(worker.rrl.as_mut(), &request, peer, now, out),
        Transport::Tcp => Verdict::Send,
    }
}

/// The messages of a zone transfer ([`Verdict::Transfer`]); CPU work for a
/// large zone, so the TCP listener runs it off its async workers.
pub(crate) fn transfer(served: Served<'_>, request: &[u8], peer: IpAddr, now: Now) -> Vec<Vec<u8>> {
    served
        .transfers
        .respond(served.catalog, request, peer, now.unix)
        .unwrap_or_default()
}

/// Response rate limiting of a UDP answer: `out` is sent, slipped (cut to
/// its question, TC=1) or dropped.
fn limit(
    rrl: Option<&mut Rrl>,
    request: &Request<'_>,
    peer: IpAddr,
    now: Now,
    out: &mut Vec<u8>,
) -> Verdict {
    let Some(rrl) = rrl else {
        return Verdict::Send;
    };
    match rrl.check(peer, ResponseKind::of(out), now.instant) {
        RrlAction::Send => Verdict::Send,
        RrlAction::Slip => {
            // The answer echoes the request's question: it ends where the
            // request's does.
            let end = request.question().map(|q| q.end()).filter(|&end| {
                out.get(4..6) == Some(&[0, 1])
                    && out
                        .get(12..end)
                        .zip(request.bytes().get(12..end))
                        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
            });
            match end {
                Some(end) => truncate_at(out, Some(end)),
                None => crate::rrl::truncate_to_question(out),
            }
            Verdict::Slip
        }
        RrlAction::Drop => {
            out.clear();
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::{Name, RecordType};

    use super::*;
    use crate::rrl::RrlConfig;
    use crate::zone::Zone;
    use crate::zonefile::parse_zone_file;
    use crate::{DnsConfig, ZoneConfig};

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    fn catalog() -> Catalog {
        let mut catalog = Catalog::new(1232);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let parsed = parse_zone_file(
            &root.join("tests/data/dns/e2e.test.zone"),
            &Name::from_ascii("e2e.test.").unwrap(),
        )
        .unwrap();
        catalog.insert(Arc::new(Zone::build(&parsed).unwrap()));
        catalog
    }

    /// Transfers of e2e.test allowed to 192.0.2.0/24.
    fn transfers() -> Transfers {
        let config = DnsConfig {
            zones: vec![ZoneConfig {
                origin: "e2e.test".into(),
                file: "unused".into(),
                allow_transfer: vec!["192.0.2.0/24".parse().unwrap()],
                ..ZoneConfig::default()
            }],
            ..DnsConfig::default()
        };
        Transfers::new(&config, None).unwrap()
    }

    fn worker(rrl: Option<RrlConfig>) -> Worker {
        Worker {
            cache: AnswerCache::default(),
            rrl: rrl.and_then(Rrl::new),
        }
    }

    fn now() -> Now {
        Now {
            instant: Instant::now(),
            unix: headend_util::time::unix_now(),
        }
    }

    /// A request for `name` and `qtype`; with `serial`, the client's SOA
    /// in the authority section (as an IXFR carries it).
    fn request(name: &str, qtype: RecordType, serial: Option<u32>) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 0x4242;
        m.add_query(hickory_proto::op::Query::query(
            Name::from_ascii(name).unwrap(),
            qtype,
        ));
        if let Some(serial) = serial {
            let soa = hickory_proto::rr::rdata::SOA::new(
                Name::from_ascii("ns1.e2e.test.").unwrap(),
                Name::from_ascii("hostmaster.e2e.test.").unwrap(),
                serial,
                1,
                1,
                1,
                1,
            );
            m.add_authority(hickory_proto::rr::Record::from_rdata(
                Name::from_ascii(name).unwrap(),
                0,
                hickory_proto::rr::RData::SOA(soa),
            ));
        }
        m.to_vec().unwrap()
    }

    fn run(
        catalog: &Catalog,
        transfers: &Transfers,
        worker: &mut Worker,
        request: &[u8],
        transport: Transport,
        now: Now,
    ) -> (Verdict, Vec<u8>) {
        let mut out = Vec::new();
        let served = Served { catalog, transfers };
        let verdict = respond(served, request, PEER, transport, now, worker, &mut out);
        (verdict, out)
    }

    #[test]
    fn a_query_is_answered() {
        let (catalog, transfers, mut worker) = (catalog(), transfers(), worker(None));
        let q = request("www.e2e.test.", RecordType::A, None);
        let (verdict, out) = run(&catalog, &transfers, &mut worker, &q, Transport::Udp, now());
        assert_eq!(verdict, Verdict::Send);
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(m.metadata.id, 0x4242);
        assert_eq!(m.answers.len(), 1);
        // The same over TCP, and the same bytes as the full responder.
        let (verdict, tcp) = run(&catalog, &transfers, &mut worker, &q, Transport::Tcp, now());
        assert_eq!(verdict, Verdict::Send);
        assert_eq!(Some(tcp), catalog.respond(&q, Transport::Tcp));
    }

    #[test]
    fn an_ixfr_over_udp_gets_the_current_soa() {
        let (catalog, transfers, mut worker) = (catalog(), transfers(), worker(None));
        let q = request("e2e.test.", RecordType::IXFR, Some(1));
        let (verdict, out) = run(&catalog, &transfers, &mut worker, &q, Transport::Udp, now());
        assert_eq!(verdict, Verdict::Send);
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        let [soa] = m.answers.as_slice() else {
            panic!("{m:?}")
        };
        assert_eq!(soa.record_type(), RecordType::SOA);
    }

    #[test]
    fn an_axfr_over_udp_is_refused() {
        let (catalog, transfers, mut worker) = (catalog(), transfers(), worker(None));
        let q = request("e2e.test.", RecordType::AXFR, None);
        let (verdict, out) = run(&catalog, &transfers, &mut worker, &q, Transport::Udp, now());
        assert_eq!(verdict, Verdict::Send);
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn an_axfr_over_tcp_is_a_transfer() {
        let (catalog, transfers, mut worker) = (catalog(), transfers(), worker(None));
        let q = request("e2e.test.", RecordType::AXFR, None);
        let (verdict, out) = run(&catalog, &transfers, &mut worker, &q, Transport::Tcp, now());
        assert_eq!(verdict, Verdict::Transfer);
        assert!(out.is_empty());
        let served = Served {
            catalog: &catalog,
            transfers: &transfers,
        };
        let messages = transfer(served, &q, PEER, now());
        let first = Message::from_vec(&messages[0]).unwrap();
        let last = Message::from_vec(messages.last().unwrap()).unwrap();
        // RFC 5936 §2.2: the transfer opens and closes with the SOA.
        assert_eq!(first.answers[0].record_type(), RecordType::SOA);
        assert_eq!(last.answers.last().unwrap().record_type(), RecordType::SOA);
    }

    /// A flood from one prefix: `rate` answers, then every `slip`-th
    /// limited answer is slipped (TC=1, question only), the others dropped.
    fn flood(slip: u32) -> Vec<Verdict> {
        let (catalog, transfers) = (catalog(), transfers());
        let mut worker = worker(Some(RrlConfig {
            responses_per_second: 3,
            slip,
            ..RrlConfig::default()
        }));
        let q = request("www.e2e.test.", RecordType::A, None);
        let at = now();
        (0..9)
            .map(|_| {
                let (verdict, out) = run(&catalog, &transfers, &mut worker, &q, Transport::Udp, at);
                match verdict {
                    Verdict::Send => assert!(out.len() > q.len()),
                    Verdict::Slip => {
                        assert_eq!(out.len(), q.len(), "cut to the question");
                        assert_eq!(out[2] & 0x02, 0x02, "TC=1");
                        assert_eq!(&out[6..12], &[0; 6]);
                    }
                    Verdict::Drop => assert!(out.is_empty()),
                    other => panic!("{other:?}"),
                }
                verdict
            })
            .collect()
    }

    #[test]
    fn a_flood_is_slipped_or_dropped_as_slip_says() {
        use Verdict::{Drop, Send, Slip};
        assert_eq!(
            flood(2),
            [Send, Send, Send, Drop, Slip, Drop, Slip, Drop, Slip]
        );
        assert_eq!(
            flood(1),
            [Send, Send, Send, Slip, Slip, Slip, Slip, Slip, Slip]
        );
        assert_eq!(
            flood(0),
            [Send, Send, Send, Drop, Drop, Drop, Drop, Drop, Drop]
        );
    }

    #[test]
    fn the_limit_applies_over_udp_only() {
        let (catalog, transfers) = (catalog(), transfers());
        let mut worker = worker(Some(RrlConfig {
            responses_per_second: 1,
            slip: 0,
            ..RrlConfig::default()
        }));
        let q = request("www.e2e.test.", RecordType::A, None);
        let at = now();
        let udp = |w: &mut Worker| run(&catalog, &transfers, w, &q, Transport::Udp, at).0;
        assert_eq!(udp(&mut worker), Verdict::Send);
        assert_eq!(udp(&mut worker), Verdict::Drop);
        let tcp = run(&catalog, &transfers, &mut worker, &q, Transport::Tcp, at).0;
        assert_eq!(tcp, Verdict::Send);
        // A second later the prefix has its token again.
        let later = Now {
            instant: at.instant + Duration::from_secs(1),
            ..at
        };
        let (verdict, _) = run(&catalog, &transfers, &mut worker, &q, Transport::Udp, later);
        assert_eq!(verdict, Verdict::Send);
    }

    #[test]
    fn malformed_bytes_get_formerr_or_nothing() {
        let (catalog, transfers, mut worker) = (catalog(), transfers(), worker(None));
        // Too short for a header: nothing to answer.
        let (verdict, out) = run(
            &catalog,
            &transfers,
            &mut worker,
            &[1, 2, 3],
            Transport::Udp,
            now(),
        );
        assert_eq!((verdict, out.len()), (Verdict::Ignore, 0));
        // A header claiming a question that is not there: FORMERR.
        let bad = [0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, b'a'];
        let (verdict, out) = run(
            &catalog,
            &transfers,
            &mut worker,
            &bad,
            Transport::Udp,
            now(),
        );
        assert_eq!(verdict, Verdict::Send);
        assert_eq!(out[3] & 0x0f, 1, "FORMERR");
        assert_eq!(&out[..2], &[0x12, 0x34]);
        // A response is never answered.
        let mut response = request("www.e2e.test.", RecordType::A, None);
        response[2] |= 0x80;
        let (verdict, _) = run(
            &catalog,
            &transfers,
            &mut worker,
            &response,
            Transport::Udp,
            now(),
        );
        assert_eq!(verdict, Verdict::Ignore);
    }
}
