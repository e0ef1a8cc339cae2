//! Platform events: the catalog of types and publishing (ingest).

pub mod catalog;
pub mod ingest;
