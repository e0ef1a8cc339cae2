//! Webhook subscriptions, their deliveries and statistics.

pub mod cache;
pub mod headers;
pub mod service;
pub mod store;

pub use wire::webhooks::*;
