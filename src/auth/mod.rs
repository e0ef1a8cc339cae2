//! Who may do what: roles, password hashing, API keys and session tokens.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::crypto::{random_token, sha256_hex};
use crate::{Error, Result};

pub mod policy;
pub mod throttle;

pub use policy::{Action, Authorize};
pub use wire::auth::{Principal, PrincipalKind, Role};

/// The process itself acting (the CLI, start-up, background work): may do everything.
pub fn system() -> Principal {
    Principal { id: "system".into(), name: "purple-cross".into(), role: Role::Admin, kind: PrincipalKind::System }
}

pub const MIN_PASSWORD_LEN: usize = 10;

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(Error::internal)
}

/// Checks a password against a stored argon2 hash (the comparison inside is constant-time).
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so a login for an
/// unknown email costs as much time as one for a known email.
pub fn dummy_password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not-a-real-password").expect("argon2 works"))
}

pub const API_KEY_PREFIX: &str = "pck_";

/// A new API key: the plaintext (shown once) and the digest that is stored.
pub struct NewApiKey {
    pub plaintext: String,
    pub hash: String,
    /// The first characters, stored to let people recognise a key in lists.
    pub display_prefix: String,
}

pub fn generate_api_key() -> NewApiKey {
    let plaintext = format!("{API_KEY_PREFIX}{}", random_token());
    let display_prefix = plaintext[..API_KEY_PREFIX.len() + 6].to_string();
    NewApiKey { hash: sha256_hex(&plaintext), plaintext, display_prefix }
}

/// A new session token and its stored digest.
pub fn generate_session_token() -> (String, String) {
    let token = random_token();
    let hash = sha256_hex(&token);
    (token, hash)
}

/// Normalises and validates an email address well enough for a login name.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(Error::invalid("email", "must be an email address like name@example.com"))
    }
}

pub fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::invalid("password", format!("must be at least {MIN_PASSWORD_LEN} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_verifies_only_the_right_password() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn api_keys_are_unique_and_hashed() {
        let a = generate_api_key();
        let b = generate_api_key();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with(API_KEY_PREFIX));
        assert_eq!(a.hash, sha256_hex(&a.plaintext));
        assert!(a.plaintext.starts_with(&a.display_prefix));
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Vet@Clinic.Example ").unwrap(), "vet@clinic.example");
        for bad in ["", "no-at", "@x.com", "a@b", "a b@c.com", "a@.com"] {
            assert!(normalize_email(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn roles_parse() {
        assert_eq!(Role::parse("admin").unwrap(), Role::Admin);
        assert_eq!(Role::parse("staff").unwrap(), Role::Staff);
        assert!(Role::parse("root").is_err());
    }
}
