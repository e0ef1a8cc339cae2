//! Getting events to webhook endpoints: the HTTP sender, the outcome rules,
//! the due-work handler that drives deliveries, and their store.

pub mod attempt;
pub mod dispatch;
pub mod handler;
pub mod outcome;
pub mod record;
pub mod retention;
pub mod sender;
pub mod store;
