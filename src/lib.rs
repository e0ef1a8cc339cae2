//! Purple Cross Automations: the domain core.
//!
//! Everything here compiles and tests without Leptos or axum. The server and the
//! UI's server functions are thin shells over [`Services`].

pub mod auth;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod ids;
pub mod services;
pub mod store;
pub mod testing;

pub use error::{Error, FieldError, Result};
pub use services::Services;
