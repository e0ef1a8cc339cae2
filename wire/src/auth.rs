//! Who is calling, and what they may see of users and API keys.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// What a caller may do is decided by its role (see the domain's `auth::policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "admin" => Ok(Role::Admin),
            "staff" => Ok(Role::Staff),
            other => Err(Invalid::one("role", format!("must be admin or staff, not {other:?}"))),
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Role::parse(s)
    }
}

/// The authenticated caller of a request: a browser user or an API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Principal {
    pub id: String,
    /// The user's email or the key's name.
    pub name: String,
    pub role: Role,
    pub kind: PrincipalKind,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum PrincipalKind {
    User,
    ApiKey,
    /// The process itself: the CLI, start-up and background work.
    System,
}

/// An API key as listed: never its plaintext.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub role: Role,
    pub created_at: String,
    pub revoked: bool,
}

/// `POST /api-keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
}

/// A freshly created API key; `key` is shown once and never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub id: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub created_at: String,
}

/// Where a sign-in may send the browser afterwards: a path on this site, or
/// `/`. Only a relative path of printable ASCII is kept, so nothing can
/// point off-site (`//host`, `/\host`, `https:`) or smuggle a control
/// character or line break into the `Location` header.
pub fn safe_next_path(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.len() <= 2000
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n
        }
        _ => "/",
    }
}

#[cfg(test)]
mod safe_next_tests {
    use super::safe_next_path;

    #[test]
    fn only_paths_on_this_site_are_kept() {
        assert_eq!(safe_next_path(Some("/webhooks?page=2")), "/webhooks?page=2");
        assert_eq!(safe_next_path(Some("/workflows#x")), "/workflows#x");
        for hostile in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/\t/evil.example",
            "/a\r\nSet-Cookie: x=1",
            "/ spaced",
            "/\u{7f}",
            "/caf\u{e9}",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next_path(Some(hostile)), "/", "{hostile:?}");
        }
        // Percent-encoded bytes stay encoded: harmless in a Location header.
        assert_eq!(safe_next_path(Some("/x?q=%0d%0a")), "/x?q=%0d%0a");
        assert_eq!(safe_next_path(None), "/");
    }
}
