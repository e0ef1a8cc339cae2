//! `Allowed<needs::X>`: a route that only some roles may call says which
//! domain action it performs, and the caller is checked against the domain's
//! policy (`domain::auth::policy`) before the body is read, so a staff caller
//! gets 403 rather than a validation error for something it may not do at
//! all. The service called afterwards checks the same action again; the
//! decision of who may do what stays in the policy table.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use domain::auth::{Action, Authorize, Principal};

use super::problem::Problem;

pub trait Needs {
    const ACTION: Action;
}

pub struct Allowed<A>(PhantomData<A>);

impl<S: Send + Sync, A: Needs> FromRequestParts<S> for Allowed<A> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let caller = parts.extensions.get::<Principal>().ok_or_else(Problem::unauthorized)?;
        caller.require(A::ACTION)?;
        Ok(Allowed(PhantomData))
    }
}

/// One marker type per action that routes with a body name.
pub mod needs {
    use super::{Action, Needs};

    macro_rules! markers {
        ($($name:ident),* $(,)?) => {$(
            pub struct $name;
            impl Needs for $name {
                const ACTION: Action = Action::$name;
            }
        )*};
    }

    markers!(ManageWebhooks, RevealSecrets, RecoverWebhooks, ManageEventTypes, ManageAccess, ManageWorkflows);
}
