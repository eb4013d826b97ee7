//! [`Claims`] as an axum extractor (feature `axum`).
//!
//! Put a [`SessionLayer`](super::SessionLayer) on the routes (required or optional), then take
//! `Claims` (the request is refused with 401 when there are none) or `Option<Claims>` (never
//! refused) in a handler:
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use clerk_tower::auth::{Claims, SessionLayer, Verifier};
//!
//! async fn me(claims: Claims) -> String {
//!     format!("signed in as {}", claims.sub)
//! }
//!
//! async fn home(claims: Option<Claims>) -> String {
//!     match claims {
//!         Some(c) => format!("welcome back, {}", c.sub),
//!         None => "welcome, stranger".to_owned(),
//!     }
//! }
//!
//! # fn demo(verifier: Verifier) {
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/", get(home))
//!     .layer(SessionLayer::optional(verifier));
//! # }
//! ```

use std::convert::Infallible;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use super::layer::rejection;
use super::{Claims, VerifyError};

/// The rejection of the [`Claims`] extractor: the same 401 (or 503) JSON answer as a required
/// [`SessionLayer`](super::SessionLayer), naming the check that failed.
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
#[derive(Debug, Clone)]
pub struct AuthRejection(pub VerifyError);

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        rejection(&self.0).map(axum_core::body::Body::new)
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AuthRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = AuthRejection;

    /// The claims the session layer verified. Without them: a 401 with the reason the layer
    /// recorded (an optional layer's refused token), or `missing_token` (no token, or no
    /// session layer on this route).
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(claims) = parts.extensions.get::<Claims>() {
            return Ok(claims.clone());
        }
        let error = parts
            .extensions
            .get::<VerifyError>()
            .cloned()
            .unwrap_or(VerifyError::MissingToken);
        Err(AuthRejection(error))
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = Infallible;

    /// The claims when the session layer verified a token; `None` otherwise.
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Claims>().cloned())
    }
}
