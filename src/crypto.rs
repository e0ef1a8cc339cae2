//! Secrets at rest: AES-256-GCM under the operator's master key, and the
//! random tokens and digests the rest of the domain uses.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

const SEALED_PREFIX: &str = "v1:";

/// The key that encrypts every stored secret (webhook signing secrets).
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A new random key, base64-encoded, for an operator to keep.
    pub fn generate_encoded() -> String {
        STANDARD.encode(random_bytes::<32>())
    }

    /// Parses a base64-encoded 32-byte key.
    pub fn from_base64(encoded: &str) -> Result<Self> {
        let bytes = STANDARD.decode(encoded.trim()).map_err(|_| Error::internal("master key is not valid base64"))?;
        if bytes.len() != 32 {
            return Err(Error::internal(format!("master key must be 32 bytes, got {}", bytes.len())));
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(Error::internal)?;
        Ok(Self(cipher))
    }

    /// Encrypts `plaintext`; the result is text safe to store in any column.
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce_bytes = random_bytes::<12>();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let ciphertext =
            self.0.encrypt(nonce, plaintext.as_bytes()).expect("AES-GCM encryption cannot fail for in-memory buffers");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", STANDARD.encode(out))
    }

    /// Decrypts what [`MasterKey::seal`] produced; fails on a wrong key or tampering.
    pub fn open(&self, sealed: &str) -> Result<String> {
        let body =
            sealed.strip_prefix(SEALED_PREFIX).ok_or_else(|| Error::internal("sealed secret has an unknown format"))?;
        let raw = STANDARD.decode(body).map_err(|_| Error::internal("sealed secret is not base64"))?;
        if raw.len() < 12 {
            return Err(Error::internal("sealed secret is truncated"));
        }
        let (nonce, ciphertext) = raw.split_at(12);
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| Error::internal("cannot decrypt secret: wrong master key?"))?;
        String::from_utf8(plain).map_err(Error::internal)
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf
}

/// A URL-safe random token with 256 bits of entropy.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Hex SHA-256, used to store high-entropy tokens (API keys, sessions) so a
/// database leak does not leak credentials.
pub fn sha256_hex(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip() {
        let key = MasterKey::from_base64(&MasterKey::generate_encoded()).unwrap();
        let sealed = key.seal("whsec_abc");
        assert!(sealed.starts_with("v1:"));
        assert_ne!(sealed, key.seal("whsec_abc"), "nonces must differ");
        assert_eq!(key.open(&sealed).unwrap(), "whsec_abc");
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let a = MasterKey::from_base64(&MasterKey::generate_encoded()).unwrap();
        let b = MasterKey::from_base64(&MasterKey::generate_encoded()).unwrap();
        let sealed = a.seal("secret");
        assert!(b.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&tampered).is_err());
    }

    #[test]
    fn master_key_must_be_32_bytes() {
        assert!(MasterKey::from_base64(&STANDARD.encode([0u8; 16])).is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn sha256_hex_known_vector() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
