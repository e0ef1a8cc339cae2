//! What a record points at: the client, patient and appointment its fields
//! name, checked to exist when it is written (errors name the field) and
//! embedded on request (`expand`).
//!
//! Invariant: a write reads them before its transaction begins, or on its
//! transaction's own connection ([`Reader`]), never on a second connection
//! while holding one.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::data;
use super::service::to_record;
use super::store::{self, RecordRow};
use super::{Entity, Record};
use crate::error::Validator;
use crate::{Error, Result, Services};

/// The records a record points at, for its columns and its events.
#[derive(Default)]
pub(super) struct Related {
    pub client_id: Option<String>,
    pub patient_id: Option<String>,
    pub patient: Option<Record>,
    pub owner: Option<Record>,
}

/// Where a write reads the records it refers to: the pool before its
/// transaction begins, or the transaction it runs in (a workflow step's). A
/// transaction never waits for a second connection: once every connection is
/// held by one that does, none can go on.
pub(super) enum Reader<'a> {
    Pool(&'a crate::store::Db),
    Tx(&'a mut crate::store::Tx),
}

impl Reader<'_> {
    pub(super) async fn record(&mut self, id: &str) -> Result<Option<RecordRow>> {
        match self {
            Reader::Pool(db) => db.record(id).await,
            Reader::Tx(tx) => store::get_in(tx, id).await,
        }
    }
}

impl Services {
    /// Loads the records `fields` point at. `strict` (a create or an update):
    /// one that does not exist is an error naming its field; otherwise (a
    /// transition or a delete, which do not change the relations) it is left out.
    pub(super) async fn related(
        &self,
        reader: &mut Reader<'_>,
        entity: Entity,
        fields: &Map<String, Value>,
        strict: bool,
    ) -> Result<Related> {
        let mut v = Validator::new();
        let related = self.load_related(reader, entity, fields, &mut v).await?;
        if strict {
            v.finish()?;
        }
        Ok(related)
    }

    async fn load_related(
        &self,
        reader: &mut Reader<'_>,
        entity: Entity,
        fields: &Map<String, Value>,
        v: &mut Validator,
    ) -> Result<Related> {
        let mut rel = Related::default();
        let get = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
        let live =
            |row: Option<RecordRow>, want: Entity| row.filter(|r| r.entity == want.as_str() && r.deleted_at.is_none());
        if let Some(field) = data::client_field(entity) {
            if let Some(cid) = get(field) {
                match live(reader.record(&cid).await?, Entity::Client) {
                    Some(c) => rel.owner = Some(to_record(&c)?),
                    None => v.push(field, format!("no client {cid} (it may have been deleted)")),
                }
                rel.client_id = Some(cid);
            }
        }
        if let Some(field) = data::patient_field(entity) {
            if let Some(pid) = get(field) {
                match live(reader.record(&pid).await?, Entity::Patient) {
                    Some(p) => {
                        let patient = to_record(&p)?;
                        rel.client_id = patient.str("ownerId").map(str::to_string);
                        if let Some(oid) = &rel.client_id {
                            rel.owner =
                                live(reader.record(oid).await?, Entity::Client).map(|o| to_record(&o)).transpose()?;
                        }
                        rel.patient = Some(patient);
                    }
                    None => v.push(field, format!("no patient {pid} (it may have been deleted)")),
                }
                rel.patient_id = Some(pid);
            }
        }
        if let Some(aid) = get("appointmentId") {
            if !matches!(entity, Entity::Appointment) && live(reader.record(&aid).await?, Entity::Appointment).is_none()
            {
                v.push("appointmentId", format!("no appointment {aid}"));
            }
        }
        Ok(rel)
    }

    /// Embeds the relations asked for: `owner` (a patient's client), `patient`
    /// (with its owner when `owner` is asked too), `client`, `appointment`.
    pub(super) async fn expand(&self, records: &mut [Record], wanted: &BTreeSet<String>) -> Result<()> {
        if wanted.is_empty() || records.is_empty() {
            return Ok(());
        }
        let link = |r: &Record, rel: &str| -> Option<String> {
            match (r.entity, rel) {
                (Entity::Patient, "owner") => r.str("ownerId"),
                (_, "patient") => r.str("patientId"),
                (_, "client") => r.str("clientId"),
                (_, "appointment") => r.str("appointmentId"),
                _ => None,
            }
            .map(str::to_string)
        };
        let mut ids: BTreeSet<String> = records.iter().flat_map(|r| wanted.iter().filter_map(|w| link(r, w))).collect();
        let mut found: HashMap<String, Record> = HashMap::new();
        for _ in 0..2 {
            let refs: Vec<&str> = ids.iter().filter(|i| !found.contains_key(*i)).map(String::as_str).collect();
            for row in self.db.records(&refs).await? {
                found.insert(row.id.clone(), to_record(&row)?);
            }
            if !wanted.contains("owner") {
                break;
            }
            // A patient's owner, one level further.
            ids = found.values().filter_map(|r| link(r, "owner")).collect();
        }
        for r in records.iter_mut() {
            for w in wanted {
                if let Some(mut other) = link(r, w).and_then(|id| found.get(&id).cloned()) {
                    if let (Entity::Patient, true) = (other.entity, wanted.contains("owner")) {
                        if let Some(owner) = other.str("ownerId").and_then(|o| found.get(o)).cloned() {
                            other.fields.insert("owner".into(), serde_json::to_value(owner).map_err(Error::internal)?);
                        }
                    }
                    let key = if w == "owner" { "owner" } else { w.as_str() };
                    r.fields.insert(key.to_string(), serde_json::to_value(other).map_err(Error::internal)?);
                }
            }
        }
        Ok(())
    }
}

pub(super) fn expansions(expand: Option<&str>) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for part in expand.unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !matches!(part, "owner" | "patient" | "client" | "appointment") {
            return Err(Error::invalid(
                "expand",
                format!("{part:?} is not a relation (owner, patient, client, appointment)"),
            ));
        }
        out.insert(part.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansions_name_relations_only() {
        assert!(expansions(Some("owner, patient")).is_ok());
        assert!(expansions(Some("everything")).is_err());
    }
}
