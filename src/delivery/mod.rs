//! Getting events to webhook endpoints: the HTTP sender, the outcome rules
//! and the worker that drives due deliveries.

pub mod dispatch;
pub mod outcome;
pub mod retention;
pub mod sender;
pub mod worker;
