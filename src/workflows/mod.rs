//! Workflow automation: templates (trigger + actions), and a durable engine
//! that runs executions step by step on the due-work queue.
//!
//! Invariants:
//! - No task or thread is held per execution: an execution is a row (with a
//!   snapshot of the actions it runs and a cursor into them) and at most one
//!   due row (`kinds::WORKFLOW`). A 24-hour wait is a due row 24 hours away.
//! - Each step's outcome, the cursor's move and the execution's state commit
//!   in a transaction fenced by the execution's lease (steps inside the
//!   database share one; a webhook's call happens between two, never inside
//!   one): a crash resumes from the last commit, never from the beginning,
//!   and a claim that lost its lease writes nothing.
//! - Steps that reach outside carry an idempotency key (`<execution>:<action>`):
//!   an email is one outbox row whatever the retries; a webhook call sends
//!   `idempotency-key`; a record change happens in the step's transaction.
//! - An event starts the executions it triggers in the transaction that
//!   stores the event (the ingest group commit, or a record change's own).
//! - A schedule is one due row per template (`kinds::WORKFLOW_SCHEDULE`):
//!   its claim starts the execution and moves the row to the next tick in
//!   one fenced transaction, so a tick runs once across instances, and a
//!   tick missed while down runs once.
//! - An execution runs the template version it started with; editing a
//!   template never breaks a run that waits.

pub mod actions;
pub mod children;
pub mod drafts;
pub mod dry_run;
pub mod email;
pub mod engine;
pub mod executions;
mod library;
pub mod render;
pub mod schedule;
pub mod service;
pub(crate) mod starter;
pub mod step;
pub mod store;
pub mod template;
pub mod triggers;
mod writes;

pub use wire::workflows::*;
