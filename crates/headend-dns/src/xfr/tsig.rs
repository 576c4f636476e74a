//! TSIG (RFC 8945) for zone transfers and NOTIFY: request verification and
//! signing of single and chained (multi-message) responses.

use std::collections::HashMap;

use base64::Engine as _;
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::TSIG;
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError, make_tsig_record};
use hickory_proto::rr::{LowerName, Name, TSigResponseContext, TSigner};

use crate::DnsError;
use crate::config::TsigKeyConfig;

/// Seconds of clock difference accepted (RFC 8945 §10: "300 seconds is recommended").
pub(crate) const FUDGE: u16 = 300;

/// The configured TSIG keys, by name.
#[derive(Clone, Default)]
pub(crate) struct Keys {
    by_name: HashMap<LowerName, TSigner>,
}

impl Keys {
    /// Builds the key table from `[[dns.tsig_key]]`.
    pub(crate) fn from_config(keys: &[TsigKeyConfig]) -> Result<Self, DnsError> {
        let mut by_name = HashMap::new();
        for k in keys {
            let bad = |reason: String| DnsError::BadTsigKey {
                name: k.name.clone(),
                reason,
            };
            let algorithm = match k.algorithm.to_ascii_lowercase().as_str() {
                "hmac-sha256" => TsigAlgorithm::HmacSha256,
                "hmac-sha384" => TsigAlgorithm::HmacSha384,
                "hmac-sha512" => TsigAlgorithm::HmacSha512,
                other => {
                    return Err(bad(format!(
                        "algorithm `{other}` is not supported: use hmac-sha256, hmac-sha384 or hmac-sha512"
                    )));
                }
            };
            let secret = base64::engine::general_purpose::STANDARD
                .decode(k.secret.trim())
                .map_err(|e| bad(format!("secret is not base64 ({e})")))?;
            if secret.len() < 16 {
                return Err(bad(format!(
                    "secret is {} bytes; use at least 16 (e.g. `tsig-keygen -a hmac-sha256`)",
                    secret.len()
                )));
            }
            let name = Name::from_ascii(&k.name)
                .map_err(|e| bad(format!("`{}` is not a domain name ({e})", k.name)))?;
            let signer = TSigner::new(secret, algorithm, name.clone(), FUDGE)
                .map_err(|e| bad(e.to_string()))?;
            by_name.insert(LowerName::new(signer.signer_name()), signer);
        }
        Ok(Self { by_name })
    }

    /// The key with this name.
    pub(crate) fn get(&self, name: &str) -> Option<&TSigner> {
        let mut n = Name::from_ascii(name).ok()?;
        n.set_fqdn(true);
        self.by_name.get(&LowerName::new(&n))
    }
}

/// The outcome of checking a request's TSIG.
pub(crate) enum Verified {
    /// The request carries no TSIG.
    Unsigned,
    /// Signed with a known key and verified: responses must be signed.
    Signed(ResponseSigner),
    /// Signed but not acceptable: answer NOTAUTH with this (unsigned, or for
    /// BADTIME signed) TSIG (RFC 8945 §5.2).
    Failed(Box<hickory_proto::rr::Record<TSIG>>, TsigError),
}

