//! Text that every database stores: PostgreSQL's TEXT refuses the NUL
//! character, so text that came from outside (a receiver's response, an
//! error message quoting it) is made storable before it is written.

use std::borrow::Cow;

/// `s` with every NUL replaced by U+FFFD; borrowed when there was none.
pub fn storable(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Bytes received from outside as storable text, and whether anything had
/// to be replaced (invalid UTF-8 or NUL) to make it so.
pub fn from_bytes(bytes: &[u8]) -> (String, bool) {
    let (text, invalid) = match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(s) => (Cow::Borrowed(s), false),
        Cow::Owned(s) => (Cow::Owned(s), true),
    };
    match storable(&text) {
        Cow::Borrowed(_) => (text.into_owned(), invalid),
        Cow::Owned(s) => (s, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_invalid_utf8_are_replaced_and_reported() {
        assert_eq!(from_bytes(b"fine"), ("fine".to_string(), false));
        assert_eq!(from_bytes(b"a\0b"), ("a\u{FFFD}b".to_string(), true));
        assert_eq!(from_bytes(b"a\xffb"), ("a\u{FFFD}b".to_string(), true));
        assert!(matches!(storable("no nul"), Cow::Borrowed(_)));
        assert_eq!(storable("x\0"), "x\u{FFFD}");
    }
}
