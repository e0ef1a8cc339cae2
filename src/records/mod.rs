//! Practice records: the small practice data layer that stands in for the
//! platform's database, so that every seed event has a real source and
//! workflows have something to read and write.
//!
//! Invariants:
//! - Every write is validated against the entity's JSON Schema and its
//!   relations (an owner, a patient that exists) before anything is written,
//!   with errors that name the field.
//! - A change and the event it emits (with the event's deliveries and due
//!   rows) commit in one transaction: a failing write leaves neither.
//! - Updates are optimistic: the caller sends the `version` it read, and a
//!   stale one gets 409 and changes nothing.
//! - A change caused by workflow runs carries their chain; past
//!   `max_cause_depth` it is refused, so a workflow that updates the record
//!   that triggered it cannot loop forever.
//! - `invoice.overdue` is due work (`kinds::INVOICE_OVERDUE`) scheduled when
//!   the invoice is sent: emitted once per invoice, in the transaction that
//!   finishes its due row, whatever the number of instances.

pub mod data;
pub mod overdue;
mod relations;
pub mod schema;
pub mod service;
pub mod store;
pub mod time;
pub mod transitions;

pub use wire::records::{Entity, Record, RecordList, RecordQuery, TransitionInput};

/// What caused a change: nothing (a person, an integrator), or a chain of
/// workflow executions, the newest last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    pub chain: Vec<String>,
}

impl Cause {
    pub fn by_execution(parent: &Cause, execution_id: &str) -> Cause {
        let mut chain = parent.chain.clone();
        chain.push(execution_id.to_string());
        Cause { chain }
    }
}
