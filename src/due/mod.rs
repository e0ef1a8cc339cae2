//! Due work: the one queue for "do this at (or after) that time", shared by
//! webhook deliveries and (next) workflow steps, timers and schedules.
//!
//! This module owns the `due_work` table and all of its SQL ([`store`]) and
//! the one runner per process that claims rows and hands them to a
//! [`Handler`] per kind ([`runner`]).
//!
//! Invariants:
//! - **Visibility time.** A row is claimable when `available_at <= now` and
//!   it is not dead. A claim sets `available_at` to now + lease (like SQS's
//!   visibility timeout), writes `lease_owner`, bumps `fence` and counts an
//!   attempt. A worker that dies simply lets `available_at` pass, and the row
//!   is claimed again: nothing is lost, and work is at-least-once.
//! - **Fencing.** Finishing, rescheduling, releasing or failing a row names
//!   the lease it holds (`id`, `fence`) and its owner, in the same statement.
//!   When 0 rows match, the lease was lost (it expired and someone else
//!   claimed the row, or a person re-queued it): the caller's transaction
//!   writes nothing of that row's work.
//! - **Dead rows.** A row claimed `max_attempts` times without a clean finish
//!   (its handling kept failing or crashing) stops being leased: it is marked
//!   dead with its last error, counted in metrics and listed for admins, who
//!   may retry or discard it.
//! - **Index probes only.** Claiming and "when is the next row due" read the
//!   partial index on `(kind, available_at, partition_key)` of live rows, so
//!   their cost does not grow with the number of rows waiting in the future.

pub mod admin;
mod leases;
pub mod runner;
pub mod store;

pub use runner::{record_failure, Handler, Room, Runner};
pub use store::{Claimed, DeadRow, Lease, NewDue};

/// Kinds of due work.
pub mod kinds {
    /// A webhook delivery attempt; the subject is the delivery id, the partition its webhook.
    pub const DELIVERY: &str = "delivery";
    /// An invoice's overdue check; the subject is the invoice id.
    pub const INVOICE_OVERDUE: &str = "invoice_overdue";
    /// A workflow execution's next step (or the end of its wait); the subject is the execution id.
    pub const WORKFLOW: &str = "workflow";
    /// A schedule-triggered template's next tick; the subject is the template id.
    pub const WORKFLOW_SCHEDULE: &str = "workflow_schedule";
    /// An email to send through SMTP; the subject is its outbox id.
    pub const EMAIL: &str = "email";
}
