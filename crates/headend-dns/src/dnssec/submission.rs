//! The KSK submission check: during a KSK rollover with `parent` servers
//! configured, the old KSK stays until every parent server serves a DS for
//! the new one (RFC 6781 §4.1.2 "the DS record ... has been changed and the
//! new RRset has propagated"; Knot calls this the KSK submission check).
//!
//! [`query`] and [`serves_ds`] are pure (request bytes out, response bytes
//! in); [`parents_serve`] only moves them over UDP, or TCP when the answer
//! is truncated.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{LowerName, Name, RData, RecordType};

/// One awaited DS: the zone, the new key, and the parent servers to ask.
#[derive(Debug, Clone)]
pub(crate) struct Submission {
    /// The zone, lower-cased, as the signer knows it.
    pub(crate) origin: LowerName,
    /// The zone's name.
    pub(crate) zone: Name,
    /// The new KSK's tag.
    pub(crate) tag: u16,
    /// Its DNSKEY, which the parent's DS must cover.
    pub(crate) dnskey: DNSKEY,
    /// The parent's name servers.
    pub(crate) parents: Vec<SocketAddr>,
}

/// How long one parent server gets to answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A non-recursive query for the zone's DS RRset, with EDNS (1232 bytes).
pub(crate) fn query(zone: &Name, id: u16) -> Option<Vec<u8>> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.op_code = OpCode::Query;
    m.metadata.recursion_desired = false;
    m.add_query(Query::query(zone.clone(), RecordType::DS));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    m.edns = Some(edns);
    m.to_vec().ok()
}

/// Whether `response` (to the query with `id`) is an answer whose DS
/// RRset for `zone` covers `dnskey`. `Err` for a response that cannot be
/// judged (not a response to it, an error code, or truncated: ask again
/// over TCP).
pub(crate) fn serves_ds(
    response: &[u8],
    id: u16,
    zone: &Name,
    dnskey: &DNSKEY,
) -> Result<bool, String> {
    let m = Message::from_vec(response).map_err(|e| format!("unreadable answer: {e}"))?;
    if m.metadata.id != id || m.metadata.message_type != MessageType::Response {
        return Err("not the answer to the DS query".to_owned());
    }
    if m.metadata.truncation {
        return Err("truncated".to_owned());
    }
    if m.metadata.response_code != ResponseCode::NoError {
        return Err(format!("answered {}", m.metadata.response_code));
    }
    let wanted = LowerName::new(zone);
    Ok(m.answers.iter().any(|r| {
        LowerName::new(&r.name) == wanted
            && matches!(&r.data, RData::DNSSEC(DNSSECRData::DS(ds)) if ds.covers(zone, dnskey).unwrap_or(false))
    }))
}

/// Asks one parent server: UDP first, TCP when the answer is truncated.
async fn ask(server: SocketAddr, zone: &Name, dnskey: &DNSKEY) -> Result<bool, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let id: u16 = rand::random();
    let q = query(zone, id).ok_or("cannot encode the DS query")?;
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| e.to_string())?;
    sock.connect(server).await.map_err(|e| e.to_string())?;
    sock.send(&q).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(TIMEOUT, sock.recv(&mut buf))
        .await
        .map_err(|_| "no answer".to_owned())?
        .map_err(|e| e.to_string())?;
    match serves_ds(buf.get(..n).unwrap_or_default(), id, zone, dnskey) {
        Err(e) if e == "truncated" => {}
        other => return other,
    }
    let tcp = async {
        let mut s = tokio::net::TcpStream::connect(server).await?;
        let len = u16::try_from(q.len()).unwrap_or(u16::MAX);
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        s.write_all(&framed).await?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut body).await?;
        Ok::<_, std::io::Error>(body)
    };
    let body = tokio::time::timeout(TIMEOUT, tcp)
        .await
        .map_err(|_| "no answer over TCP".to_owned())?
        .map_err(|e| e.to_string())?;
    serves_ds(&body, id, zone, dnskey)
}

