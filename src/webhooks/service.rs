//! Webhook operations as the API and the UI call them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::cache::PreparedWebhook;
use super::headers;
use super::store::WebhookRow;
use super::*;
use crate::auth::{Action, Authorize, Principal};
use crate::clock::rfc3339;
use crate::delivery::attempt::{self, Completion};
use crate::delivery::outcome::decide;
use crate::delivery::store::{self as deliveries, AttemptRow, DeliveryFilter, DeliveryRow, NewDeliveryRow};
use crate::due::{self, kinds, NewDue};
use crate::error::Validator;
use crate::events::store as event_store;
use crate::ids::new_id;
use crate::{signature, Error, Result, Services};

const MAX_EVENTS: usize = 100;
fn status_of(w: &WebhookRow) -> &'static str {
    match (w.active, w.disabled_reason.as_deref(), w.failing_since) {
        (true, _, Some(_)) => "failing",
        (true, _, None) => "active",
        (false, Some("auto"), _) => "auto_disabled",
        (false, Some("gone"), _) => "disabled",
        (false, _, _) => "paused",
    }
}

fn opt_time(t: Option<i64>) -> Option<String> {
    t.map(rfc3339)
}

impl Services {
    fn to_webhook(&self, w: &WebhookRow, with_secret: bool) -> Result<Webhook> {
        Ok(Webhook {
            id: w.id.clone(),
            name: w.name.clone(),
            url: w.url.clone(),
            events: serde_json::from_str(&w.events).unwrap_or_default(),
            secret: if with_secret { Some(self.master_key.open(&w.secret_sealed)?) } else { None },
            active: w.active,
            status: status_of(w).to_string(),
            disabled_reason: w.disabled_reason.clone(),
            filter: w.filter.as_deref().and_then(|f| serde_json::from_str(f).ok()),
            retry_policy: w.retry_policy.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default(),
            rate_limit: w.rate_limit.map(|r| r as u32),
            headers: {
                let stored = headers::open(&self.master_key, &w.headers)?;
                if with_secret {
                    stored
                } else {
                    headers::masked(stored)
                }
            },
            failing_since: opt_time(w.failing_since),
            last_success_at: opt_time(w.last_success_at),
            last_failure_at: opt_time(w.last_failure_at),
            previous_secret_expires_at: opt_time(w.previous_secret_expires_at.filter(|t| *t > self.now_ms())),
            created_at: rfc3339(w.created_at),
            updated_at: rfc3339(w.updated_at),
        })
    }

    async fn webhook_row(&self, id: &str) -> Result<WebhookRow> {
        self.db.webhook(id).await?.ok_or(Error::NotFound("webhook"))
    }

