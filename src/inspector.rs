//! The built-in request inspector: an endpoint (`POST /inspector/{bin}`) that
//! keeps what it receives, and the page that shows it, with each request's
//! Standard Webhooks signature checked against the webhook that points at
//! the bin. It lets a new user watch signed deliveries without running a
//! receiver. Owns the table `inspector_requests`.

use std::collections::BTreeMap;

use wire::inspector::{InspectedRequest, InspectorBin};

use crate::auth::{Action, Authorize, Principal};
use crate::clock::rfc3339;
use crate::ids::new_id;
use crate::store::with_pool;
use crate::{Error, Result, Services};

/// Requests kept per bin; older ones are dropped as new ones arrive.
const KEEP: i64 = 200;
/// The most of a body kept.
const MAX_BODY: usize = 64 * 1024;
const MAX_HEADERS: usize = 50;

/// Bin names: what may follow `/inspector/`.
pub fn valid_bin(bin: &str) -> bool {
    !bin.is_empty() && bin.len() <= 64 && bin.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

type Row = (String, String, String, String, String, bool, i64);

impl Services {
    /// Keeps a request posted to the inspector. Public: it is the receiving end of webhooks.
    pub async fn inspector_receive(
        &self,
        bin: &str,
        method: &str,
        headers: BTreeMap<String, String>,
        body: &[u8],
    ) -> Result<()> {
        if !valid_bin(bin) {
            return Err(Error::NotFound("inspector bin"));
        }
        let headers: BTreeMap<String, String> = headers
            .into_iter()
            .take(MAX_HEADERS)
            .map(|(k, v)| (k, crate::store::text::storable(&v).chars().take(2000).collect()))
            .collect();
        let (mut text, lossy) = crate::store::text::from_bytes(&body[..body.len().min(MAX_BODY)]);
        if body.len() > MAX_BODY {
            text.push_str("\n[truncated]");
        }
        let now = self.now_ms();
        let headers = serde_json::to_string(&headers).map_err(Error::internal)?;
        let mut tx = self.db.begin().await?;
        tx.write(
            "INSERT INTO inspector_requests (id, bin, method, headers, body, body_lossy, received_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            |b| {
                b.bind(new_id("req")).text(bin).text(method).text(&headers).text(&text).bind(lossy).bind(now);
            },
        )
        .await?;
        tx.write(
            "DELETE FROM inspector_requests WHERE bin = ? AND id NOT IN (
                SELECT id FROM inspector_requests WHERE bin = ? ORDER BY received_at DESC, id DESC LIMIT ?)",
            |b| {
                b.text(bin).text(bin).bind(KEEP);
            },
        )
        .await?;
        tx.commit().await?;
        self.events_changed();
        Ok(())
    }

    pub async fn inspector_bins(&self, caller: &Principal) -> Result<Vec<InspectorBin>> {
        caller.require(Action::ReadWebhooks)?;
        let rows = with_pool!(&self.db, pool => sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT bin, COUNT(*), MAX(received_at) FROM inspector_requests GROUP BY bin ORDER BY MAX(received_at) DESC")
            .fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(bin, requests, last)| InspectorBin { bin, requests, last_at: rfc3339(last) })
            .collect())
    }

    /// The newest requests of a bin, each with its signature checked.
    pub async fn inspector_requests(&self, caller: &Principal, bin: &str, limit: i64) -> Result<Vec<InspectedRequest>> {
        caller.require(Action::ReadWebhooks)?;
        let rows = with_pool!(&self.db, pool => sqlx::query_as::<_, Row>(
            "SELECT id, bin, method, headers, body, body_lossy, received_at FROM inspector_requests
             WHERE bin = $1 ORDER BY received_at DESC, id DESC LIMIT $2")
            .bind(bin).bind(limit.clamp(1, KEEP)).fetch_all(pool).await)?;
        let secrets = self.secrets_of_bin(bin).await?;
        Ok(rows
            .into_iter()
            .map(|(id, bin, method, headers, body, body_lossy, at)| {
                let headers: BTreeMap<String, String> = serde_json::from_str(&headers).unwrap_or_default();
                let signature = (!secrets.is_empty()).then(|| {
                    let verdicts: Vec<String> = secrets
                        .iter()
                        .map(|s| match crate::webhooks::service::verify_request(s, &headers, &body, at / 1000) {
                            Ok(()) => "valid".to_string(),
                            Err(e) => e.to_string(),
                        })
                        .collect();
                    verdicts.iter().find(|v| *v == "valid").cloned().unwrap_or_else(|| verdicts[0].clone())
                });
                InspectedRequest { id, bin, method, headers, body, body_lossy, received_at: rfc3339(at), signature }
            })
            .collect())
    }

    /// The secrets (current and rotated-out) of webhooks whose URL ends in this bin.
    async fn secrets_of_bin(&self, bin: &str) -> Result<Vec<String>> {
        let suffix = format!("%/inspector/{bin}");
        let rows = with_pool!(&self.db, pool => sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT secret_sealed, previous_secret_sealed FROM webhooks WHERE url LIKE $1")
            .bind(&suffix).fetch_all(pool).await)?;
        let mut out = Vec::new();
        for (current, previous) in rows {
            for sealed in std::iter::once(current).chain(previous) {
                if let Ok(s) = self.master_key.open(&sealed) {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bins_are_simple_names() {
        assert!(super::valid_bin("clinic-sync"));
        assert!(!super::valid_bin("../etc"));
        assert!(!super::valid_bin(""));
        assert!(!super::valid_bin("Caps"));
    }
}
