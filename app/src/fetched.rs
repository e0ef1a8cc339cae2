//! Resources with their value type erased: one compiled resource for every page.
//!
//! A Leptos `Resource<T>` compiles its loader (a large async state machine),
//! its hydration decode and its reactive plumbing once per value type, source
//! type and fetcher closure: 34 resources meant 34 copies in the WASM. Here the
//! framework sees one resource type, [`Payload`] (the value behind an `Arc<dyn
//! Any>`, or the JSON text it was serialized to on the server), keyed by an
//! erased source and fed by a boxed future, so it is compiled once. What stays
//! per page is small: boxing the future, comparing the source, and
//! deserializing the value, which the server function's client needs anyway.
//!
//! The value crosses from the server render to the browser as the JSON of
//! `Result<T, ServerFnError>` (the same text `Resource::new` would send); the
//! browser parses it on first read and keeps the parsed value.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;

/// What every fetched value must be: sent from the server render to the
/// browser (serialized on the server only, so the WASM holds no serializer).
#[cfg(feature = "ssr")]
pub trait Wire: serde::Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}
#[cfg(feature = "ssr")]
impl<T: serde::Serialize + DeserializeOwned + Clone + Send + Sync + 'static> Wire for T {}
#[cfg(not(feature = "ssr"))]
pub trait Wire: DeserializeOwned + Clone + Send + Sync + 'static {}
#[cfg(not(feature = "ssr"))]
impl<T: DeserializeOwned + Clone + Send + Sync + 'static> Wire for T {}

/// A loaded `Result<T, ServerFnError>`, reactive like a resource: `get()`
/// tracks it, returns `None` while it first loads, and suspends a
/// `<Suspense>`/`<Transition>` around it.
pub struct Fetched<T> {
    resource: Resource<Payload, PayloadCodec>,
    value: PhantomData<fn() -> T>,
}

impl<T> Clone for Fetched<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Fetched<T> {}

impl<T: Wire> Fetched<T> {
    /// The loaded value (cloned), tracked; `None` until the first load ends.
    pub fn get(&self) -> Option<Result<T, ServerFnError>> {
        self.resource.get().map(|p| p.read::<T>())
    }
}

/// Like `Resource::new`: reloads whenever `source` changes, by calling
/// `fetch` with its value.
pub fn fetched<S, Fut, T>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetch: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Fetched<T>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ServerFnError>> + Send + 'static,
    T: Wire,
{
    let source = Arc::new(move || Key(Arc::new(source())));
    let fetch = Arc::new(move |key: Key| -> LoadFuture {
        let source = key.0.as_any().downcast_ref::<S>().cloned().expect("a fetched source keeps its type");
        let loading = fetch(source);
        Box::pin(async move { Payload::loaded(loading.await) })
    });
    Fetched { resource: erased_resource(source, fetch), value: PhantomData }
}

/// Loads once (like `OnceResource`).
pub fn fetched_once<Fut, T>(fetch: impl Fn() -> Fut + Send + Sync + 'static) -> Fetched<T>
where
    Fut: Future<Output = Result<T, ServerFnError>> + Send + 'static,
    T: Wire,
{
    fetched(|| (), move |()| fetch())
}

type LoadFuture = Pin<Box<dyn Future<Output = Payload> + Send>>;

/// The one place the framework's resource is instantiated.
fn erased_resource(
    source: Arc<dyn Fn() -> Key + Send + Sync>,
    fetch: Arc<dyn Fn(Key) -> LoadFuture + Send + Sync>,
) -> Resource<Payload, PayloadCodec> {
    Resource::new_with_options(move || source(), move |key| fetch(key), false)
}

/// A resource's source value behind `dyn`, compared by value.
#[derive(Clone)]
struct Key(Arc<dyn SourceValue>);

trait SourceValue: Send + Sync + 'static {
    fn as_any(&self) -> &dyn Any;
    fn same_as(&self, other: &dyn SourceValue) -> bool;
}

impl<S: PartialEq + Send + Sync + 'static> SourceValue for S {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same_as(&self, other: &dyn SourceValue) -> bool {
        other.as_any().downcast_ref::<S>() == Some(self)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_as(&*other.0)
    }
}

/// A fetched value: either loaded here, or the JSON text the server render
/// sent, parsed on first read.
#[derive(Clone)]
pub struct Payload(Arc<PayloadInner>);