    /// Checks input and applies it to `row` (a new or an existing webhook).
    /// Returns the subscribed events and whether the input switches the webhook on or off.
    async fn apply_input(
        &self,
        row: &mut WebhookRow,
        input: WebhookInput,
        creating: bool,
    ) -> Result<(Vec<String>, Option<bool>)> {
        let mut v = Validator::new();
        if let Some(name) = &input.name {
            let name = name.trim();
            v.check(!name.is_empty() && name.chars().count() <= 200, "name", "must be 1 to 200 characters");
            row.name = name.to_string();
        } else if creating {
            v.push("name", "is required");
        }
        if let Some(url) = &input.url {
            match self.targets.check_url(url.trim()) {
                Ok(u) => row.url = u.to_string(),
                Err(reason) => v.push("url", reason),
            }
        } else if creating {
            v.push("url", "is required");
        }
        let mut events: Vec<String> = serde_json::from_str(&row.events).unwrap_or_default();
        if let Some(list) = input.events {
            let known = self.db.event_types().await?;
            let mut cleaned: Vec<String> = Vec::new();
            for (i, e) in list.iter().enumerate() {
                let e = e.trim();
                if !known.iter().any(|k| k.name == e) {
                    v.push(format!("events[{i}]"), format!("{e:?} is not in the event catalog"));
                } else if !cleaned.iter().any(|c| c == e) {
                    cleaned.push(e.to_string());
                }
            }
            v.check(!list.is_empty(), "events", "subscribe to at least one event");
            v.check(list.len() <= MAX_EVENTS, "events", format!("at most {MAX_EVENTS} events"));
            events = cleaned;
        } else if creating {
            v.push("events", "is required: subscribe to at least one event");
        }
        if creating {
            row.active = input.active.unwrap_or(true);
        }
        if let Some(filter) = input.filter {
            if let Some(f) = &filter {
                v.merge(f.validate("filter"));
            }
            row.filter = filter.map(|f| serde_json::to_string(&f).expect("serialisable"));
        }
        if let Some(policy) = input.retry_policy {
            if let Some(p) = &policy {
                v.merge(p.validate());
            }
            row.retry_policy = policy.map(|p| serde_json::to_string(&p).expect("serialisable"));
        }
        if let Some(rate) = input.rate_limit {
            if let Some(r) = rate {
                v.check((1..=10_000).contains(&r), "rateLimit", "must be 1 to 10000 deliveries per second");
            }
            row.rate_limit = rate.map(i64::from);
        }
        if let Some(new) = input.headers {
            headers::validate(&new, &mut v);
            let stored = headers::open(&self.master_key, &row.headers)?;
            row.headers = headers::seal(&self.master_key, &headers::merge_masked(new, &stored));
        }
        if let Some(secret) = &input.secret {
            match signature::decode_secret(secret) {
                Ok(bytes) if bytes.len() >= 24 && bytes.len() <= 64 && secret.starts_with(signature::SECRET_PREFIX) => {
                    row.secret_sealed = self.master_key.seal(secret);
                }
                _ => v.push("secret", "must be whsec_ followed by base64 of 24 to 64 bytes"),
            }
        }
        v.finish()?;
        row.events = serde_json::to_string(&events).expect("serialisable");
        Ok((events, input.active))
    }

    pub async fn create_webhook(&self, caller: &Principal, input: WebhookInput) -> Result<Webhook> {
        caller.require(Action::ManageWebhooks)?;
        let now = self.now_ms();
        let mut row = WebhookRow::new(new_id("wh"), self.master_key.seal(&signature::generate_secret()), now);
        let (events, _) = self.apply_input(&mut row, input, true).await?;
        self.db.insert_webhook(&row, &events).await?;
        self.webhooks_changed();
        self.events_changed();
        self.to_webhook(&row, caller.may(Action::RevealSecrets))
    }

    pub async fn update_webhook(&self, caller: &Principal, id: &str, input: WebhookInput) -> Result<Webhook> {
        caller.require(Action::ManageWebhooks)?;
        let mut row = self.webhook_row(id).await?;
        let (events, set_active) = self.apply_input(&mut row, input, false).await?;
        row.updated_at = self.now_ms();
        self.db.update_webhook(&row, &events, set_active).await?;
        self.webhooks_changed();
        self.events_changed();
        // Read back: health fields are the database's, not this request's copy.
        let row = self.webhook_row(id).await?;
        self.to_webhook(&row, false)
    }

    pub async fn get_webhook(&self, caller: &Principal, id: &str) -> Result<Webhook> {
        caller.require(Action::ReadWebhooks)?;
        let row = self.webhook_row(id).await?;
        self.to_webhook(&row, caller.may(Action::RevealSecrets))
    }

    pub async fn list_webhooks(&self, caller: &Principal, q: &ListQuery) -> Result<Page<Webhook>> {
        caller.require(Action::ReadWebhooks)?;
        let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let (rows, total) = self.db.list_webhooks(search, q.offset(), q.limit() as i64).await?;
        let data = rows.iter().map(|r| self.to_webhook(r, false)).collect::<Result<Vec<_>>>()?;
        Ok(page(data, q, total))
    }

    pub async fn unhealthy_webhooks(&self, caller: &Principal, limit: i64) -> Result<Vec<Webhook>> {
        caller.require(Action::ReadWebhooks)?;
        self.db.unhealthy_webhooks(limit.clamp(1, 100)).await?.iter().map(|r| self.to_webhook(r, false)).collect()
    }

    pub async fn delete_webhook(&self, caller: &Principal, id: &str) -> Result<()> {
        caller.require(Action::ManageWebhooks)?;
        if self.db.delete_webhook(id).await? {
            self.webhooks_changed();
            self.events_changed();
            Ok(())
        } else {
            Err(Error::NotFound("webhook"))
        }
    }

