//! `invoice.overdue`: when an invoice is sent, a due row is scheduled for
//! the start of the day after its due date (in the practice's timezone).
//! Its handler emits the event if the invoice is still unpaid, in the same
//! transaction that finishes the row, so it is emitted once per invoice
//! whatever the number of instances. Paying, voiding or deleting the invoice
//! cancels the row.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::data::{self, Change};
use super::service::to_record;
use super::store;
use super::time::start_of_day;
use super::{Entity, Record};
use crate::due::{self, kinds, Claimed, Handler, Room, Runner};
use crate::ids::new_id;
use crate::store::Tx;
use crate::{Error, Result, Services};

/// The due row's partition: overdue checks are one queue of their own.
const PARTITION: &str = "invoices";

/// When an invoice due on `due_date` becomes overdue: the start of the next day.
pub fn overdue_at(due_date: &str, tz: chrono_tz::Tz) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(due_date, "%Y-%m-%d").ok()?;
    start_of_day(date.succ_opt()?, tz)
}

/// Keeps the overdue check in step with a change to an invoice (in its transaction).
pub(crate) async fn follow(s: &Services, tx: &mut Tx, record: &Record, change: Change<'_>, now: i64) -> Result<()> {
    if record.entity != Entity::Invoice {
        return Ok(());
    }
    let status = record.str("status").unwrap_or_default();
    match change {
        Change::Transition("send") => {
            let at = record
                .str("dueDate")
                .and_then(|d| overdue_at(d, s.settings.timezone))
                .ok_or_else(|| Error::invalid("dueDate", "must be a date"))?;
            due::store::schedule(tx, &new_id("due"), kinds::INVOICE_OVERDUE, &record.id, PARTITION, at, now).await?;
            s.due_work_added();
        }
        _ if status != "sent" || record.deleted_at.is_some() => {
            due::store::cancel(tx, kinds::INVOICE_OVERDUE, &record.id).await?;
        }
        _ => {}
    }
    Ok(())
}

/// Emits `invoice.overdue` for claimed rows whose invoice is still unpaid.
pub struct OverdueHandler {
    services: Services,
    in_hand: Arc<AtomicUsize>,
}

impl OverdueHandler {
    pub fn new(services: Services) -> Arc<Self> {
        Arc::new(OverdueHandler { services, in_hand: Arc::default() })
    }
}

impl Handler for OverdueHandler {
    fn kind(&self) -> &'static str {
        kinds::INVOICE_OVERDUE
    }

    fn room(&self) -> Room {
        Room { free: 32usize.saturating_sub(self.in_hand.load(Ordering::Relaxed)), skip: Vec::new() }
    }

    fn start(&self, rows: Vec<Claimed>) {
        self.in_hand.fetch_add(rows.len(), Ordering::Relaxed);
        let (s, in_hand) = (self.services.clone(), self.in_hand.clone());
        tokio::spawn(async move {
            for row in rows {
                if let Err(e) = check(&s, &row).await {
                    tracing::warn!(error = %e, invoice = %row.subject_id, "the overdue check failed; it is tried again");
                    due::record_failure(&s, &row, &e.to_string(), 30_000).await;
                }
                in_hand.fetch_sub(1, Ordering::Relaxed);
            }
            s.room_freed.notify_one();
        });
    }

    fn stop(self: Arc<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

async fn check(s: &Services, row: &Claimed) -> Result<()> {
    let now = s.now_ms();
    let owner = Runner::owner(s);
    let mut tx = s.db.begin().await?;
    // The invoice row is written before the due row, the order every change
    // to an invoice takes, so two transactions never wait on each other.
    let mut emit = None;
    if let Some(inv) = store::lock(&mut tx, &row.subject_id).await? {
        let mut fields: Map<String, Value> = serde_json::from_str(&inv.data).map_err(Error::internal)?;
        let unpaid = inv.deleted_at.is_none() && fields.get("status").and_then(Value::as_str) == Some("sent");
        if unpaid && !fields.contains_key("overdueAt") {
            fields.insert("overdueAt".into(), json!(crate::clock::rfc3339(now)));
            let updated = store::RecordRow {
                version: inv.version + 1,
                data: Value::Object(fields).to_string(),
                updated_at: now,
                ..inv.clone()
            };
            if !store::update(&mut tx, &updated, inv.version).await? {
                return Err(Error::Conflict("the invoice changed during the overdue check".into()));
            }
            emit = Some(to_record(&updated)?);
        }
    }
    // Fenced: if another instance took the row over (or the invoice was paid and the row cancelled), nothing is written.
    if due::store::finish(&mut tx, &owner, &[&row.lease()]).await?.is_empty() {
        return Ok(());
    }
    let mut emitted = Vec::new();
    if let Some(record) = emit {
        let client = match record.str("clientId") {
            Some(cid) => store::get_in(&mut tx, cid).await?.map(|c| to_record(&c)).transpose()?,
            None => None,
        };
        let payload = data::event_data(&record, None, client.as_ref(), None);
        emitted.push(s.emit(&mut tx, "invoice.overdue", &payload, Some(&record.id), &[]).await?);
    }
    tx.commit().await?;
    s.emitted(&emitted);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoice_is_overdue_from_the_start_of_the_day_after_it_was_due() {
        let london: chrono_tz::Tz = "Europe/London".parse().unwrap();
        // Due on 2026-07-01 (summer time): overdue from 2026-07-02 00:00 BST = 2026-07-01 23:00 UTC.
        assert_eq!(overdue_at("2026-07-01", london), Some(1_782_946_800_000));
        assert_eq!(overdue_at("not a date", london), None);
    }
}
