//! DKIM (RFC 6376 §3.6.1) key records at `SELECTOR._domainkey.NAME`.

use base64::Engine as _;

use super::{Out, tag_list};
use crate::zonefile::SourceRecord;

/// RSA keys shorter than this are refused by receivers (RFC 8301 §3.2: "Signers
/// MUST use RSA keys of at least 1024 bits").
pub(super) const RSA_MIN_BITS: usize = 1024;

/// RSA keys shorter than this are warned about (RFC 8301 §3.2: "SHOULD use RSA
/// keys of at least 2048 bits").
pub(super) const RSA_GOOD_BITS: usize = 2048;

/// Checks the TXT records at a `SELECTOR._domainkey` name.
pub(super) fn check_owner<'a>(recs: &[(String, &'a SourceRecord)], out: &mut Out<'a>) {
    for (text, rec) in recs {
        check_record(text, rec, out);
    }
}

fn check_record<'a>(text: &str, rec: &'a SourceRecord, out: &mut Out<'a>) {
    let tags = match tag_list(text) {
        Ok(t) => t,
        Err(piece) => {
            out.error(
                rec,
                format!(
                    "DKIM: `{piece}` is not a tag=value pair (RFC 6376 §3.2): separate tags with `;`"
                ),
            );
            return;
        }
    };
    // Not a key record at all (e.g. a historic ADSP `dkim=unknown` record).
    if !tags
        .iter()
        .any(|(t, _)| t.eq_ignore_ascii_case("p") || t.eq_ignore_ascii_case("v"))
    {
        out.warn(
            rec,
            "DKIM: a TXT record under _domainkey that is not a key record (no v=DKIM1, no p=): receivers ignore it".to_owned(),
        );
        return;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut key_type = "rsa".to_owned();
    let mut p = None;
    for (i, (tag, value)) in tags.iter().enumerate() {
        let t = tag.to_ascii_lowercase();
        if seen.contains(&t) {
            // RFC 6376 §3.2: "Tags with duplicate names MUST NOT occur".
            out.error(
                rec,
                format!("DKIM: tag `{tag}` appears twice (RFC 6376 §3.2); keep one"),
            );
        }
        seen.push(t.clone());
        match t.as_str() {
            // RFC 6376 §3.6.1: "v= ... If specified, this tag MUST be set to
            // "DKIM1" ... This tag MUST be the first tag in the record."
            "v" => {
                if value != "DKIM1" {
                    out.error(
                        rec,
                        format!("DKIM: `v={value}` must be exactly `v=DKIM1` (RFC 6376 §3.6.1)"),
                    );
                } else if i != 0 {
                    out.error(
                        rec,
                        "DKIM: `v=DKIM1` must be the first tag (RFC 6376 §3.6.1)".to_owned(),
                    );
                }
            }
            "k" => {
                key_type = value.to_ascii_lowercase();
                if !matches!(key_type.as_str(), "rsa" | "ed25519") {
                    out.error(
                        rec,
                        format!(
                            "DKIM: key type `k={value}` is unknown: receivers know rsa (RFC 6376) and ed25519 (RFC 8463)"
                        ),
                    );
                }
            }
            "h" => {
                for h in value.split(':').map(str::trim) {
                    match h {
                        "sha256" => {}
                        // RFC 8301 §3.1: "rsa-sha1 MUST NOT be used for signing or verifying".
                        "sha1" => out.warn(
                            rec,
                            "DKIM: `h=sha1`: SHA-1 signatures are no longer accepted (RFC 8301 §3.1); use sha256".to_owned(),
                        ),
                        other => out.warn(
                            rec,
                            format!("DKIM: unknown hash algorithm `{other}` in h= (RFC 6376 §3.6.1)"),
                        ),
                    }
                }
            }
            "p" => p = Some(value.as_str()),
            "s" => {
                if !value
                    .split(':')
                    .map(str::trim)
                    .any(|s| s == "*" || s.eq_ignore_ascii_case("email"))
                {
                    out.warn(
                        rec,
                        format!("DKIM: `s={value}` excludes e-mail: the key is not used for mail (RFC 6376 §3.6.1)"),
                    );
                }
            }
            "t" => {
                if value.split(':').map(str::trim).any(|f| f == "y") {
                    out.warn(
                        rec,
                        "DKIM: `t=y` marks the domain as testing DKIM: receivers treat signed and unsigned mail alike (RFC 6376 §3.6.1); remove it once DKIM works".to_owned(),
                    );
                }
            }
            "n" | "g" => {}
            _ => out.warn(
                rec,
                format!("DKIM: unknown tag `{tag}` is ignored by receivers (RFC 6376 §3.6.1)"),
            ),
        }
    }
    let Some(p) = p else {
        out.error(
            rec,
            "DKIM: no `p=` tag: a key record needs the public key in base64 (RFC 6376 §3.6.1)"
                .to_owned(),
        );
        return;
    };
    // RFC 6376 §3.6.1: "An empty value means that this public key has been revoked."
    let b64: String = p.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if b64.is_empty() {
        out.warn(
            rec,
            "DKIM: empty `p=`: this key is revoked, mail signed with it fails verification (RFC 6376 §3.6.1)".to_owned(),
        );
        return;
    }
    let der = match base64::engine::general_purpose::STANDARD.decode(&b64) {
        Ok(d) => d,
        Err(e) => {
            out.error(
                rec,
                format!(
                    "DKIM: `p=` is not valid base64 ({e}): copy the key again, joining the strings without spaces or quotes inside"
                ),
            );
            return;
        }
    };
    match key_type.as_str() {
        "rsa" => match rsa_modulus_bits(&der) {
            None => out.error(
                rec,
                "DKIM: `p=` does not hold an RSA public key (DER SubjectPublicKeyInfo, RFC 6376 §3.6.1): was the key truncated, or is it an ed25519 key missing `k=ed25519`?".to_owned(),
            ),
            Some(bits) if bits < RSA_MIN_BITS => out.error(
                rec,
                format!(
                    "DKIM: the RSA key has {bits} bits; receivers refuse keys under {RSA_MIN_BITS} bits (RFC 8301 §3.2): generate a 2048-bit key"
                ),
            ),
            Some(bits) if bits < RSA_GOOD_BITS => out.warn(
                rec,
                format!(
                    "DKIM: the RSA key has {bits} bits; RFC 8301 §3.2 asks for at least {RSA_GOOD_BITS}"
                ),
            ),
            Some(_) => {}
        },
        // RFC 8463 §4.2: the bare 32-byte public key, base64-encoded.
        "ed25519" if der.len() != 32 => {
            out.error(
                rec,
                format!(
                    "DKIM: an ed25519 key is 32 bytes (RFC 8463 §4.2), this `p=` decodes to {}: publish the raw key, not a DER/PEM structure",
                    der.len()
                ),
            );
        }
        _ => {}
    }
}

