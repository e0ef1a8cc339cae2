//! The `purple-cross` binary as a library, so integration tests can start the
//! real server in-process.

pub mod allocator;
pub mod cli;
pub mod config;
pub mod http;
pub mod site;
