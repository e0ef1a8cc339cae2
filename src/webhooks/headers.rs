//! A webhook's custom headers: often a receiver's credentials
//! (`Authorization: Bearer …`), so they are checked, sealed at rest under the
//! master key like the signing secret, and shown only to callers who may see
//! secrets; others see each name with its value masked.

use std::collections::BTreeMap;

use crate::crypto::MasterKey;
use crate::error::Validator;
use crate::Result;

pub const MAX_HEADERS: usize = 20;
/// What a caller who may not see secrets reads instead of a value. Sent back
/// unchanged in an update, it keeps the stored value.
pub const MASKED: &str = "••••••••";
/// Headers a subscriber may not override: we own them.
const RESERVED: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "transfer-encoding",
    "connection",
];

pub type Headers = BTreeMap<String, String>;

/// Checks new headers, reporting each problem under `headers.<name>`.
pub fn validate(headers: &Headers, v: &mut Validator) {
    v.check(headers.len() <= MAX_HEADERS, "headers", format!("at most {MAX_HEADERS} headers"));
    for (k, val) in headers.iter().take(MAX_HEADERS + 1) {
        let lower = k.to_ascii_lowercase();
        let valid_name = !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_name {
            v.push(format!("headers.{k}"), "header names use letters, digits, - and _");
        } else if RESERVED.contains(&lower.as_str()) {
            v.push(format!("headers.{k}"), "is set by Purple Cross and cannot be overridden");
        }
        if val.len() > 1000 || val.chars().any(|c| c.is_control()) {
            v.push(format!("headers.{k}"), "values must be at most 1000 printable characters");
        }
    }
}

/// New headers as given, but a value sent back masked keeps what was stored.
pub fn merge_masked(new: Headers, stored: &Headers) -> Headers {
    new.into_iter()
        .map(|(k, v)| match stored.get(&k) {
            Some(old) if v == MASKED => (k, old.clone()),
            _ => (k, v),
        })
        .collect()
}

/// The column's text: `{}` when there are none, else the sealed JSON.
pub fn seal(master: &MasterKey, headers: &Headers) -> String {
    if headers.is_empty() {
        "{}".into()
    } else {
        master.seal(&serde_json::to_string(headers).expect("a string map serialises"))
    }
}

/// Reads the column: sealed, or plain JSON as written before headers were sealed.
pub fn open(master: &MasterKey, stored: &str) -> Result<Headers> {
    let json = if stored.trim_start().starts_with('{') { stored.to_string() } else { master.open(stored)? };
    serde_json::from_str(&json).map_err(crate::Error::internal)
}

impl crate::Services {
    /// Seals the custom headers of webhooks stored before headers were
    /// sealed; run at start-up. Returns how many were sealed.
    pub async fn seal_plain_headers(&self) -> Result<usize> {
        let mut sealed = 0;
        for (id, plain) in self.db.webhooks_with_plain_headers().await? {
            let headers = open(&self.master_key, &plain)?;
            if self.db.reseal_headers(&id, &plain, &seal(&self.master_key, &headers)).await? {
                sealed += 1;
            }
        }
        if sealed > 0 {
            self.webhooks_changed();
        }
        Ok(sealed)
    }
}

/// Every value replaced by [`MASKED`].
pub fn masked(headers: Headers) -> Headers {
    headers.into_keys().map(|k| (k, MASKED.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn headers_are_sealed_at_rest_and_read_back() {
        let key = MasterKey::from_base64(&MasterKey::generate_encoded()).unwrap();
        let h = map(&[("Authorization", "Bearer s3cret-token")]);
        let stored = seal(&key, &h);
        assert!(!stored.contains("s3cret"), "{stored}");
        assert_eq!(open(&key, &stored).unwrap(), h);
        assert_eq!(seal(&key, &Headers::new()), "{}");
        assert_eq!(open(&key, r#"{"X-Old": "plain"}"#).unwrap(), map(&[("X-Old", "plain")]), "rows from before");
        let other = MasterKey::from_base64(&MasterKey::generate_encoded()).unwrap();
        assert!(open(&other, &stored).is_err(), "another key cannot read them");
    }

    #[test]
    fn masked_values_sent_back_keep_the_stored_ones() {
        let stored = map(&[("Authorization", "Bearer a"), ("X-Team", "vets")]);
        let sent = map(&[("Authorization", MASKED), ("X-Team", "nurses"), ("X-New", "1")]);
        assert_eq!(
            merge_masked(sent, &stored),
            map(&[("Authorization", "Bearer a"), ("X-Team", "nurses"), ("X-New", "1")])
        );
        assert_eq!(masked(stored), map(&[("Authorization", MASKED), ("X-Team", MASKED)]));
    }

    #[test]
    fn reserved_and_malformed_headers_are_named() {
        let mut v = Validator::new();
        validate(&map(&[("Webhook-Id", "x"), ("bad name", "x"), ("X-Ok", "line\nbreak")]), &mut v);
        let fields: Vec<String> = v.finish().unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["headers.Webhook-Id", "headers.X-Ok", "headers.bad name"]);
    }
}
