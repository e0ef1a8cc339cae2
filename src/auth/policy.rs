//! What each role may do: the one table every operation is checked against.
//!
//! `Services` methods take the caller and ask [`Authorize::require`] before
//! they read input or touch the database, so REST, server functions and the
//! CLI get the same answer, and a staff caller gets 403 rather than a
//! validation error for something it may not do at all.

use super::{Principal, Role};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// List and read webhooks (secrets hidden), their deliveries and stats, analytics.
    ReadWebhooks,
    /// Create, update, enable/disable and delete webhooks.
    ManageWebhooks,
    /// See a webhook's signing secret or make a new one.
    RevealSecrets,
    /// Send `webhook.test` to a webhook.
    TestWebhooks,
    /// Send one delivery again.
    RetryDeliveries,
    /// Re-queue failures in bulk and replay missed events.
    RecoverWebhooks,
    /// The delivery history of every webhook at once (the seed's `deliveries/all`).
    ReadAllDeliveries,
    /// Publish events (integrators' keys).
    PublishEvents,
    /// Read the event catalog.
    ReadEventTypes,
    /// Register custom event types.
    ManageEventTypes,
    /// Read and mark notifications.
    ReadNotifications,
    /// API keys and users.
    ManageAccess,
    /// The due-work queue's dead rows: list, retry, discard.
    ManageQueue,
    /// Look practice records up.
    ReadRecords,
    /// Create and change practice records, and run their transitions.
    WriteRecords,
    /// Delete and restore practice records, and list deleted ones.
    DeleteRecords,
    /// See workflow templates, executions, the outbox and email templates.
    ReadWorkflows,
    /// Start a template's execution by hand.
    RunWorkflows,
    /// Create, change and delete templates and email templates; cancel executions; run ad-hoc workflows.
    ManageWorkflows,
}

impl Action {
    pub const ALL: [Action; 19] = [
        Action::ReadWebhooks,
        Action::ManageWebhooks,
        Action::RevealSecrets,
        Action::TestWebhooks,
        Action::RetryDeliveries,
        Action::RecoverWebhooks,
        Action::ReadAllDeliveries,
        Action::PublishEvents,
        Action::ReadEventTypes,
        Action::ManageEventTypes,
        Action::ReadNotifications,
        Action::ManageAccess,
        Action::ManageQueue,
        Action::ReadRecords,
        Action::WriteRecords,
        Action::DeleteRecords,
        Action::ReadWorkflows,
        Action::RunWorkflows,
        Action::ManageWorkflows,
    ];

    /// What the action is, for a 403's message.
    fn describe(self) -> &'static str {
        match self {
            Action::ReadWebhooks => "reading webhooks",
            Action::ManageWebhooks => "changing webhooks",
            Action::RevealSecrets => "seeing or regenerating signing secrets",
            Action::TestWebhooks => "sending test events",
            Action::RetryDeliveries => "retrying deliveries",
            Action::RecoverWebhooks => "recovering failed deliveries",
            Action::ReadAllDeliveries => "reading every webhook's deliveries at once",
            Action::PublishEvents => "publishing events",
            Action::ReadEventTypes => "reading the event catalog",
            Action::ManageEventTypes => "registering event types",
            Action::ReadNotifications => "reading notifications",
            Action::ManageAccess => "managing users and API keys",
            Action::ManageQueue => "managing the work queue",
            Action::ReadRecords => "reading practice records",
            Action::WriteRecords => "changing practice records",
            Action::DeleteRecords => "deleting or restoring practice records",
            Action::ReadWorkflows => "reading workflows",
            Action::RunWorkflows => "running workflows",
            Action::ManageWorkflows => "changing workflows",
        }
    }
}

/// The table: staff read, test, retry and keep the practice's records; admins do everything.
pub fn allows(role: Role, action: Action) -> bool {
    match role {
        Role::Admin => true,
        Role::Staff => matches!(
            action,
            Action::ReadWebhooks
                | Action::TestWebhooks
                | Action::RetryDeliveries
                | Action::PublishEvents
                | Action::ReadEventTypes
                | Action::ReadNotifications
                | Action::ReadRecords
                | Action::WriteRecords
                | Action::ReadWorkflows
                | Action::RunWorkflows
        ),
    }
}

pub trait Authorize {
    fn may(&self, action: Action) -> bool;

    /// `Forbidden` unless the caller's role allows `action`.
    fn require(&self, action: Action) -> Result<()> {
        if self.may(action) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("{} needs the admin role", action.describe())))
        }
    }
}

impl Authorize for Principal {
    fn may(&self, action: Action) -> bool {
        allows(self.role, action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_read_test_and_retry_admins_do_everything() {
        let staff: Vec<Action> = Action::ALL.into_iter().filter(|a| allows(Role::Staff, *a)).collect();
        assert_eq!(
            staff,
            [
                Action::ReadWebhooks,
                Action::TestWebhooks,
                Action::RetryDeliveries,
                Action::PublishEvents,
                Action::ReadEventTypes,
                Action::ReadNotifications,
                Action::ReadRecords,
                Action::WriteRecords,
                Action::ReadWorkflows,
                Action::RunWorkflows
            ]
        );
        assert!(Action::ALL.into_iter().all(|a| allows(Role::Admin, a)));
        let p = Principal {
            id: "k".into(),
            name: "k".into(),
            role: Role::Staff,
            kind: super::super::PrincipalKind::ApiKey,
        };
        assert!(matches!(p.require(Action::RevealSecrets), Err(Error::Forbidden(m)) if m.contains("admin role")));
    }
}
