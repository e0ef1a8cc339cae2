//! Record operations as REST, server functions and workflow actions call them.

use serde_json::{Map, Value};
use wire::records::{DeliveryRef, EntitySchema, RecordEvent};

use super::data::{self, Change};
use super::relations::{expansions, Reader, Related};
use super::store::{self, ListFilter, Order, RecordRow, Relation};
use super::time::parse_time;
use super::{schema, Cause, Entity, Record, RecordList, RecordQuery, TransitionInput};
use crate::auth::{Action, Authorize, Principal};
use crate::clock::rfc3339;
use crate::error::Validator;
use crate::ids::new_id;
use crate::webhooks::Accepted;
use crate::{Error, Result, Services};

/// Keys every record has that its fields never hold.
const SYSTEM_KEYS: &[&str] = &["id", "entity", "version", "createdAt", "updatedAt", "deletedAt"];

/// The entity a path names.
pub fn entity(name: &str) -> Result<Entity> {
    Entity::parse(name).ok_or(Error::NotFound("record type"))
}

pub fn to_record(r: &RecordRow) -> Result<Record> {
    let entity = Entity::parse(&r.entity).ok_or_else(|| Error::internal(format!("unknown entity {:?}", r.entity)))?;
    let fields: Map<String, Value> = serde_json::from_str(&r.data).map_err(Error::internal)?;
    Ok(Record {
        id: r.id.clone(),
        entity,
        version: r.version,
        fields,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
        deleted_at: r.deleted_at.map(rfc3339),
    })
}

impl Services {
    /// Every entity with its JSON Schema and transitions.
    pub fn entity_schemas(&self, caller: &Principal) -> Result<Vec<EntitySchema>> {
        caller.require(Action::ReadRecords)?;
        Ok(Entity::ALL
            .into_iter()
            .map(|e| EntitySchema {
                entity: e,
                label: e.label().to_string(),
                schema: schema::schema(e),
                transitions: e.transitions().iter().map(|t| t.to_string()).collect(),
            })
            .collect())
    }

    fn check_cause(&self, cause: &Cause) -> Result<()> {
        let max = self.settings.max_cause_depth;
        if cause.chain.len() >= max {
            return Err(Error::Conflict(format!(
                "refused: this change was caused by a chain of {} workflow runs ({}); the limit is {max}, so a workflow that changes what triggers it cannot loop forever",
                cause.chain.len(),
                cause.chain.join(" → ")
            )));
        }
        Ok(())
    }

    pub async fn create_record(
        &self,
        caller: &Principal,
        entity: Entity,
        fields: Value,
        cause: &Cause,
    ) -> Result<Record> {
        let (row, record, related) =
            self.prepare_create(&mut Reader::Pool(&self.db), caller, entity, fields, cause).await?;
        let mut tx = self.db.begin().await?;
        let emitted = self.insert_prepared(&mut tx, &row, &record, &related, cause).await?;
        tx.commit().await?;
        self.emitted(&emitted);
        Ok(record)
    }

    /// Creates a record inside `tx` (a workflow step's): the caller commits, then calls `emitted`.
    pub(crate) async fn create_record_in(
        &self,
        tx: &mut crate::store::Tx,
        caller: &Principal,
        entity: Entity,
        fields: Value,
        cause: &Cause,
    ) -> Result<(Record, Vec<Accepted>)> {
        let (row, record, related) =
            self.prepare_create(&mut Reader::Tx(&mut *tx), caller, entity, fields, cause).await?;
        let emitted = self.insert_prepared(tx, &row, &record, &related, cause).await?;
        Ok((record, emitted))
    }

    async fn insert_prepared(
        &self,
        tx: &mut crate::store::Tx,
        row: &RecordRow,
        record: &Record,
        related: &Related,
        cause: &Cause,
    ) -> Result<Vec<Accepted>> {
        store::insert(tx, row).await?;
        let emitted = self.emit_change(tx, record, related, Change::Created, None, cause).await?;
        Ok(emitted)
    }

