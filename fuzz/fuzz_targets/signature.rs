//! The Standard Webhooks verifier on hostile input: secret, id, timestamp,
//! signature header and body from one input split at 0xFF bytes. It never
//! panics, and a body signed with the input's key verifies while the same
//! body with one more byte does not.
#![no_main]

use base64::Engine;
use domain::signature;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000;

fuzz_target!(|input: &[u8]| {
    let mut parts = input.splitn(5, |b| *b == 0xFF);
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (secret, id, ts, header) = (text(), text(), text(), text());
    let body = parts.next().unwrap_or_default();
    let _ = signature::verify(&secret, &id, &ts, &header, body, NOW, 300);

    let key: Vec<u8> = input.iter().copied().take(32).collect();
    if key.len() < 24 || id.is_empty() || id.len() > 200 {
        return;
    }
    let secret = format!("{}{}", signature::SECRET_PREFIX, base64::engine::general_purpose::STANDARD.encode(&key));
    let signed = signature::signature_header(&[&key], &id, NOW, body);
    assert!(signature::verify(&secret, &id, &NOW.to_string(), &signed, body, NOW, 300).is_ok());
    let mut longer = body.to_vec();
    longer.push(b'!');
    assert!(signature::verify(&secret, &id, &NOW.to_string(), &signed, &longer, NOW, 300).is_err());
});
