//! NOTIFY out (RFC 1996): tell secondaries that a zone's serial changed.
//!
//! The message building and response matching are pure functions; the
//! sender is a small task per target that retries until the secondary
//! answers or the retries run out.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType, TSigner};

use crate::stats::NotifyOutcome;

/// How often a NOTIFY is sent before giving up (RFC 1996 §3.6 leaves it to
/// the implementation; BIND and Knot retry about five times).
pub(crate) const ATTEMPTS: u32 = 5;

/// Wait for an answer to the first NOTIFY; doubled on every retry.
pub(crate) const FIRST_WAIT: Duration = Duration::from_secs(2);

/// RFC 1996 §3.7: QR=0, OPCODE=NOTIFY, AA=1, the zone's SOA as the question,
/// and the new SOA in the answer section as a hint. Signed when a key is given.
pub(crate) fn message(
    origin: &Name,
    soa: &Record,
    id: u16,
    key: Option<&TSigner>,
    now: u64,
) -> Option<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Notify);
    m.metadata.authoritative = true;
    m.add_query(Query::query(origin.clone(), RecordType::SOA));
    m.answers.push(soa.clone());
    match key {
        Some(k) => crate::xfr::tsig::sign_request(k, &mut m, now),
        None => m.to_vec().ok(),
    }
}

/// What a datagram received after a NOTIFY means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Not the answer to our NOTIFY (other id, not a response): keep waiting.
    NotOurs,
    /// RFC 1996 §4.7: the secondary acknowledged it.
    Acked,
    /// The secondary answered with an error (e.g. NOTAUTH, REFUSED): retrying will not help.
    Error(ResponseCode),
}

/// Matches a datagram against the NOTIFY sent with `id`.
pub(crate) fn reply(bytes: &[u8], id: u16) -> Reply {
    let Ok(m) = Message::from_vec(bytes) else {
        return Reply::NotOurs;
    };
    if m.metadata.id != id
        || m.metadata.message_type != MessageType::Response
        || m.metadata.op_code != OpCode::Notify
    {
        return Reply::NotOurs;
    }
    match m.metadata.response_code {
        ResponseCode::NoError => Reply::Acked,
        rc => Reply::Error(rc),
    }
}

/// Sends NOTIFY for `origin` to every target, each in its own task, retrying
/// with doubling waits. Returns at once.
/// Each target's outcome is counted in `stats`.
pub(crate) fn spawn(
    runtime: &tokio::runtime::Handle,
    origin: Name,
    soa: Record,
    targets: Vec<SocketAddr>,
    key: Option<TSigner>,
    stats: std::sync::Arc<crate::stats::DnsStats>,
) {
    for target in targets {
        let origin = origin.clone();
        let soa = soa.clone();
        let key = key.clone();
        let stats = std::sync::Arc::clone(&stats);
        runtime.spawn(async move {
            let outcome = send_one(&origin, &soa, target, key.as_ref()).await;
            stats.notify(outcome);
        });
    }
}

async fn send_one(
    origin: &Name,
    soa: &Record,
    target: SocketAddr,
    key: Option<&TSigner>,
) -> NotifyOutcome {
    let bind: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = match tokio::net::UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(zone = %origin, %target, "NOTIFY not sent: cannot open a socket: {e}");
            return NotifyOutcome::Failed;
        }
    };
    let serial = match &soa.data {
        hickory_proto::rr::RData::SOA(s) => s.serial,
        _ => 0,
    };
    let id: u16 = rand::random();
    let mut wait = FIRST_WAIT;
    let mut buf = vec![0u8; 4096];
    for attempt in 1..=ATTEMPTS {
        let now = headend_util::unix_now();
        let Some(bytes) = message(origin, soa, id, key, now) else {
            tracing::warn!(zone = %origin, "NOTIFY could not be encoded");
            return NotifyOutcome::Failed;
        };
        if let Err(e) = socket.send_to(&bytes, target).await {
            tracing::debug!(zone = %origin, %target, attempt, "NOTIFY send failed: {e}");
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Ok(Ok((len, from))) =
                tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
            else {
                break;
            };
            if from != target {
                continue;
            }
            match reply(buf.get(..len).unwrap_or_default(), id) {
                Reply::NotOurs => continue,
                Reply::Acked => {
                    tracing::info!(zone = %origin, %target, serial, attempt, "NOTIFY acknowledged");
                    return NotifyOutcome::Acked;
                }
                Reply::Error(rc) => {
                    tracing::warn!(zone = %origin, %target, serial, "NOTIFY answered with {rc}: check the secondary's allow-notify/ACL and key");
                    return NotifyOutcome::Refused;
                }
            }
        }
        wait *= 2;
    }
    tracing::warn!(zone = %origin, %target, serial, "NOTIFY not acknowledged after {ATTEMPTS} attempts; the secondary will notice the change at its next SOA refresh");
    NotifyOutcome::Unanswered
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::SOA;

    fn soa() -> Record {
        let origin = Name::from_ascii("n.test.").unwrap();
        Record::from_rdata(
            origin.clone(),
            300,
            RData::SOA(SOA::new(origin.clone(), origin, 7, 3600, 600, 86400, 60)),
        )
    }

    #[test]
    fn notify_message_has_opcode_aa_question_and_soa() {
        let origin = Name::from_ascii("n.test.").unwrap();
        let bytes = message(&origin, &soa(), 77, None, 0).unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.op_code, OpCode::Notify);
        assert!(m.metadata.authoritative);
        assert_eq!(m.metadata.message_type, MessageType::Query);
        assert_eq!(m.queries[0].query_type(), RecordType::SOA);
        assert_eq!(m.answers.len(), 1);
    }

    #[test]
    fn only_the_matching_response_acknowledges() {
        let origin = Name::from_ascii("n.test.").unwrap();
        let request = Message::from_vec(&message(&origin, &soa(), 9, None, 0).unwrap()).unwrap();
        let mut ack = Message::response(9, OpCode::Notify);
        ack.queries = request.queries;
        assert_eq!(reply(&ack.to_vec().unwrap(), 9), Reply::Acked);
        assert_eq!(reply(&ack.to_vec().unwrap(), 10), Reply::NotOurs);
        ack.metadata.response_code = ResponseCode::NotAuth;
        assert_eq!(
            reply(&ack.to_vec().unwrap(), 9),
            Reply::Error(ResponseCode::NotAuth)
        );
        assert_eq!(reply(b"garbage", 9), Reply::NotOurs);
    }

    #[tokio::test]
    async fn an_unanswered_notify_is_retried_until_acknowledged() {
        let secondary = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = secondary.local_addr().unwrap();
        let origin = Name::from_ascii("n.test.").unwrap();
        let sender = tokio::spawn(async move { send_one(&origin, &soa(), target, None).await });
        let mut buf = [0u8; 1024];
        // The first NOTIFY is "lost".
        let (_, _) = secondary.recv_from(&mut buf).await.unwrap();
        // The retry comes after FIRST_WAIT, with the same id.
        let (n, from) = tokio::time::timeout(FIRST_WAIT * 3, secondary.recv_from(&mut buf))
            .await
            .expect("retry sent")
            .unwrap();
        let request = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(request.metadata.op_code, OpCode::Notify);
        let mut ack = Message::response(request.metadata.id, OpCode::Notify);
        ack.queries = request.queries;
        secondary
            .send_to(&ack.to_vec().unwrap(), from)
            .await
            .unwrap();
        // Acknowledged: the sender stops at once instead of retrying for a minute.
        tokio::time::timeout(Duration::from_secs(3), sender)
            .await
            .expect("sender stopped after the ack")
            .unwrap();
    }
}
