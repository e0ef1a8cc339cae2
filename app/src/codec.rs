//! How the server functions speak: JSON both ways, decoded from text, with
//! one compiled HTTP exchange in the browser.
//!
//! server_fn's own `Json` decodes a response with `serde_json::from_slice`,
//! while a resource hydrates its value with `serde_json::from_str`: the WASM
//! then held two deserializers of every type that crosses the wire (80
//! `deserialize_struct` copies, 283 KB before wasm-opt). Decoding the body as
//! UTF-8 text first makes both paths share one.
//!
//! [`Rpc`] is the protocol of every server function. The server side is
//! server_fn's own (`Http`, JSON text out; JSON text in, or a form-encoded
//! body from a plain HTML form posted without JavaScript); the browser side
//! serializes the arguments, then hands text to one exchange ([`exchange`])
//! that is compiled once, instead of the generic request, response and error
//! state machine that server_fn's `Http` compiles for every function's pair of
//! types (about 2 KB of WASM each, 55 times).

use http::Method;
use leptos::server_fn::client::Client;
use leptos::server_fn::codec::{Post, PostUrl};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::request::{ClientReq, Req};
use leptos::server_fn::response::ClientRes;
use leptos::server_fn::server::Server;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType, Http, Protocol};
use serde::de::{DeserializeOwned, Error as _};
use serde::Serialize;
use std::future::Future;

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

/// The protocol of the server functions: JSON text (or form fields) in, JSON
/// text out.
pub struct Rpc;

impl<Input, Output, C, S, E> Protocol<Input, Output, C, S, E> for Rpc
where
    Http<JsonText, JsonText>: Protocol<Input, Output, C, S, E>,
    Http<PostUrl, JsonText>: Protocol<Input, Output, C, S, E>,
    Input: Serialize + Send,
    Output: DeserializeOwned + Send,
    C: Client<E>,
    S: Server<E>,
    E: FromServerFnError + Send,
{
    const METHOD: Method = Method::POST;

    /// Takes JSON, or a form-encoded body: a plain HTML form posted without
    /// JavaScript (the API-key form) reaches the same function.
    async fn run_server<F, Fut>(request: S::Request, server_fn: F) -> Result<S::Response, E>
    where
        F: Fn(Input) -> Fut + Send,
        Fut: Future<Output = Result<Output, E>> + Send,
    {
        let form = request.to_content_type().is_some_and(|t| t.starts_with(PostUrl::CONTENT_TYPE));
        if form {
            <Http<PostUrl, JsonText> as Protocol<Input, Output, C, S, E>>::run_server(request, server_fn).await
        } else {
            <Http<JsonText, JsonText> as Protocol<Input, Output, C, S, E>>::run_server(request, server_fn).await
        }
    }

    async fn run_client(path: &str, input: Input) -> Result<Output, E> {
        let body = serde_json::to_string(&input)
            .map_err(|e| E::from_server_fn_error(ServerFnErrorErr::Serialization(e.to_string())))?;
        let text = exchange::<C, E>(path, body).await?;
        serde_json::from_str(&text)
            .map_err(|e| E::from_server_fn_error(ServerFnErrorErr::Deserialization(e.to_string())))
    }
}

/// Posts JSON text and returns the response's text: what server_fn's `Http`
/// does, for every server function at once. An error status (4xx/5xx) comes
/// back as the server's error; a redirect calls the router's redirect hook.
async fn exchange<C: Client<E>, E: FromServerFnError + Send>(path: &str, body: String) -> Result<String, E> {
    let json = JsonTextEncoding::CONTENT_TYPE;
    let request = C::Request::try_new_req_text(path, json, json, body, Method::POST)?;
    let response = C::send(request).await?;
    let status = response.status();
    let location = response.location();
    let redirected = response.has_redirect();
    if (400..=599).contains(&status) {
        return Err(E::de(response.try_into_bytes().await?));
    }
    let text = response.try_into_string().await?;
    if (300..=399).contains(&status) || redirected {
        leptos::server_fn::redirect::call_redirect_hook(&location);
    }
    Ok(text)
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