    /// New secret; the old one keeps signing for the overlap period unless `revoke_now`.
    pub async fn regenerate_secret(&self, caller: &Principal, id: &str, revoke_now: bool) -> Result<Webhook> {
        caller.require(Action::RevealSecrets)?;
        let mut row = self.webhook_row(id).await?;
        let now = self.now_ms();
        if revoke_now {
            row.previous_secret_sealed = None;
            row.previous_secret_expires_at = None;
        } else {
            row.previous_secret_sealed = Some(row.secret_sealed.clone());
            row.previous_secret_expires_at = Some(now + self.settings.secret_overlap_ms);
        }
        row.secret_sealed = self.master_key.seal(&signature::generate_secret());
        row.updated_at = now;
        self.db.set_secrets(&row).await?;
        self.webhooks_changed();
        self.to_webhook(&row, true)
    }

    /// Sends `webhook.test` now and reports the attempt. The delivery is
    /// recorded like any other (and retried by the worker if it fails).
    pub async fn test_webhook(&self, caller: &Principal, id: &str) -> Result<TestResult> {
        caller.require(Action::TestWebhooks)?;
        let row = self.webhook_row(id).await?;
        let w = PreparedWebhook::prepare(row, &self.master_key);
        let now = self.now_ms();
        let (event_id, delivery_id, due_id) = (new_id("evt"), new_id("msg"), new_id("due"));
        let data = serde_json::json!({
            "message": "This is a test event from Purple Cross",
            "webhookId": w.row.id,
            "webhookName": w.row.name,
        });
        let body = crate::events::ingest::request_body("webhook.test", now, &data);
        let data_text = data.to_string();
        // Leased to this request, so the runner leaves it alone unless we crash.
        let owner = self.lease_owner("test");
        let due_row = NewDue {
            id: &due_id,
            kind: kinds::DELIVERY,
            subject_id: &delivery_id,
            partition_key: &w.row.id,
            available_at: now + self.settings.worker.lease_ms,
            lease_owner: Some(&owner),
        };
        let mut tx = self.db.begin().await?;
        event_store::insert(
            &mut tx,
            &[event_store::NewEvent {
                id: &event_id,
                event_type: "webhook.test",
                data: &data_text,
                body: &body,
                idempotency_key: None,
                deliveries: 1,
                workflow_executions: 0,
                created_at: now,
                record_id: None,
                cause: None,
            }],
        )
        .await?;
        deliveries::insert(
            &mut tx,
            &[NewDeliveryRow {
                id: &delivery_id,
                webhook_id: &w.row.id,
                event_id: &event_id,
                event: "webhook.test",
                max_attempts: w.policy.max_attempts as i64,
                created_at: now,
            }],
        )
        .await?;
        due::store::insert(&mut tx, std::slice::from_ref(&due_row), now).await?;
        tx.commit().await?;
        let lease = due_row.lease().expect("created leased");

        let result = attempt::send(self, &delivery_id, bytes::Bytes::from(body), &w, now).await;
        let finished = self.now_ms();
        let decision = decide(&result, 1, &w.policy, finished, rand::random::<f64>());
        let outcome = TestResult {
            delivery_id: delivery_id.clone(),
            success: result.succeeded(),
            status_code: result.status_code.map(i64::from),
            duration_ms: result.duration_ms,
            response_body: result.response_body.clone(),
            error: result.error_message.clone(),
        };
        let completion = Completion::Attempted {
            lease,
            delivery_id,
            webhook_id: w.row.id.clone(),
            attempt: 1,
            result: Box::new(result),
            decision,
            webhook_name: w.row.name.clone(),
        };
        crate::delivery::record::record(self, &owner, std::slice::from_ref(&completion)).await;
        self.due_work_added();
        self.events_changed();
        Ok(outcome)
    }

