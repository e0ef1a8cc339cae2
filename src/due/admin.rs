//! What admins may do with the queue: see dead rows, retry or discard them.

use super::store;
use crate::auth::{Action, Authorize, Principal};
use crate::clock::rfc3339;
use crate::{Error, Result, Services};
use wire::queue::DeadWork;

fn to_wire(r: store::DeadRow) -> DeadWork {
    DeadWork {
        id: r.id,
        kind: r.kind,
        subject_id: r.subject_id,
        partition_key: r.partition_key,
        attempts: r.attempts,
        last_error: r.last_error,
        dead_at: rfc3339(r.dead_at),
        created_at: rfc3339(r.created_at),
    }
}

impl Services {
    /// Dead rows, newest first.
    pub async fn dead_work(&self, caller: &Principal, limit: i64) -> Result<Vec<DeadWork>> {
        caller.require(Action::ManageQueue)?;
        Ok(self.db.dead_rows(limit.clamp(1, 500)).await?.into_iter().map(to_wire).collect())
    }

    /// Makes a dead row due again now, its attempts forgotten.
    pub async fn retry_dead_work(&self, caller: &Principal, id: &str) -> Result<()> {
        caller.require(Action::ManageQueue)?;
        let mut tx = self.db.begin().await?;
        let revived = store::revive(&mut tx, id, self.now_ms()).await?;
        tx.commit().await?;
        if !revived {
            return Err(Error::NotFound("dead work"));
        }
        self.due_work_added();
        Ok(())
    }

    /// Removes a dead row for good.
    pub async fn discard_dead_work(&self, caller: &Principal, id: &str) -> Result<DeadWork> {
        caller.require(Action::ManageQueue)?;
        let mut tx = self.db.begin().await?;
        let row = store::discard(&mut tx, id).await?;
        if let Some(r) = row.as_ref().filter(|r| r.kind == super::kinds::DELIVERY) {
            // Its delivery will never be attempted again: say so in its history.
            let reason = "discarded from the queue by an admin after repeated failures";
            crate::delivery::store::give_up(&mut tx, &r.subject_id, reason, self.now_ms()).await?;
        }
        tx.commit().await?;
        row.map(to_wire).ok_or(Error::NotFound("dead work"))
    }
}
