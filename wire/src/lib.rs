//! The types that cross the wire: what the REST API answers and accepts,
//! what server functions exchange with the browser, and the pure validation
//! that both sides run (conditions, retry policies).
//!
//! This crate has no database, no HTTP and no Leptos, so it compiles for the
//! server and for WASM alike; the server derives its OpenAPI document from
//! these types (feature `openapi`). A field renamed here is a compile error
//! in the domain, the REST layer and the UI at once.

pub mod auth;
pub mod builder;
pub mod condition;
pub mod cron_words;
pub mod error;
pub mod inspector;
pub mod notifications;
pub mod queue;
pub mod records;
pub mod retry;
pub mod webhooks;
pub mod workflows;
pub mod zone;

pub use error::{FieldError, Invalid, Validator};
