//! Server functions of the Records and Inspector pages: thin calls into the
//! domain services, which decide what the caller may see.

use leptos::prelude::*;
use wire::inspector::{InspectedRequest, InspectorBin};
use wire::records::{Record, RecordEvent, RecordList};

#[cfg(feature = "ssr")]
use crate::api::ssr;

#[cfg(feature = "ssr")]
fn entity(name: &str) -> Result<wire::records::Entity, ServerFnError> {
    domain::records::service::entity(name).map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "list_records", protocol = crate::codec::Rpc)]
pub async fn list_records(
    entity_name: String,
    search: String,
    status: String,
    cursor: String,
) -> Result<RecordList, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let q = wire::records::RecordQuery {
        search: Some(search).filter(|s| !s.trim().is_empty()),
        status: Some(status).filter(|s| !s.is_empty()),
        cursor: Some(cursor).filter(|c| !c.is_empty()),
        expand: Some(match entity_name.as_str() {
            "patient" => "owner".to_string(),
            "client" | "invoice" => "client".to_string(),
            _ => "patient".to_string(),
        }),
        limit: Some(25),
        ..Default::default()
    };
    s.list_records(&p, entity(&entity_name)?, &q).await.map_err(ssr::user_error)
}

/// A record with its relations, the records that belong to it, and the events it emitted.
#[server(prefix = "/rpc", endpoint = "record_detail", protocol = crate::codec::Rpc)]
pub async fn record_detail(
    entity_name: String,
    id: String,
) -> Result<(Record, Vec<Record>, Vec<RecordEvent>), ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    let e = entity(&entity_name)?;
    let record = s.get_record(&p, e, &id, Some("owner,patient,client,appointment")).await.map_err(ssr::user_error)?;
    let related = s.related_records(&p, &id).await.map_err(ssr::user_error)?;
    let events = s.record_events(&p, e, &id).await.map_err(ssr::user_error)?;
    Ok((record, related, events))
}

#[server(prefix = "/rpc", endpoint = "inspector_bins", protocol = crate::codec::Rpc)]
pub async fn inspector_bins() -> Result<Vec<InspectorBin>, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.inspector_bins(&p).await.map_err(ssr::user_error)
}

#[server(prefix = "/rpc", endpoint = "inspector_requests", protocol = crate::codec::Rpc)]
pub async fn inspector_requests(bin: String) -> Result<Vec<InspectedRequest>, ServerFnError> {
    let (s, p) = (ssr::services()?, ssr::principal().await?);
    s.inspector_requests(&p, &bin, 50).await.map_err(ssr::user_error)
}
