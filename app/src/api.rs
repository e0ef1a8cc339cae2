//! Server functions: thin calls into the domain services, with the caller
//! taken from the request (the auth middleware put it there).

use leptos::prelude::*;

use crate::model::{ApiKeySummary, Me};

#[cfg(feature = "ssr")]
pub mod ssr {
    use domain::auth::Principal;
    use domain::Services;
    use leptos::prelude::*;

    /// What the server provides to every server function and page render.
    #[derive(Clone)]
    pub struct AppContext {
        pub services: Services,
    }

    pub fn services() -> Result<Services, ServerFnError> {
        use_context::<AppContext>().map(|c| c.services).ok_or_else(|| ServerFnError::new("server context missing"))
    }

    /// The signed-in caller, or an error that the UI shows as "please sign in".
    pub async fn principal() -> Result<Principal, ServerFnError> {
        let axum::Extension(p): axum::Extension<Principal> =
            leptos_axum::extract().await.map_err(|_| ServerFnError::new("not signed in"))?;
        Ok(p)
    }

    /// Turns a domain error into the message a person reads.
    pub fn user_error(e: domain::Error) -> ServerFnError {
        match e {
            domain::Error::Validation(errors) => ServerFnError::new(
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
            ),
            domain::Error::Database(_) | domain::Error::Migration(_) | domain::Error::Internal(_) => {
                tracing_log(&e);
                ServerFnError::new("internal error; the server log has details")
            }
            other => ServerFnError::new(other.to_string()),
        }
    }

    fn tracing_log(e: &domain::Error) {
        leptos::logging::error!("server function failed: {e}");
    }
}

#[server(prefix = "/rpc", endpoint = "whoami")]
pub async fn whoami() -> Result<Me, ServerFnError> {
    let p = ssr::principal().await?;
    Ok(Me { email: p.name, role: p.role.as_str().to_string() })
}

#[server(prefix = "/rpc", endpoint = "list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeySummary>, ServerFnError> {
    let p = ssr::principal().await?;
    p.require_admin().map_err(ssr::user_error)?;
    let keys = ssr::services()?.list_api_keys().await.map_err(ssr::user_error)?;
    Ok(keys
        .into_iter()
        .map(|k| ApiKeySummary {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role.as_str().to_string(),
            created_at: k.created_at,
            revoked: k.revoked,
        })
        .collect())
}

/// Creates an API key and returns its plaintext, which is shown once.
#[server(prefix = "/rpc", endpoint = "create_api_key")]
pub async fn create_api_key(name: String, role: String) -> Result<String, ServerFnError> {
    let p = ssr::principal().await?;
    p.require_admin().map_err(ssr::user_error)?;
    let role = domain::auth::Role::parse(&role).map_err(ssr::user_error)?;
    let created = ssr::services()?.create_api_key(&name, role).await.map_err(ssr::user_error)?;
    Ok(created.key)
}

#[server(prefix = "/rpc", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: String) -> Result<(), ServerFnError> {
    let p = ssr::principal().await?;
    p.require_admin().map_err(ssr::user_error)?;
    ssr::services()?.revoke_api_key(&id).await.map_err(ssr::user_error)
}
