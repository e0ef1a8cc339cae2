//! What starts executions: a person (manual), an event (in the event's own
//! transaction), a schedule (a due row per template); and record changes
//! that move the waits anchored to them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{json, Value};
use wire::condition::ConditionGroup;
use wire::records::Record;

use super::store::{self, ExecutionRow, TemplateRow};
use crate::due::{self, kinds, Claimed, Handler, Room, Runner};
use crate::ids::new_id;
use crate::records::data::Change;
use crate::store::Tx;
use crate::{Error, Result, Services};

/// A new execution of `actions` (a template's, as they are now), due at once.
#[allow(clippy::too_many_arguments)]
pub fn new_execution(
    template: Option<&TemplateRow>,
    name: &str,
    trigger_type: &str,
    actions: &str,
    trigger_data: &Value,
    cause: &[String],
    now: i64,
) -> ExecutionRow {
    ExecutionRow {
        id: new_id("exe"),
        template_id: template.map(|t| t.id.clone()),
        template_version: template.map(|t| t.version),
        workflow_name: name.to_string(),
        trigger_type: trigger_type.to_string(),
        trigger_data: trigger_data.to_string(),
        actions: actions.to_string(),
        status: "pending".into(),
        cursor: Some("[0]".into()),
        current_action_id: None,
        variables: "{}".into(),
        waiting_until: None,
        wait_record_id: None,
        wait_field: None,
        wait_offset_ms: None,
        cause: (!cause.is_empty()).then(|| serde_json::to_string(cause).expect("strings serialise")),
        parent_execution_id: None,
        parent_action_id: None,
        error: None,
        started_at: now,
        completed_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Writes new executions with their due rows (and their templates' usage) in `tx`.
pub async fn insert_started(tx: &mut Tx, executions: &[ExecutionRow], now: i64) -> Result<()> {
    if executions.is_empty() {
        return Ok(());
    }
    store::insert_executions(tx, executions).await?;
    let mut usage: Vec<(&str, i64)> = Vec::new();
    // A parallel step's branches are not runs of their template.
    for t in executions.iter().filter(|e| e.trigger_type != "parallel").filter_map(|e| e.template_id.as_deref()) {
        match usage.iter_mut().find(|(id, _)| *id == t) {
            Some((_, n)) => *n += 1,
            None => usage.push((t, 1)),
        }
    }
    // In id order, so concurrent batches lock the template rows in one order (PostgreSQL).
    usage.sort_unstable();
    for (t, n) in usage {
        store::count_usage(tx, t, n).await?;
    }
    let ids: Vec<String> = executions.iter().map(|_| new_id("due")).collect();
    let rows: Vec<due::NewDue> = executions
        .iter()
        .zip(&ids)
        .map(|(e, id)| due::NewDue {
            id,
            kind: kinds::WORKFLOW,
            subject_id: &e.id,
            partition_key: "workflows",
            available_at: e.created_at,
            lease_owner: None,
        })
        .collect();
    due::store::insert(tx, &rows, now).await
}

/// Starts an execution in `tx`; returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    tx: &mut Tx,
    template: Option<&TemplateRow>,
    name: &str,
    trigger_type: &str,
    actions: &str,
    trigger_data: &Value,
    cause: &[String],
    now: i64,
) -> Result<String> {
    let row = new_execution(template, name, trigger_type, actions, trigger_data, cause, now);
    insert_started(tx, std::slice::from_ref(&row), now).await?;
    Ok(row.id)
}

/// Whether an event's data passes an event trigger's optional conditions.
pub fn matches(template: &TemplateRow, data: &Value) -> bool {
    let config: Value = serde_json::from_str(&template.trigger_config).unwrap_or(Value::Null);
    match config.get("conditions") {
        None | Some(Value::Null) => true,
        Some(c) => serde_json::from_value::<ConditionGroup>(c.clone()).map(|g| g.evaluate(data)).unwrap_or(false),
    }
}

/// The executions an event starts: one per active template it triggers whose conditions pass.
/// `tx`: the change's transaction when the event is emitted in one (a miss reads on its connection).
pub async fn for_event(
    s: &Services,
    tx: Option<&mut Tx>,
    event_type: &str,
    data: &Value,
    cause: &[String],
    now: i64,
) -> Result<Vec<ExecutionRow>> {
    // A workflow whose own change triggers it again stops at the cause depth (records refuse the change).
    if cause.len() >= s.settings.max_cause_depth {
        return Ok(Vec::new());
    }
    let templates = match tx {
        Some(tx) => s.workflow_templates_for_in(tx, event_type).await?,
        None => s.workflow_templates_for(event_type).await?,
    };
    Ok(templates
        .iter()
        .filter(|t| matches(t, data))
        .map(|t| new_execution(Some(t), &t.name, "event", &t.actions, data, cause, now))
        .collect())
}

/// Keeps a template's schedule row in step with the template (in its transaction).
pub async fn reschedule_template(s: &Services, tx: &mut Tx, t: &TemplateRow, now: i64) -> Result<()> {
    let config: Value = serde_json::from_str(&t.trigger_config).unwrap_or(Value::Null);
    let next = (t.is_active && t.trigger_type == "schedule")
        .then(|| {
            let cron = super::schedule::parse(config["cron"].as_str()?).ok()?;
            let tz = config["timezone"].as_str().and_then(|z| z.parse().ok()).unwrap_or(s.settings.timezone);
            super::schedule::next_after(&cron, tz, now)
        })
        .flatten();
    match next {
        Some(at) => {
            due::store::schedule(tx, &new_id("due"), kinds::WORKFLOW_SCHEDULE, &t.id, "schedules", at, now).await
        }
        None => due::store::cancel(tx, kinds::WORKFLOW_SCHEDULE, &t.id).await.map(|_| ()),
    }
}

/// A record changed: waits anchored to one of its times move with it, and a
/// cancelled or deleted appointment cancels the executions waiting on it.
pub async fn record_changed(s: &Services, tx: &mut Tx, record: &Record, change: Change<'_>, now: i64) -> Result<()> {
    let gone = matches!(change, Change::Deleted | Change::Transition("cancel"));
    let waiting = store::waiting_on_record(tx, &record.id).await?;
    for mut e in waiting {
        if gone {
            e.status = "cancelled".into();
            e.error = Some(format!(
                "{} {} was {}",
                record.entity.label(),
                record.id,
                if change == Change::Deleted { "deleted" } else { "cancelled" }
            ));
            e.completed_at = Some(now);
            e.updated_at = now;
            store::cancel_steps(tx, &e.id, now).await?;
            due::store::cancel(tx, kinds::WORKFLOW, &e.id).await?;
            store::save_execution(tx, &e).await?;
            continue;
        }
        let field = e.wait_field.clone().unwrap_or_default();
        let Some(at) = record.str(&field).and_then(|t| crate::records::time::parse_time(t, s.settings.timezone)) else {
            continue;
        };
        let until = at + e.wait_offset_ms.unwrap_or(0);
        if e.waiting_until == Some(until) {
            continue;
        }
        e.waiting_until = Some(until);
        e.updated_at = now;
        store::save_execution(tx, &e).await?;
        due::store::schedule(tx, &new_id("due"), kinds::WORKFLOW, &e.id, "workflows", until.max(now), now).await?;
    }
    Ok(())
}

/// Starts a schedule's execution at each tick, once across instances.
pub struct ScheduleHandler {
    services: Services,
    in_hand: Arc<AtomicUsize>,
}

impl ScheduleHandler {
    pub fn new(services: Services) -> Arc<Self> {
        Arc::new(ScheduleHandler { services, in_hand: Arc::default() })
    }
}

impl Handler for ScheduleHandler {
    fn kind(&self) -> &'static str {
        kinds::WORKFLOW_SCHEDULE
    }

    fn room(&self) -> Room {
        Room { free: 16usize.saturating_sub(self.in_hand.load(Ordering::Relaxed)), skip: Vec::new() }
    }

    fn start(&self, rows: Vec<Claimed>) {
        self.in_hand.fetch_add(rows.len(), Ordering::Relaxed);
        let (s, in_hand) = (self.services.clone(), self.in_hand.clone());
        tokio::spawn(async move {
            for row in rows {
                if let Err(e) = tick(&s, &row).await {
                    tracing::warn!(error = %e, template = %row.subject_id, "a scheduled start failed; it is tried again");
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

async fn tick(s: &Services, row: &Claimed) -> Result<()> {
    let now = s.now_ms();
    let owner = Runner::owner(s);
    let mut tx = s.db.begin().await?;
    let Some(t) = store::lock_template(&mut tx, &row.subject_id).await? else {
        due::store::finish(&mut tx, &owner, &[&row.lease()]).await?;
        return tx.commit().await;
    };
    let config: Value = serde_json::from_str(&t.trigger_config).unwrap_or(Value::Null);
    let cron = config["cron"]
        .as_str()
        .map(super::schedule::parse)
        .transpose()
        .map_err(|e| Error::internal(format!("cron {e}")))?;
    let tz = config["timezone"].as_str().and_then(|z| z.parse().ok()).unwrap_or(s.settings.timezone);
    let next = cron.as_ref().and_then(|c| super::schedule::following(c, tz, now));
    let live = t.is_active && t.trigger_type == "schedule";
    // Fenced: only the holder of this tick starts it and moves the row on.
    let held = match (live, next) {
        (true, Some(at)) => !due::store::reschedule(&mut tx, &owner, &[(&row.lease(), at)]).await?.is_empty(),
        _ => !due::store::finish(&mut tx, &owner, &[&row.lease()]).await?.is_empty(),
    };
    if held && live {
        let tick = cron.as_ref().and_then(|c| super::schedule::latest_at_or_before(c, tz, now)).unwrap_or(now);
        let data = json!({"scheduledAt": crate::clock::rfc3339(tick)});
        start(&mut tx, Some(&t), &t.name, "schedule", &t.actions, &data, &[], now).await?;
    }
    tx.commit().await?;
    if held && live {
        s.due_work_added();
    }
    Ok(())
}