    /// One webhook's delivery history, or (`None`) every webhook's.
    pub async fn list_deliveries(
        &self,
        caller: &Principal,
        webhook_id: Option<&str>,
        q: &ListQuery,
    ) -> Result<Page<Delivery>> {
        match webhook_id {
            Some(id) => {
                caller.require(Action::ReadWebhooks)?;
                self.webhook_row(id).await?;
            }
            None => caller.require(Action::ReadAllDeliveries)?,
        }
        let mut v = Validator::new();
        if let Some(s) = &q.status {
            v.check(
                ["pending", "succeeded", "failed"].contains(&s.as_str()),
                "status",
                "must be pending, succeeded or failed",
            );
        }
        let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => {
                let parsed = parse_cursor(c);
                v.check(parsed.is_some(), "cursor", "is not a cursor this API returned (use nextCursor as given)");
                parsed
            }
            None => None,
        };
        v.finish()?;
        let filter = DeliveryFilter {
            webhook_id: webhook_id.map(str::to_string),
            status: q.status.clone().filter(|s| !s.is_empty()),
            event: q.event.clone().filter(|s| !s.is_empty()),
        };
        let limit = q.limit() as i64;
        let (rows, total) = self.db.list_deliveries(&filter, after.as_ref(), q.offset(), limit).await?;
        let next_cursor = match rows.last() {
            Some(last) if rows.len() as i64 == limit => Some(format!("{}_{}", last.created_at, last.id)),
            _ => None,
        };
        let mut p = page(rows.into_iter().map(|r| to_delivery(r, None)).collect(), q, total);
        p.next_cursor = next_cursor;
        Ok(p)
    }

    pub async fn get_delivery(&self, caller: &Principal, id: &str) -> Result<Delivery> {
        caller.require(Action::ReadWebhooks)?;
        let row = self.db.delivery(id).await?.ok_or(Error::NotFound("delivery"))?;
        let attempts = self.db.attempts(id).await?;
        Ok(to_delivery(row, Some(attempts)))
    }

    /// Sends a finished (or waiting) delivery again now, with the same `webhook-id`.
    /// A delivery being sent right now is left alone (409).
    pub async fn retry_delivery(&self, caller: &Principal, id: &str) -> Result<Delivery> {
        caller.require(Action::RetryDeliveries)?;
        let row = self.db.delivery(id).await?.ok_or(Error::NotFound("delivery"))?;
        let w = self.webhook_row(&row.webhook_id).await?;
        if !w.active {
            return Err(Error::Conflict("the webhook is disabled; enable it before retrying".into()));
        }
        if self.requeue(std::slice::from_ref(&row.id), &w).await? == 0 {
            return Err(Error::Conflict(
                "this delivery is being sent right now; retry it once that attempt ends".into(),
            ));
        }
        self.get_delivery(caller, id).await
    }

    /// Re-queues every failed delivery of the webhook since `since` (ms); returns how many.
    pub async fn recover(&self, caller: &Principal, webhook_id: &str, since: i64) -> Result<i64> {
        caller.require(Action::RecoverWebhooks)?;
        let w = self.webhook_row(webhook_id).await?;
        if !w.active {
            return Err(Error::Conflict("the webhook is disabled; enable it before recovering".into()));
        }
        let ids = self.db.failed_deliveries_since(webhook_id, since).await?;
        let mut n = 0;
        for chunk in ids.chunks(500) {
            n += self.requeue(chunk, &w).await?;
        }
        Ok(n as i64)
    }

    /// Creates deliveries for the events the webhook never got because it was
    /// paused or disabled when they happened: every event since `since` of a
    /// subscribed type that passes its filter and has no delivery to it yet.
    /// They send the event's stored body, exactly what ingest would have sent.
    /// Returns how many.
    pub async fn replay_missed(&self, caller: &Principal, webhook_id: &str, since: i64) -> Result<i64> {
        caller.require(Action::RecoverWebhooks)?;
        let row = self.webhook_row(webhook_id).await?;
        if !row.active {
            return Err(Error::Conflict("the webhook is disabled; enable it before replaying".into()));
        }
        let types: Vec<String> = serde_json::from_str(&row.events).unwrap_or_default();
        if types.is_empty() {
            return Ok(0);
        }
        let w = PreparedWebhook::prepare(row, &self.master_key);
        let max_attempts = w.policy.max_attempts as i64;
        let mut total = 0i64;
        let mut after = (since, String::new());
        loop {
            // Keyset pages over (created_at, id), so a long outage replays in bounded steps.
            let events = self.db.events_missed_by(webhook_id, &types, &after, 500).await?;
            let Some(last) = events.last() else { break };
            after = (last.created_at, last.id.clone());
            let now = self.now_ms();
            let mut fresh = Vec::new();
            for e in &events {
                let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
                if !w.matches(&data) {
                    continue;
                }
                let body = match &e.body {
                    Some(_) => None,
                    None => Some(crate::events::ingest::request_body(&e.event_type, e.created_at, &data)),
                };
                fresh.push((e, new_id("msg"), new_id("due"), body));
            }
            let rows: Vec<NewDeliveryRow> = fresh
                .iter()
                .map(|(e, id, _, _)| NewDeliveryRow {
                    id,
                    webhook_id,
                    event_id: &e.id,
                    event: &e.event_type,
                    max_attempts,
                    created_at: now,
                })
                .collect();
            let due_rows: Vec<NewDue> = fresh
                .iter()
                .map(|(_, id, due_id, _)| NewDue {
                    id: due_id,
                    kind: kinds::DELIVERY,
                    subject_id: id,
                    partition_key: webhook_id,
                    available_at: now,
                    lease_owner: None,
                })
                .collect();
            let mut tx = self.db.begin().await?;
            for (e, _, _, body) in &fresh {
                if let Some(body) = body {
                    event_store::fill_body(&mut tx, &e.id, body).await?;
                }
            }
            deliveries::insert(&mut tx, &rows).await?;
            due::store::insert(&mut tx, &due_rows, now).await?;
            tx.commit().await?;
            total += fresh.len() as i64;
        }
        if total > 0 {
            self.due_work_added();
            self.events_changed();
        }
        Ok(total)
    }

    /// Queues deliveries for a new round of attempts; returns how many were
    /// queued (one being sent right now is not).
    async fn requeue(&self, ids: &[String], w: &WebhookRow) -> Result<usize> {
        let now = self.now_ms();
        let extra = w.retry_policy.as_deref().and_then(|p| serde_json::from_str::<crate::retry::RetryPolicy>(p).ok());
        let extra = extra.unwrap_or_default().max_attempts as i64;
        let mut queued = 0;
        let mut tx = self.db.begin().await?;
        for id in ids {
            if due::store::requeue(&mut tx, &new_id("due"), kinds::DELIVERY, id, &w.id, now).await? {
                deliveries::reopen(&mut tx, id, extra, now).await?;
                queued += 1;
            }
        }
        tx.commit().await?;
        if queued > 0 {
            self.due_work_added();
            self.events_changed();
        }
        Ok(queued)
    }

    pub async fn webhook_stats(&self, caller: &Principal, id: &str) -> Result<WebhookStats> {
        caller.require(Action::ReadWebhooks)?;
        let w = self.webhook_row(id).await?;
        let mut stats = self.stats_for(Some(id)).await?;
        stats.last_success_at = opt_time(w.last_success_at);
        stats.last_failure_at = opt_time(w.last_failure_at);
        Ok(stats)
    }

    async fn stats_for(&self, webhook_id: Option<&str>) -> Result<WebhookStats> {
        let counts = self.db.delivery_counts(webhook_id).await?;
        let mut durations = self.db.recent_attempt_durations(webhook_id, 1000).await?;
        durations.sort_unstable();
        let finished = counts.succeeded + counts.failed;
        Ok(WebhookStats {
            total: counts.pending + finished,
            pending: counts.pending,
            succeeded: counts.succeeded,
            failed: counts.failed,
            success_rate: (finished > 0).then(|| (counts.succeeded as f64 * 1000.0 / finished as f64).round() / 10.0),
            p50_latency_ms: percentile(&durations, 0.50),
            p95_latency_ms: percentile(&durations, 0.95),
            last_success_at: None,
            last_failure_at: None,
        })
    }

    /// Deliveries per day (the practice's) and outcome over the last `days` days (oldest first),
    /// for one webhook or all of them.
    pub async fn delivery_series(
        &self,
        caller: &Principal,
        webhook_id: Option<&str>,
        days: i64,
    ) -> Result<Vec<DayStats>> {
        caller.require(Action::ReadWebhooks)?;
        let days = days.clamp(1, 90);
        if let Some(id) = webhook_id {
            self.webhook_row(id).await?;
        }
        let tz = self.settings.timezone;
        let (names, since) = crate::settings::last_days(tz, self.now_ms(), days);
        let mut out: Vec<DayStats> =
            names.into_iter().map(|day| DayStats { day, succeeded: 0, failed: 0, pending: 0 }).collect();
        // Quarter hours fit every zone's midnight (some are 30 or 45 minutes off the hour).
        const QUARTER: i64 = 900_000;
        for (start, s, f, p) in self.db.counts_by_bucket(webhook_id, since, QUARTER).await? {
            let day = crate::settings::local_date(tz, start.max(since)).format("%Y-%m-%d").to_string();
            if let Some(slot) = out.iter_mut().find(|d| d.day == day) {
                slot.succeeded += s;
                slot.failed += f;
                slot.pending += p;
            }
        }
        Ok(out)
    }

    /// Overall analytics: totals, per event type and a per-day series over `days`.
    pub async fn analytics(&self, caller: &Principal, days: i64) -> Result<Analytics> {
        caller.require(Action::ReadWebhooks)?;
        let days = days.clamp(1, 90);
        let (_, since) = crate::settings::last_days(self.settings.timezone, self.now_ms(), days);
        let (webhooks, active_webhooks, failing_webhooks) = self.db.webhook_counts().await?;
        let by_event = self
            .db
            .counts_by_event(since)
            .await?
            .into_iter()
            .map(|(event, succeeded, failed, pending)| EventTypeStats {
                event,
                total: succeeded + failed + pending,
                succeeded,
                failed,
                pending,
            })
            .collect();
        let by_day = self.delivery_series(caller, None, days).await?;
        Ok(Analytics {
            webhooks,
            active_webhooks,
            failing_webhooks,
            totals: self.stats_for(None).await?,
            by_event,
            by_day,
        })
    }
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A delivery cursor: `<created_at ms>_<delivery id>` of the last row seen.
fn parse_cursor(c: &str) -> Option<(i64, String)> {
    let (at, id) = c.split_once('_')?;
    let at = at.parse::<i64>().ok()?;
    (id.starts_with("msg_") && id.len() <= 100).then(|| (at, id.to_string()))
}

