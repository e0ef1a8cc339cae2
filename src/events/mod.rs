//! Platform events: the catalog of types and publishing (ingest).

pub(crate) mod batcher;
pub mod catalog;
pub mod ingest;
pub mod store;
