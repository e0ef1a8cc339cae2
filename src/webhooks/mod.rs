//! Webhook subscriptions, their deliveries and statistics.

pub mod cache;
pub mod model;
pub mod service;
pub mod store;

pub use model::*;