/// Whether every parent server serves the new DS; the first server that
/// does not (or does not answer) is named in the `Err`.
pub(crate) async fn parents_serve(sub: &Submission) -> Result<(), String> {
    for &server in &sub.parents {
        match ask(server, &sub.zone, &sub.dnskey).await {
            Ok(true) => {}
            Ok(false) => return Err(format!("{server} does not serve the DS yet")),
            Err(e) => return Err(format!("{server}: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use hickory_proto::dnssec::rdata::DS;
    use hickory_proto::dnssec::{DigestType, PublicKey as _};
    use hickory_proto::rr::Record;

    use super::*;

    fn dnskey(seed: u8) -> DNSKEY {
        use hickory_proto::dnssec::{Algorithm, PublicKeyBuf};
        DNSKEY::new(
            true,
            true,
            false,
            PublicKeyBuf::new(vec![seed; 32], Algorithm::ED25519),
        )
    }

    fn answer(
        id: u16,
        zone: &Name,
        records: Vec<Record>,
        rcode: ResponseCode,
        tc: bool,
    ) -> Vec<u8> {
        let mut m = Message::response(id, OpCode::Query);
        m.add_query(Query::query(zone.clone(), RecordType::DS));
        m.metadata.response_code = rcode;
        m.metadata.truncation = tc;
        m.answers = records;
        m.to_vec().unwrap()
    }

    fn ds_record(zone: &Name, key: &DNSKEY) -> Record {
        let ds = DS::new(
            key.calculate_key_tag().unwrap(),
            key.public_key().algorithm(),
            DigestType::SHA256,
            key.to_digest(zone, DigestType::SHA256)
                .unwrap()
                .as_ref()
                .to_vec(),
        );
        Record::from_rdata(zone.clone(), 3600, RData::DNSSEC(DNSSECRData::DS(ds)))
    }

    #[test]
    fn a_ds_covering_the_new_key_is_recognised() {
        let zone = Name::from_ascii("child.test.").unwrap();
        let (old, new) = (dnskey(1), dnskey(2));
        let only_old = answer(
            7,
            &zone,
            vec![ds_record(&zone, &old)],
            ResponseCode::NoError,
            false,
        );
        assert_eq!(serves_ds(&only_old, 7, &zone, &new), Ok(false));
        let both = answer(
            7,
            &zone,
            vec![ds_record(&zone, &old), ds_record(&zone, &new)],
            ResponseCode::NoError,
            false,
        );
        assert_eq!(serves_ds(&both, 7, &zone, &new), Ok(true));
        // The same DS under another owner does not count.
        let other = Name::from_ascii("other.test.").unwrap();
        let mut wrong_owner = ds_record(&zone, &new);
        wrong_owner.name = other;
        let elsewhere = answer(7, &zone, vec![wrong_owner], ResponseCode::NoError, false);
        assert_eq!(serves_ds(&elsewhere, 7, &zone, &new), Ok(false));
    }

    #[test]
    fn unusable_answers_are_errors_not_verdicts() {
        let zone = Name::from_ascii("child.test.").unwrap();
        let key = dnskey(3);
        let good = answer(
            7,
            &zone,
            vec![ds_record(&zone, &key)],
            ResponseCode::NoError,
            false,
        );
        assert!(serves_ds(&good, 8, &zone, &key).is_err(), "another ID");
        let refused = answer(7, &zone, vec![], ResponseCode::Refused, false);
        assert!(serves_ds(&refused, 7, &zone, &key).is_err());
        let truncated = answer(7, &zone, vec![], ResponseCode::NoError, true);
        assert_eq!(
            serves_ds(&truncated, 7, &zone, &key),
            Err("truncated".to_owned())
        );
        assert!(serves_ds(&[1, 2, 3], 7, &zone, &key).is_err());
        let q = query(&zone, 7).unwrap();
        assert!(
            serves_ds(&q, 7, &zone, &key).is_err(),
            "a query is not an answer"
        );
    }
}
