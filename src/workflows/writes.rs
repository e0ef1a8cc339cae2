//! The engine's deferred writes: what a claim's steps change in the
//! execution rows, the step rows and the due rows, kept in memory and
//! written with one multi-row statement per table at the end of the
//! transaction (or earlier, before a step that reads other rows).
//!
//! On SQLite each statement is a round trip to the driver's thread, and
//! these writes were most of a three-step execution's statements; batched
//! over a claimed group they cost a handful per group. Deferring them is
//! safe because they are written in the transaction that holds the leases,
//! before it commits: nobody else can see the rows in between, and the
//! engine flushes before any step whose work reads execution, step or due
//! rows (record changes, branches, sub-workflows, webhook calls).

use std::collections::HashMap;

use super::store::{self, ExecutionRow, StepRow};
use crate::due::{self, Lease};
use crate::store::Tx;
use crate::Result;

#[derive(Default)]
pub(super) struct Writes {
    executions: Vec<ExecutionRow>,
    execution_at: HashMap<String, usize>,
    steps: Vec<StepRow>,
    step_at: HashMap<String, usize>,
    finished: Vec<Lease>,
    rescheduled: Vec<(Lease, i64)>,
}

/// Puts `row` in `rows`, replacing the pending write of the same id (the newest state wins).
fn keep_newest<T>(rows: &mut Vec<T>, at: &mut HashMap<String, usize>, id: &str, row: T) {
    match at.get(id) {
        Some(&i) => rows[i] = row,
        None => {
            at.insert(id.to_string(), rows.len());
            rows.push(row);
        }
    }
}

impl Writes {
    /// The execution's current state is to be written.
    pub fn execution(&mut self, e: &ExecutionRow) {
        keep_newest(&mut self.executions, &mut self.execution_at, &e.id, e.clone());
    }

    /// The step's current state is to be written.
    pub fn step(&mut self, s: &StepRow) {
        keep_newest(&mut self.steps, &mut self.step_at, &s.id, s.clone());
    }

    /// The held due row is done: it is deleted.
    pub fn finish(&mut self, lease: Lease) {
        self.finished.push(lease);
    }

    /// The held due row is due again at `at`, free for anyone then.
    pub fn reschedule(&mut self, lease: Lease, at: i64) {
        self.rescheduled.push((lease, at));
    }

    /// Writes everything pending in `tx`; the due rows fenced by `owner`'s leases.
    pub async fn flush(&mut self, tx: &mut Tx, owner: &str) -> Result<()> {
        if !self.executions.is_empty() {
            store::save_executions(tx, &self.executions).await?;
            self.executions.clear();
            self.execution_at.clear();
        }
        if !self.steps.is_empty() {
            store::upsert_steps(tx, &self.steps).await?;
            self.steps.clear();
            self.step_at.clear();
        }
        if !self.finished.is_empty() {
            let leases: Vec<&Lease> = self.finished.iter().collect();
            due::store::finish(tx, owner, &leases).await?;
            self.finished.clear();
        }
        if !self.rescheduled.is_empty() {
            let items: Vec<(&Lease, i64)> = self.rescheduled.iter().map(|(l, at)| (l, *at)).collect();
            due::store::reschedule(tx, owner, &items).await?;
            self.rescheduled.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_state_of_a_row_replaces_the_pending_one() {
        let mut rows = Vec::new();
        let mut at = HashMap::new();
        keep_newest(&mut rows, &mut at, "a", 1);
        keep_newest(&mut rows, &mut at, "b", 2);
        keep_newest(&mut rows, &mut at, "a", 3);
        assert_eq!(rows, vec![3, 2], "one write per id, in first-seen order, with the newest value");
    }
}
