//! axum extractors (feature `axum`): [`Claims`], [`Auth`], [`PendingSession`], and with
//! `machine_auth` each machine identity.
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
//!
//! An extractor answers 401 when the request is not authenticated (with the reason the layer
//! recorded, or `missing_token`), and 403 (`wrong_token_type`) when it is, but as another class
//! of caller than the extractor takes (an API key where a handler takes `Claims`).

use std::convert::Infallible;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use super::layer::{auth_from, rejection};
use super::{Auth, Claims, PendingSession, VerifyError};

/// The rejection of the extractors: the same 401 (403, 503) JSON answer as a required
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

/// Why there is no caller of the wanted class: another class (403), or none (401 with the
/// recorded reason).
fn refusal(parts: &Parts) -> AuthRejection {
    if auth_from(&parts.extensions).is_some() {
        return AuthRejection(VerifyError::WrongTokenType);
    }
    AuthRejection(
        parts
            .extensions
            .get::<VerifyError>()
            .cloned()
            .unwrap_or(VerifyError::MissingToken),
    )
}

/// Extractors for the payloads the layer inserts: required (`T`) and optional (`Option<T>`).
macro_rules! extractor {
    ($ty:ty, $what:literal) => {
        #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
        impl<S: Send + Sync> FromRequestParts<S> for $ty {
            type Rejection = AuthRejection;

            #[doc = concat!("The ", $what, " the layer verified; 401 without a caller, 403 for")]
            /// a caller of another class.
            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Self, Self::Rejection> {
                match parts.extensions.get::<$ty>() {
                    Some(value) => Ok(value.clone()),
                    None => Err(refusal(parts)),
                }
            }
        }

        #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
        impl<S: Send + Sync> OptionalFromRequestParts<S> for $ty {
            type Rejection = Infallible;

            #[doc = concat!("The ", $what, " when the layer verified one; `None` otherwise.")]
            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Option<Self>, Self::Rejection> {
                Ok(parts.extensions.get::<$ty>().cloned())
            }
        }
    };
}

extractor!(Claims, "session claims");
#[cfg(feature = "machine_auth")]
extractor!(super::ApiKeyIdentity, "API key");
#[cfg(feature = "machine_auth")]
extractor!(super::M2mIdentity, "M2M token");
#[cfg(feature = "machine_auth")]
extractor!(super::OAuthIdentity, "OAuth access token");

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = AuthRejection;

    /// Whoever the layer authenticated, of any class the route accepts; 401 otherwise.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        auth_from(&parts.extensions).ok_or_else(|| refusal(parts))
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S: Send + Sync> OptionalFromRequestParts<S> for Auth {
    type Rejection = Infallible;

    /// Whoever the layer authenticated; `None` otherwise.
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(auth_from(&parts.extensions))
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S: Send + Sync> OptionalFromRequestParts<S> for PendingSession {
    type Rejection = Infallible;

    /// The pending session an optional layer found (signed out until its task is done).
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<PendingSession>().cloned())
    }
}
