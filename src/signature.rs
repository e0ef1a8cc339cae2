//! Standard Webhooks 1.0 signatures (<https://www.standardwebhooks.com/>).
//!
//! Every delivery carries `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` headers. The signature is an HMAC-SHA256, keyed with the
//! webhook's secret, over `{id}.{timestamp}.{body}`; binding the id and the
//! timestamp into the MAC is what lets a receiver reject replays.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The prefix that marks a Standard Webhooks secret, so people can tell it
/// apart from other credentials (and secret scanners can find leaked ones).
pub const SECRET_PREFIX: &str = "whsec_";

/// The signature scheme this module produces and accepts.
const VERSION_PREFIX: &str = "v1,";

/// How many random bytes a generated secret holds: 256 bits, the strength of
/// SHA-256 itself, so the key is never the weak link.
const SECRET_BYTES: usize = 32;

/// Why a webhook's signature could not be verified, worded for the person
/// debugging their receiver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signing secret is not valid: it must be \"whsec_\" followed by standard base64")]
    InvalidSecret,
    #[error("the {0} header is missing or empty")]
    MissingHeader(&'static str),
    #[error("the webhook-timestamp header must be a whole number of seconds since the Unix epoch")]
    InvalidTimestamp,
    #[error(
        "the webhook-timestamp is {age_secs} seconds old, outside the allowed window: \
         the message may be a replay, or the receiver's clock is wrong"
    )]
    TimestampTooOld { age_secs: u64 },
    #[error(
        "the webhook-timestamp is {ahead_secs} seconds in the future, outside the allowed window: \
         the sender's or the receiver's clock is wrong"
    )]
    TimestampInFuture { ahead_secs: u64 },
    #[error("the webhook-signature header holds no \"v1,\" signature")]
    NoV1Signature,
    #[error(
        "no signature matches: either the secret is wrong (or was rotated), or the body was \
         modified after signing, for example JSON parsed and re-serialized; verify the raw bytes"
    )]
    Mismatch,
}

/// A new random secret, `whsec_` followed by base64 of 32 bytes from the OS.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key inside a secret. The `whsec_` prefix is optional because some
/// providers hand out the bare base64 and receivers paste either form.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let trimmed = secret.trim();
    let encoded = trimmed.strip_prefix(SECRET_PREFIX).unwrap_or(trimmed);
    match STANDARD.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(SignatureError::InvalidSecret),
    }
}

/// The `v1,<base64>` signature of one message under one key.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("{VERSION_PREFIX}{}", STANDARD.encode(mac(key, msg_id, timestamp, body)))
}