fn page<T>(data: Vec<T>, q: &ListQuery, total: i64) -> Page<T> {
    let limit = q.limit();
    Page {
        data,
        page: q.page(),
        limit,
        total,
        total_pages: (total + limit as i64 - 1) / limit as i64,
        next_cursor: None,
    }
}

fn to_delivery(r: DeliveryRow, attempts: Option<Vec<AttemptRow>>) -> Delivery {
    Delivery {
        id: r.id,
        webhook_id: r.webhook_id,
        event_id: r.event_id,
        event: r.event,
        payload: serde_json::from_str(&r.payload).unwrap_or(Value::String(r.payload)),
        status: r.status,
        status_code: r.status_code,
        response_body: r.response_body,
        error_message: r.error_message,
        attempt: r.attempt,
        max_attempts: r.max_attempts,
        delivered_at: opt_time(r.delivered_at),
        next_retry_at: opt_time(r.next_retry_at),
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
        attempts: attempts.map(|list| {
            list.into_iter()
                .map(|a| Attempt {
                    id: a.id,
                    attempt: a.attempt,
                    started_at: rfc3339(a.started_at),
                    duration_ms: a.duration_ms,
                    status_code: a.status_code,
                    request_headers: serde_json::from_str(&a.request_headers).unwrap_or(Value::Null),
                    response_body: a.response_body,
                    response_body_lossy: a.response_body_lossy,
                    error_class: a.error_class,
                    error_message: a.error_message,
                })
                .collect()
        }),
    }
}

/// `POST /webhooks/verify`: checks a received request against a secret.
pub fn verify_request(
    secret: &str,
    headers: &BTreeMap<String, String>,
    body: &str,
    now_secs: i64,
) -> std::result::Result<(), signature::SignatureError> {
    let get = |name: &'static str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .ok_or(signature::SignatureError::MissingHeader(name))
    };
    signature::verify(
        secret,
        get("webhook-id")?,
        get("webhook-timestamp")?,
        get("webhook-signature")?,
        body.as_bytes(),
        now_secs,
        300,
    )
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&[], 0.5), None);
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.95), Some(95));
        assert_eq!(percentile(&[7], 0.95), Some(7));
    }
}