/// RFC 8945 §5.2: checks the TSIG of a request received as `raw`.
pub(crate) fn verify_request(keys: &Keys, raw: &[u8], request: &Message, now: u64) -> Verified {
    let Some(sig) = request.signature() else {
        return Verified::Unsigned;
    };
    let id = request.metadata.id;
    // §5.2.1: an unknown key (or algorithm) gets BADKEY, unsigned.
    let Some(signer) = keys.by_name.get(&LowerName::new(&sig.name)).cloned() else {
        return unsigned_failure(
            TSigResponseContext::unknown_key(id, now, sig.name.clone()),
            TsigError::BadKey,
        );
    };
    if &sig.data.algorithm != signer.algorithm() {
        return unsigned_failure(
            TSigResponseContext::unknown_key(id, now, sig.name.clone()),
            TsigError::BadKey,
        );
    }
    // §5.2.2: a MAC that does not verify gets BADSIG, unsigned.
    let Ok((mac, _time, window)) = signer.verify_message_byte(raw, None, true) else {
        return unsigned_failure(
            TSigResponseContext::bad_signature(id, now, signer),
            TsigError::BadSig,
        );
    };
    // §5.2.3: a time outside the fudge window gets BADTIME, signed.
    if !window.contains(&now) && window.end != now {
        let ctx = TSigResponseContext::new(id, now, signer, mac, Some(TsigError::BadTime));
        return match ctx.sign(&[]) {
            Ok(r) => Verified::Failed(r, TsigError::BadTime),
            Err(_) => Verified::Unsigned,
        };
    }
    Verified::Signed(ResponseSigner {
        signer,
        prev_mac: mac,
        time: now,
        first: true,
    })
}

fn unsigned_failure(ctx: TSigResponseContext, error: TsigError) -> Verified {
    match ctx.sign(&[]) {
        Ok(r) => Verified::Failed(r, error),
        Err(_) => Verified::Unsigned,
    }
}

/// Signs the messages of a response, chaining MACs across messages (RFC 8945 §5.3.1).
pub(crate) struct ResponseSigner {
    signer: TSigner,
    prev_mac: Vec<u8>,
    time: u64,
    first: bool,
}

impl ResponseSigner {
    /// The key's name (for logs and ACL checks).
    pub(crate) fn key_name(&self) -> &Name {
        self.signer.signer_name()
    }

    /// Encodes `message` with a TSIG record appended. The first message's MAC
    /// covers the request MAC, the message and all TSIG variables; later ones
    /// cover the previous MAC, the message and the timers only (RFC 8945 §5.3.1).
    pub(crate) fn sign(&mut self, message: &mut Message) -> Option<Vec<u8>> {
        let bytes = message.to_vec().ok()?;
        let id = message.metadata.id;
        let record = if self.first {
            let ctx = TSigResponseContext::new(
                id,
                self.time,
                self.signer.clone(),
                self.prev_mac.clone(),
                None,
            );
            ctx.sign(&bytes).ok()?
        } else {
            let mut tbs = Vec::with_capacity(bytes.len() + self.prev_mac.len() + 10);
            tbs.extend_from_slice(&u16::try_from(self.prev_mac.len()).ok()?.to_be_bytes());
            tbs.extend_from_slice(&self.prev_mac);
            tbs.extend_from_slice(&bytes);
            // TSIG timers: Time Signed (48 bits) and Fudge.
            tbs.extend_from_slice(&self.time.to_be_bytes()[2..]);
            tbs.extend_from_slice(&self.signer.fudge().to_be_bytes());
            let mac = self.signer.sign(&tbs).ok()?;
            Box::new(make_tsig_record(
                self.signer.signer_name().clone(),
                TSIG::new(
                    self.signer.algorithm().clone(),
                    self.time,
                    self.signer.fudge(),
                    mac,
                    id,
                    None,
                    Vec::new(),
                ),
            ))
        };
        self.prev_mac = record.data.mac.clone();
        self.first = false;
        message.set_signature(record);
        let out = message.to_vec().ok();
        message.take_signature();
        out
    }
}