    /// Checks a new record and builds its row, outside any transaction.
    async fn prepare_create(
        &self,
        reader: &mut Reader<'_>,
        caller: &Principal,
        entity: Entity,
        fields: Value,
        cause: &Cause,
    ) -> Result<(RecordRow, Record, Related)> {
        caller.require(Action::WriteRecords)?;
        self.check_cause(cause)?;
        let Value::Object(mut fields) = fields else {
            return Err(Error::invalid("body", "must be a JSON object of the record's fields"));
        };
        let mut v = Validator::new();
        for k in SYSTEM_KEYS.iter().chain(schema::read_only(entity)) {
            if fields.contains_key(*k) {
                v.push(*k, "is set by Purple Cross, not by the request");
            }
        }
        if let (Some(start), Some(given)) = (data::initial_status(entity), fields.get("status").and_then(Value::as_str))
        {
            if given != start {
                v.push("status", format!("a new {} starts as {start}; its transitions move it on", entity.label()));
            }
        }
        v.finish()?;
        data::apply_defaults(entity, &mut fields);
        data::compute(entity, &mut fields);
        self.validate_fields(entity, &fields)?;
        let related = self.related(reader, entity, &fields, true).await?;
        let now = self.now_ms();
        let id = new_id(entity.id_prefix());
        let row = self.row(entity, &id, 1, &fields, &related, now, now, None)?;
        let record = to_record(&row)?;
        Ok((row, record, related))
    }

    pub async fn get_record(
        &self,
        caller: &Principal,
        entity: Entity,
        id: &str,
        expand: Option<&str>,
    ) -> Result<Record> {
        caller.require(Action::ReadRecords)?;
        let row = self.db.record(id).await?.filter(|r| r.entity == entity.as_str()).ok_or(Error::NotFound("record"))?;
        let mut record = to_record(&row)?;
        let wanted = expansions(expand)?;
        self.expand(std::slice::from_mut(&mut record), &wanted).await?;
        Ok(record)
    }