struct PayloadInner {
    /// Set when loaded here; filled on first read when it came as text.
    value: OnceLock<Box<dyn Any + Send + Sync>>,
    origin: Origin,
}

enum Origin {
    Text(Box<str>),
    /// Loaded here; on the server, with how to write it for the browser.
    #[cfg(feature = "ssr")]
    Loaded(fn(&(dyn Any + Send + Sync)) -> Result<String, String>),
    #[cfg(not(feature = "ssr"))]
    Loaded,
}

impl Payload {
    fn loaded<T: Wire>(value: Result<T, ServerFnError>) -> Self {
        #[cfg(feature = "ssr")]
        let origin = Origin::Loaded(|value| {
            let value = value.downcast_ref::<Result<T, ServerFnError>>().ok_or("a payload keeps its type")?;
            serde_json::to_string(value).map_err(|e| e.to_string())
        });
        #[cfg(not(feature = "ssr"))]
        let origin = Origin::Loaded;
        Payload(Arc::new(PayloadInner { value: OnceLock::from(Box::new(value) as Box<dyn Any + Send + Sync>), origin }))
    }

    fn read<T: Wire>(&self) -> Result<T, ServerFnError> {
        let value = self.0.value.get_or_init(|| {
            // Only a payload that came as text starts without a value.
            let text = match &self.0.origin {
                Origin::Text(text) => text,
                _ => "null",
            };
            let parsed: Result<T, ServerFnError> =
                serde_json::from_str(text).unwrap_or_else(|e| Err(ServerFnError::Deserialization(e.to_string())));
            Box::new(parsed)
        });
        match value.downcast_ref::<Result<T, ServerFnError>>() {
            Some(value) => value.clone(),
            None => Err(ServerFnError::Deserialization("a fetched value was read as another type".into())),
        }
    }
}

/// How a [`Payload`] travels in the server-rendered page: its JSON text.
pub struct PayloadCodec;

impl Encoder<Payload> for PayloadCodec {
    type Error = String;
    type Encoded = String;

    fn encode(payload: &Payload) -> Result<String, String> {
        match &payload.0.origin {
            Origin::Text(text) => Ok(text.to_string()),
            #[cfg(feature = "ssr")]
            Origin::Loaded(to_json) => payload
                .0
                .value
                .get()
                .ok_or_else(|| "a loaded payload has its value".to_string())
                .and_then(|v| to_json(&**v)),
            // The browser never sends a resource back.
            #[cfg(not(feature = "ssr"))]
            Origin::Loaded => Err("only the server encodes a loaded value".into()),
        }
    }
}

impl Decoder<Payload> for PayloadCodec {
    type Error = std::convert::Infallible;
    type Encoded = str;

    fn decode(text: &str) -> Result<Payload, Self::Error> {
        Ok(Payload(Arc::new(PayloadInner { value: OnceLock::new(), origin: Origin::Text(text.into()) })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_survives_the_trip_from_server_to_browser() {
        let sent = Payload::loaded::<Vec<String>>(Ok(vec!["Rex".into()]));
        let text = PayloadCodec::encode(&sent).unwrap();
        let received = PayloadCodec::decode(&text).unwrap();
        assert_eq!(received.read::<Vec<String>>().unwrap(), ["Rex"]);
        let failed = Payload::loaded::<u32>(Err(ServerFnError::new("not signed in")));
        let back = PayloadCodec::decode(&PayloadCodec::encode(&failed).unwrap()).unwrap();
        assert!(back.read::<u32>().unwrap_err().to_string().contains("not signed in"));
    }

    #[test]
    fn text_that_is_not_the_value_reads_as_an_error() {
        let received = PayloadCodec::decode("{\"Ok\": \"not a number\"}").unwrap();
        assert!(matches!(received.read::<u32>(), Err(ServerFnError::Deserialization(_))));
    }

    #[test]
    fn sources_compare_by_value_and_type() {
        let a = Key(Arc::new((String::from("wh_1"), 3u64)));
        assert!(a == Key(Arc::new((String::from("wh_1"), 3u64))));
        assert!(a != Key(Arc::new((String::from("wh_1"), 4u64))));
        assert!(a != Key(Arc::new(3u64)));
    }
}