/// Signs a request we send (NOTIFY) with `signer`.
pub(crate) fn sign_request(signer: &TSigner, message: &mut Message, now: u64) -> Option<Vec<u8>> {
    let (record, _) = signer.sign_message(message, now).ok()?;
    message.set_signature(record);
    message.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::RecordType;

    fn keys() -> Keys {
        Keys::from_config(&[TsigKeyConfig {
            name: "xfr-key".to_owned(),
            algorithm: "hmac-sha256".to_owned(),
            secret: base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            secret_file: None,
            secret_inline: true,
        }])
        .unwrap()
    }

    fn axfr_request() -> Message {
        let mut m = Message::query();
        m.metadata.id = 4242;
        m.metadata.op_code = OpCode::Query;
        m.add_query(Query::query(
            Name::from_ascii("example.test.").unwrap(),
            RecordType::AXFR,
        ));
        m
    }

    #[test]
    fn request_signed_with_the_right_key_verifies_and_chained_responses_verify() {
        let keys = keys();
        let signer = keys.get("xfr-key").unwrap().clone();
        let mut req = axfr_request();
        let (rec, verifier) = signer.sign_message(&req, 1_000_000).unwrap();
        req.set_signature(rec);
        let raw = req.to_vec().unwrap();
        let parsed = Message::from_vec(&raw).unwrap();
        let Verified::Signed(mut rs) = verify_request(&keys, &raw, &parsed, 1_000_010) else {
            panic!("not verified");
        };
        // Three chained response messages verify with hickory's client-side verifier.
        let mut verifier = verifier.unwrap();
        for _ in 0..3 {
            let mut resp = Message::response(4242, OpCode::Query);
            resp.add_query(parsed.queries[0].clone());
            let bytes = rs.sign(&mut resp).unwrap();
            verifier.verify(&bytes).unwrap();
        }
    }

    #[test]
    fn request_signed_with_a_wrong_secret_fails_badsig() {
        let keys = keys();
        let wrong = TSigner::new(
            vec![8u8; 32],
            TsigAlgorithm::HmacSha256,
            Name::from_ascii("xfr-key.").unwrap(),
            FUDGE,
        )
        .unwrap();
        let mut req = axfr_request();
        let (rec, _) = wrong.sign_message(&req, 1_000_000).unwrap();
        req.set_signature(rec);
        let raw = req.to_vec().unwrap();
        let parsed = Message::from_vec(&raw).unwrap();
        assert!(matches!(
            verify_request(&keys, &raw, &parsed, 1_000_000),
            Verified::Failed(_, TsigError::BadSig)
        ));
    }

    #[test]
    fn unknown_key_fails_badkey_and_old_time_fails_badtime() {
        let keys = keys();
        let other = TSigner::new(
            vec![7u8; 32],
            TsigAlgorithm::HmacSha256,
            Name::from_ascii("other.").unwrap(),
            FUDGE,
        )
        .unwrap();
        let mut req = axfr_request();
        let (rec, _) = other.sign_message(&req, 1_000_000).unwrap();
        req.set_signature(rec);
        let raw = req.to_vec().unwrap();
        let parsed = Message::from_vec(&raw).unwrap();
        assert!(matches!(
            verify_request(&keys, &raw, &parsed, 1_000_000),
            Verified::Failed(_, TsigError::BadKey)
        ));
        let signer = keys.get("xfr-key").unwrap().clone();
        let mut req = axfr_request();
        let (rec, _) = signer.sign_message(&req, 1_000_000).unwrap();
        req.set_signature(rec);
        let raw = req.to_vec().unwrap();
        let parsed = Message::from_vec(&raw).unwrap();
        assert!(matches!(
            verify_request(&keys, &raw, &parsed, 1_000_000 + 3600),
            Verified::Failed(_, TsigError::BadTime)
        ));
    }

    #[test]
    fn short_or_malformed_secrets_are_rejected_with_the_key_name() {
        let err = Keys::from_config(&[TsigKeyConfig {
            name: "k".to_owned(),
            algorithm: "hmac-sha256".to_owned(),
            secret: "c2hvcnQ=".to_owned(),
            secret_file: None,
            secret_inline: true,
        }])
        .err()
        .unwrap();
        assert!(err.to_string().contains("k"), "{err}");
        assert!(
            Keys::from_config(&[TsigKeyConfig {
                name: "k".to_owned(),
                algorithm: "hmac-md5".to_owned(),
                secret: base64::engine::general_purpose::STANDARD.encode([1u8; 32]),
                secret_file: None,
                secret_inline: true,
            }])
            .is_err()
        );
    }
}