    pub async fn list_records(&self, caller: &Principal, entity: Entity, q: &RecordQuery) -> Result<RecordList> {
        caller.require(Action::ReadRecords)?;
        let include_deleted = q.include_deleted.unwrap_or(false);
        if include_deleted {
            caller.require(Action::DeleteRecords)?;
        }
        let mut v = Validator::new();
        let limit = q.limit.unwrap_or(25);
        v.check((1..=100).contains(&limit), "limit", "must be 1 to 100");
        let order = match q.sort.as_deref().unwrap_or("createdAt") {
            "createdAt" | "-createdAt" => Order::CreatedDesc,
            "at" => Order::AtAsc,
            "-at" => Order::AtDesc,
            _ => {
                v.push("sort", "must be createdAt, at or -at");
                Order::CreatedDesc
            }
        };
        let mut bound = |field: &str, t: &Option<String>| match t.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match parse_time(s, self.settings.timezone) {
                Some(ms) => Some(ms),
                None => {
                    v.push(field, "must be an RFC 3339 time or a date (YYYY-MM-DD)");
                    None
                }
            },
        };
        let (from, to) = (bound("from", &q.from), bound("to", &q.to));
        let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => match c.split_once('_').and_then(|(a, id)| Some((a.parse::<i64>().ok()?, id.to_string()))) {
                Some(k) => Some(k),
                None => {
                    v.push("cursor", "is not a cursor this API returned (use nextCursor as given)");
                    None
                }
            },
        };
        if let Some(s) = &q.status {
            v.check(s.len() <= 40, "status", "is not a status");
        }
        let wanted = expansions(q.expand.as_deref());
        if let Err(Error::Validation(errs)) = &wanted {
            for e in errs {
                v.push(e.field.clone(), e.message.clone());
            }
        }
        v.finish()?;
        let words: Vec<String> = q
            .search
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .take(5)
            .map(|w| w.chars().take(50).collect::<String>().to_lowercase())
            .collect();
        let f = ListFilter {
            entity: entity.as_str().to_string(),
            client_id: q.client_id.clone().filter(|s| !s.is_empty()),
            patient_id: q.patient_id.clone().filter(|s| !s.is_empty()),
            status: q.status.clone().filter(|s| !s.is_empty()),
            from,
            to,
            words,
            include_deleted,
            order,
            after,
            limit: limit as i64,
        };
        let rows = self.db.list_records(&f).await?;
        let next_cursor = match rows.last() {
            Some(last) if rows.len() == limit as usize => {
                let key = if order == Order::CreatedDesc { last.created_at } else { last.at.unwrap_or(0) };
                Some(format!("{key}_{}", last.id))
            }
            _ => None,
        };
        let mut data = rows.iter().map(to_record).collect::<Result<Vec<_>>>()?;
        self.expand(&mut data, &wanted?).await?;
        Ok(RecordList { data, next_cursor })
    }

    /// Changes fields (a merge: fields sent replace, `null` removes), on the
    /// version the caller read.
    pub async fn update_record(
        &self,
        caller: &Principal,
        entity: Entity,
        id: &str,
        patch: Value,
        version: Option<i64>,
        cause: &Cause,
    ) -> Result<Record> {
        caller.require(Action::WriteRecords)?;
        self.check_cause(cause)?;
        let Value::Object(mut patch) = patch else {
            return Err(Error::invalid("body", "must be a JSON object of the fields to change"));
        };
        let body_version = match patch.remove("version") {
            None => None,
            Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
            Some(_) => return Err(Error::invalid("version", "must be the integer version you read")),
        };
        let version = match (version, body_version) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::invalid("version", "the body and If-Match name different versions"));
            }
            (a, b) => a.or(b).ok_or_else(|| {
                Error::invalid("version", "is required: send the version you read (in the body or as If-Match)")
            })?,
        };
        let current = self.live_row(entity, id).await?;
        let (after, related, changes) = self.patched(&mut Reader::Pool(&self.db), entity, &current, patch).await?;
        self.commit_change(entity, current, version, after, related, Change::Updated, Some(changes), cause).await
    }

    /// Changes a record's fields inside `tx` (a workflow step's), on the
    /// version it has there; the caller commits, then calls `emitted`.
    pub(crate) async fn update_record_in(
        &self,
        tx: &mut crate::store::Tx,
        caller: &Principal,
        entity: Entity,
        id: &str,
        patch: Value,
        cause: &Cause,
    ) -> Result<(Record, Vec<Accepted>)> {
        caller.require(Action::WriteRecords)?;
        self.check_cause(cause)?;
        let Value::Object(mut patch) = patch else {
            return Err(Error::invalid("changes", "must be a JSON object of the fields to change"));
        };
        patch.remove("version");
        let current = store::lock(tx, id)
            .await?
            .filter(|r| r.entity == entity.as_str() && r.deleted_at.is_none())
            .ok_or(Error::NotFound("record"))?;
        let (after, related, changes) = self.patched(&mut Reader::Tx(&mut *tx), entity, &current, patch).await?;
        if changes.is_empty() {
            return Ok((to_record(&current)?, Vec::new()));
        }
        let now = self.now_ms();
        let row =
            self.row(entity, &current.id, current.version + 1, &after, &related, current.created_at, now, None)?;
        let record = to_record(&row)?;
        if !store::update(tx, &row, current.version).await? {
            return Err(stale(current.version));
        }
        let change = Change::Updated;
        let emitted = self.emit_change(tx, &record, &related, change, Some(changes), cause).await?;
        super::overdue::follow(self, tx, &record, change, now).await?;
        crate::workflows::triggers::record_changed(self, tx, &record, change, now).await?;
        Ok((record, emitted))
    }

    /// A record's fields with `patch` merged in (`null` removes), checked; with its relations and what changed.
    async fn patched(
        &self,
        reader: &mut Reader<'_>,
        entity: Entity,
        current: &RecordRow,
        patch: Map<String, Value>,
    ) -> Result<(Map<String, Value>, Related, Map<String, Value>)> {
        let before: Map<String, Value> = serde_json::from_str(&current.data).map_err(Error::internal)?;
        let mut v = Validator::new();
        for k in SYSTEM_KEYS.iter().chain(schema::read_only(entity)) {
            if patch.contains_key(*k) {
                v.push(*k, "is set by Purple Cross, not by the request");
            }
        }
        let mut after = before.clone();
        for (k, val) in patch {
            if val.is_null() {
                after.remove(&k);
            } else {
                after.insert(k, val);
            }
        }
        let (from, to) = (
            before.get("status").and_then(Value::as_str).unwrap_or_default(),
            after.get("status").and_then(Value::as_str).unwrap_or_default(),
        );
        if !data::status_update_allowed(entity, from, to) {
            v.push("status", format!("cannot go from {from} to {to} by an update; use its transition"));
        }
        v.finish()?;
        data::compute(entity, &mut after);
        self.validate_fields(entity, &after)?;
        let related = self.related(reader, entity, &after, true).await?;
        let changes = data::changes(&before, &after);
        Ok((after, related, changes))
    }

    pub async fn delete_record(
        &self,
        caller: &Principal,
        entity: Entity,
        id: &str,
        version: Option<i64>,
    ) -> Result<()> {
        caller.require(Action::DeleteRecords)?;
        let current = self.live_row(entity, id).await?;
        let version = version.unwrap_or(current.version);
        let fields: Map<String, Value> = serde_json::from_str(&current.data).map_err(Error::internal)?;
        let related = self.related(&mut Reader::Pool(&self.db), entity, &fields, false).await?;
        self.commit_change(entity, current, version, fields, related, Change::Deleted, None, &Cause::default()).await?;
        Ok(())
    }

    pub async fn restore_record(&self, caller: &Principal, entity: Entity, id: &str) -> Result<Record> {
        caller.require(Action::DeleteRecords)?;
        let row = self.db.record(id).await?.filter(|r| r.entity == entity.as_str()).ok_or(Error::NotFound("record"))?;
        if row.deleted_at.is_none() {
            return Err(Error::Conflict("this record is not deleted".into()));
        }
        let now = self.now_ms();
        let restored = RecordRow { version: row.version + 1, deleted_at: None, updated_at: now, ..row.clone() };
        let mut tx = self.db.begin().await?;
        if !store::update(&mut tx, &restored, row.version).await? {
            return Err(stale(row.version));
        }
        tx.commit().await?;
        to_record(&restored)
    }

    /// A named transition (`complete`, `cancel`, `send`, `pay`, `refill`),
    /// decided on the record as it is inside the transaction that changes it
    /// (or refused with 409 when the caller names a version that is not current).
    pub async fn transition(
        &self,
        caller: &Principal,
        entity: Entity,
        id: &str,
        name: &str,
        input: TransitionInput,
        cause: &Cause,
    ) -> Result<Record> {
        caller.require(Action::WriteRecords)?;
        if !entity.transitions().contains(&name) {
            return Err(Error::NotFound("transition"));
        }
        self.check_cause(cause)?;
        let now = self.now_ms();
        let mut tx = self.db.begin().await?;
        let current = store::lock(&mut tx, id)
            .await?
            .filter(|r| r.entity == entity.as_str() && r.deleted_at.is_none())
            .ok_or(Error::NotFound("record"))?;
        if input.version.is_some_and(|v| v != current.version) {
            return Err(stale(current.version));
        }
        let mut fields: Map<String, Value> = serde_json::from_str(&current.data).map_err(Error::internal)?;
        super::transitions::apply_transition(entity, name, &mut fields, input, &rfc3339(now))?;
        self.validate_fields(entity, &fields)?;
        let related = self.related(&mut Reader::Tx(&mut tx), entity, &fields, false).await?;
        let row = self.row(entity, id, current.version + 1, &fields, &related, current.created_at, now, None)?;
        let record = to_record(&row)?;
        if !store::update(&mut tx, &row, current.version).await? {
            return Err(stale(current.version + 1));
        }
        let change = Change::Transition(name);
        let emitted = self.emit_change(&mut tx, &record, &related, change, None, cause).await?;
        super::overdue::follow(self, &mut tx, &record, change, now).await?;
        crate::workflows::triggers::record_changed(self, &mut tx, &record, change, now).await?;
        tx.commit().await?;
        self.emitted(&emitted);
        Ok(record)
    }

    /// The events a record emitted, newest first, with their deliveries.
    pub async fn record_events(&self, caller: &Principal, entity: Entity, id: &str) -> Result<Vec<RecordEvent>> {
        caller.require(Action::ReadRecords)?;
        self.db.record(id).await?.filter(|r| r.entity == entity.as_str()).ok_or(Error::NotFound("record"))?;
        let mut out = Vec::new();
        for (event_id, event_type, created_at, _, cause) in self.db.events_of_record(id, 100).await? {
            let deliveries = self
                .db
                .deliveries_of_event(&event_id)
                .await?
                .into_iter()
                .map(|(id, webhook_id, status)| DeliveryRef { id, webhook_id, status })
                .collect();
            out.push(RecordEvent {
                id: event_id,
                event_type,
                created_at: rfc3339(created_at),
                cause: cause.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default(),
                deliveries,
            });
        }
        Ok(out)
    }

    /// Records that belong to a client or patient (a client's patients, a patient's appointments …).
    pub async fn related_records(&self, caller: &Principal, id: &str) -> Result<Vec<Record>> {
        caller.require(Action::ReadRecords)?;
        let relation = match Entity::of_id(id) {
            Some(Entity::Client) => Relation::Client,
            Some(Entity::Patient) => Relation::Patient,
            _ => return Ok(Vec::new()),
        };
        self.db.records_of(relation, id, 200).await?.iter().map(to_record).collect()
    }

    // ---- the shared steps ----

    fn validate_fields(&self, entity: Entity, fields: &Map<String, Value>) -> Result<()> {
        let errors = schema::check(entity, &Value::Object(fields.clone()));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }

    async fn live_row(&self, entity: Entity, id: &str) -> Result<RecordRow> {
        self.db
            .record(id)
            .await?
            .filter(|r| r.entity == entity.as_str() && r.deleted_at.is_none())
            .ok_or(Error::NotFound("record"))
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        entity: Entity,
        id: &str,
        version: i64,
        fields: &Map<String, Value>,
        rel: &Related,
        created_at: i64,
        updated_at: i64,
        deleted_at: Option<i64>,
    ) -> Result<RecordRow> {
        let at = data::time_field(entity)
            .and_then(|f| fields.get(f))
            .and_then(Value::as_str)
            .and_then(|s| parse_time(s, self.settings.timezone));
        Ok(RecordRow {
            id: id.to_string(),
            entity: entity.as_str().to_string(),
            version,
            data: Value::Object(fields.clone()).to_string(),
            client_id: if entity == Entity::Client { Some(id.to_string()) } else { rel.client_id.clone() },
            patient_id: if entity == Entity::Patient { Some(id.to_string()) } else { rel.patient_id.clone() },
            status: fields.get("status").and_then(Value::as_str).map(str::to_string),
            at,
            search: data::search_text(entity, id, fields),
            created_at,
            updated_at,
            deleted_at,
        })
    }

    /// Writes the new state on `version` and emits the change's event, in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn commit_change(
        &self,
        entity: Entity,
        current: RecordRow,
        version: i64,
        fields: Map<String, Value>,
        related: Related,
        change: Change<'_>,
        changes: Option<Map<String, Value>>,
        cause: &Cause,
    ) -> Result<Record> {
        if changes.as_ref().is_some_and(Map::is_empty) {
            // Nothing differs: no new version, no event.
            if version != current.version {
                return Err(stale(current.version));
            }
            return to_record(&current);
        }
        let now = self.now_ms();
        let deleted_at = if change == Change::Deleted { Some(now) } else { current.deleted_at };
        let row = self.row(entity, &current.id, version + 1, &fields, &related, current.created_at, now, deleted_at)?;
        let record = to_record(&row)?;
        let mut tx = self.db.begin().await?;
        if !store::update(&mut tx, &row, version).await? {
            let latest = store::get_in(&mut tx, &current.id).await?.map(|r| r.version).unwrap_or(current.version);
            return Err(stale(latest));
        }
        let emitted = self.emit_change(&mut tx, &record, &related, change, changes, cause).await?;
        super::overdue::follow(self, &mut tx, &record, change, now).await?;
        crate::workflows::triggers::record_changed(self, &mut tx, &record, change, now).await?;
        tx.commit().await?;
        self.emitted(&emitted);
        Ok(record)
    }

    async fn emit_change(
        &self,
        tx: &mut crate::store::Tx,
        record: &Record,
        related: &Related,
        change: Change<'_>,
        changes: Option<Map<String, Value>>,
        cause: &Cause,
    ) -> Result<Vec<Accepted>> {
        let Some(event) = data::event_for(record.entity, change) else { return Ok(Vec::new()) };
        let payload = data::event_data(record, related.patient.as_ref(), related.owner.as_ref(), changes);
        Ok(vec![self.emit(tx, event, &payload, Some(&record.id), &cause.chain).await?])
    }
}

fn stale(latest: i64) -> Error {
    Error::Conflict(format!(
        "this record changed since you read it (it is at version {latest} now): read it again, then make your change"
    ))
}