/// One DER TLV: (tag, contents, rest). Only definite lengths (DER).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest.get(n..)?)
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// The OID 1.2.840.113549.1.1.1 (rsaEncryption), DER-encoded contents.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The modulus size of an RSA public key given as a SubjectPublicKeyInfo
/// (what RFC 6376 §3.6.1 asks for) or as a bare PKCS#1 RSAPublicKey (which
/// common verifiers accept too).
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (tag, seq, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, first, rest) = tlv(seq)?;
    let rsa_public_key = match tag {
        // SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }
        0x30 => {
            let (oid_tag, oid, _) = tlv(first)?;
            if oid_tag != 0x06 || oid != RSA_ENCRYPTION {
                return None;
            }
            let (bit_tag, bits, _) = tlv(rest)?;
            let (&unused, key) = bits.split_first()?;
            if bit_tag != 0x03 || unused != 0 {
                return None;
            }
            let (tag, inner, _) = tlv(key)?;
            if tag != 0x30 {
                return None;
            }
            inner
        }
        // RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }
        0x02 => seq,
        _ => return None,
    };
    let (tag, modulus, rest) = tlv(rsa_public_key)?;
    let (etag, exponent, _) = tlv(rest)?;
    if tag != 0x02 || etag != 0x02 || exponent.is_empty() {
        return None;
    }
    let start = modulus.iter().position(|&b| b != 0)?;
    let significant = modulus.get(start..)?;
    let lead = *significant.first()?;
    Some(significant.len() * 8 - lead.leading_zeros() as usize)
}

#[cfg(test)]
pub(super) fn modulus_bits_for_tests(der: &[u8]) -> Option<usize> {
    rsa_modulus_bits(der)
}
