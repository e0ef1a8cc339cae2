pub mod dashboard;
pub mod login;
pub mod not_found;
pub mod notifications;
pub mod placeholders;
pub mod settings;
pub mod webhook_detail;
pub mod webhooks;
