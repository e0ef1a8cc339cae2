//! The server functions' JSON encoding, decoded from text.
//!
//! server_fn's own `Json` decodes a response with `serde_json::from_slice`,
//! while a resource hydrates its value with `serde_json::from_str`: the WASM
//! then held two deserializers of every type that crosses the wire (80
//! `deserialize_struct` copies, 283 KB before wasm-opt). Decoding the body as
//! UTF-8 text first makes both paths share one.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::{DeserializeOwned, Error as _};
use serde::Serialize;

/// JSON in a POST body, read as text.
pub struct JsonTextEncoding;

/// The protocol half of a server function that speaks [`JsonTextEncoding`].
pub type JsonText = Post<JsonTextEncoding>;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde_json::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// Reads a `T` out of a JSON value through its text.
///
/// `serde_json::from_value` compiles a second deserializer of every type it
/// reads (one for `Value`, beside the one for text that the server functions
/// use); going through the text reuses the one the WASM holds anyway.
pub fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, serde_json::Error> {
    serde_json::from_str(&value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bytes_that_are_not_utf8() {
        let bytes = <JsonTextEncoding as Encodes<Vec<String>>>::encode(&vec!["é".into()]).unwrap();
        let back: Vec<String> = <JsonTextEncoding as Decodes<Vec<String>>>::decode(bytes).unwrap();
        assert_eq!(back, ["é"]);
        let bad = <JsonTextEncoding as Decodes<Vec<String>>>::decode(Bytes::from_static(b"[\"\xff\"]"));
        assert!(bad.is_err());
    }

    #[test]
    fn reads_a_value_through_its_text() {
        let names: Vec<String> = from_value(&serde_json::json!(["Rex", "Fido"])).unwrap();
        assert_eq!(names, ["Rex", "Fido"]);
        assert!(from_value::<Vec<u32>>(&serde_json::json!(["Rex"])).is_err());
    }
}
