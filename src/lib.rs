//! Purple Cross Automations: the domain core.
//!
//! Everything here compiles and tests without Leptos or axum. The server and the
//! UI's server functions are thin shells over [`Services`].

pub mod auth;
pub mod clock;
pub mod crypto;
pub mod delivery;
pub mod demo;
pub mod due;
pub mod error;
pub mod events;
pub mod ids;
pub mod inspector;
pub mod metrics;
pub mod notifications;
pub mod rate_limit;
pub mod records;
pub mod services;
pub mod settings;
pub mod signals;
pub mod signature;
pub mod ssrf;
pub mod store;
pub mod testing;
pub mod webhooks;
pub mod workflows;

pub use error::{Error, FieldError, Result};
pub use services::Services;
pub use wire::{condition, retry};