/// The `webhook-signature` header value: one signature per key, space-separated.
/// While a rotated-out secret is still honoured, the message is signed with
/// both, so receivers on either secret keep verifying.
pub fn signature_header<K: AsRef<[u8]>>(keys: &[K], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter().map(|key| sign(key.as_ref(), msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// Checks a received message the way a receiver should: the timestamp must lie
/// within `tolerance_secs` of `now_secs`, and at least one `v1` signature in the
/// header must match. Signatures of other versions are ignored, as the
/// specification asks, so future schemes can be added alongside.
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let key = decode_secret(secret)?;
    if msg_id.is_empty() {
        return Err(SignatureError::MissingHeader("webhook-id"));
    }
    if timestamp.trim().is_empty() {
        return Err(SignatureError::MissingHeader("webhook-timestamp"));
    }
    if signature_header.trim().is_empty() {
        return Err(SignatureError::MissingHeader("webhook-signature"));
    }

    let ts: i64 = timestamp.trim().parse().map_err(|_| SignatureError::InvalidTimestamp)?;
    // i128 so that absurd timestamps cannot overflow the subtraction.
    let age = i128::from(now_secs) - i128::from(ts);
    let tolerance = i128::from(tolerance_secs.max(0));
    if age > tolerance {
        return Err(SignatureError::TimestampTooOld { age_secs: u64::try_from(age).unwrap_or(u64::MAX) });
    }
    if -age > tolerance {
        return Err(SignatureError::TimestampInFuture { ahead_secs: u64::try_from(-age).unwrap_or(u64::MAX) });
    }

    let expected = mac(&key, msg_id, ts, body);
    let mut saw_v1 = false;
    for entry in signature_header.split_whitespace() {
        let Some(encoded) = entry.strip_prefix(VERSION_PREFIX) else {
            continue;
        };
        saw_v1 = true;
        // Compare raw MAC bytes in constant time so response timing does not
        // reveal how much of a forged signature was right. A signature that is
        // not even base64 simply does not match.
        if let Ok(given) = STANDARD.decode(encoded) {
            if bool::from(given.as_slice().ct_eq(expected.as_slice())) {
                return Ok(());
            }
        }
    }
    Err(if saw_v1 { SignatureError::Mismatch } else { SignatureError::NoV1Signature })
}

fn mac(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    // Fed piecewise rather than formatted into one buffer: bodies can be large
    // and need not be UTF-8.
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The official Standard Webhooks test vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn check(header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
        verify(SECRET, MSG_ID, &TS.to_string(), header, body, now, 300)
    }

    #[test]
    fn matches_the_official_vector() {
        let key = decode_secret(SECRET).unwrap();
        assert_eq!(sign(&key, MSG_ID, TS, BODY), EXPECTED);
    }

    #[test]
    fn verifies_the_official_vector() {
        assert_eq!(check(EXPECTED, BODY, TS), Ok(()));
        // Within tolerance either side.
        assert_eq!(check(EXPECTED, BODY, TS + 300), Ok(()));
        assert_eq!(check(EXPECTED, BODY, TS - 300), Ok(()));
    }

    #[test]
    fn a_tampered_body_is_a_mismatch() {
        assert_eq!(check(EXPECTED, br#"{"test":2432232314}"#, TS), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_wrong_secret_is_a_mismatch() {
        let other = generate_secret();
        assert_eq!(verify(&other, MSG_ID, &TS.to_string(), EXPECTED, BODY, TS, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_different_message_id_is_a_mismatch() {
        assert_eq!(
            verify(SECRET, "msg_other", &TS.to_string(), EXPECTED, BODY, TS, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn one_valid_signature_among_several_is_enough() {
        let header = format!("v1,Zm9v v2,whatever v1a,nope {EXPECTED} v1,not-base64!");
        assert_eq!(check(&header, BODY, TS), Ok(()));
    }

    #[test]
    fn other_versions_are_ignored() {
        assert_eq!(check("v2,abc v1a,def", BODY, TS), Err(SignatureError::NoV1Signature));
        assert_eq!(check("v1,Zm9vYmFy", BODY, TS), Err(SignatureError::Mismatch));
    }

    #[test]
    fn timestamps_outside_the_window_are_refused_both_ways() {
        assert_eq!(check(EXPECTED, BODY, TS + 301), Err(SignatureError::TimestampTooOld { age_secs: 301 }));
        assert_eq!(check(EXPECTED, BODY, TS - 301), Err(SignatureError::TimestampInFuture { ahead_secs: 301 }));
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let r = verify(SECRET, MSG_ID, &i64::MIN.to_string(), EXPECTED, BODY, i64::MAX, 300);
        assert_eq!(r, Err(SignatureError::TimestampTooOld { age_secs: u64::MAX }));
    }

    #[test]
    fn malformed_inputs_are_named() {
        let ts = TS.to_string();
        assert_eq!(verify(SECRET, MSG_ID, "soon", EXPECTED, BODY, TS, 300), Err(SignatureError::InvalidTimestamp));
        assert_eq!(
            verify(SECRET, MSG_ID, "1614265330.5", EXPECTED, BODY, TS, 300),
            Err(SignatureError::InvalidTimestamp)
        );
        assert_eq!(verify(SECRET, "", &ts, EXPECTED, BODY, TS, 300), Err(SignatureError::MissingHeader("webhook-id")));
        assert_eq!(
            verify(SECRET, MSG_ID, "", EXPECTED, BODY, TS, 300),
            Err(SignatureError::MissingHeader("webhook-timestamp"))
        );
        assert_eq!(
            verify(SECRET, MSG_ID, &ts, " ", BODY, TS, 300),
            Err(SignatureError::MissingHeader("webhook-signature"))
        );
        assert_eq!(verify("whsec_!!!", MSG_ID, &ts, EXPECTED, BODY, TS, 300), Err(SignatureError::InvalidSecret));
    }

    #[test]
    fn secrets_decode_with_or_without_prefix() {
        let with = decode_secret(SECRET).unwrap();
        let without = decode_secret(SECRET.trim_start_matches(SECRET_PREFIX)).unwrap();
        assert_eq!(with, without);
        assert_eq!(decode_secret("whsec_"), Err(SignatureError::InvalidSecret));
        assert_eq!(decode_secret(""), Err(SignatureError::InvalidSecret));
        assert_eq!(decode_secret("whsec_not base64"), Err(SignatureError::InvalidSecret));
    }

    #[test]
    fn generated_secrets_are_prefixed_random_32_bytes() {
        let a = generate_secret();
        let b = generate_secret();
        assert!(a.starts_with(SECRET_PREFIX));
        assert_ne!(a, b);
        assert_eq!(decode_secret(&a).unwrap().len(), 32);
    }

    #[test]
    fn the_header_carries_one_signature_per_key() {
        let old = decode_secret(SECRET).unwrap();
        let new = decode_secret(&generate_secret()).unwrap();
        let header = signature_header(&[new.clone(), old.clone()], MSG_ID, TS, BODY);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&new, MSG_ID, TS, BODY));
        assert_eq!(parts[1], EXPECTED);
        // A receiver still on the old secret verifies the rotated header.
        assert_eq!(check(&header, BODY, TS), Ok(()));
        assert_eq!(signature_header::<Vec<u8>>(&[], MSG_ID, TS, BODY), "");
    }

    #[test]
    fn messages_explain_the_failure() {
        assert!(SignatureError::Mismatch.to_string().contains("re-serialized"));
        assert!(SignatureError::MissingHeader("webhook-id").to_string().contains("webhook-id"));
        assert!(SignatureError::TimestampTooOld { age_secs: 900 }.to_string().contains("900 seconds old"));
        assert!(SignatureError::TimestampInFuture { ahead_secs: 42 }.to_string().contains("42 seconds in the future"));
    }
}
