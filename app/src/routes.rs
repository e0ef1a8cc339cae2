//! Every signed-in page is a lazy route: its WASM is split into a chunk of its
//! own (`cargo leptos build --split`) and loaded when the page is first shown
//! (a server-rendered page preloads its chunks), so the first download holds
//! only the shell, the router and the code pages share.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::pages::builder::BuilderPage;
use crate::pages::dashboard::DashboardPage;
use crate::pages::email_templates::EmailTemplatesPage;
use crate::pages::executions::{ExecutionDetailPage, ExecutionsPage};
use crate::pages::inspector::InspectorPage;
use crate::pages::mailbox::MailboxPage;
use crate::pages::notifications::NotificationsPage;
use crate::pages::record_detail::RecordDetailPage;
use crate::pages::records::RecordsPage;
use crate::pages::settings::SettingsPage;
use crate::pages::webhook_detail::WebhookDetailPage;
use crate::pages::webhooks::WebhooksPage;
use crate::pages::workflows::WorkflowsPage;

macro_rules! lazy_page {
    ($($route:ident => $page:ident),+ $(,)?) => {$(
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                view! { <$page/> }.into_any()
            }
        }
    )+};
}

lazy_page! {
    Dashboard => DashboardPage,
    Webhooks => WebhooksPage,
    WebhookDetail => WebhookDetailPage,
    Workflows => WorkflowsPage,
    Builder => BuilderPage,
    Executions => ExecutionsPage,
    ExecutionDetail => ExecutionDetailPage,
    Mailbox => MailboxPage,
    EmailTemplates => EmailTemplatesPage,
    Records => RecordsPage,
    RecordDetail => RecordDetailPage,
    Inspector => InspectorPage,
    Notifications => NotificationsPage,
    Settings => SettingsPage,
}
