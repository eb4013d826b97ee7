//! actix-web (feature `actix`): a middleware and extractors over the same request check as
//! the tower layer ([`Authenticator`]): sessions, machine tokens, cookie sessions with
//! Clerk's handshake, and the same 401 / 403 / 503 answers with the same JSON bodies.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use clerk_tower::auth::actix::ClerkMiddleware;
//! use clerk_tower::auth::{Claims, Verifier};
//!
//! async fn me(claims: Claims) -> String {
//!     format!("signed in as {}", claims.sub)
//! }
//!
//! async fn home(claims: Option<Claims>) -> String {
//!     claims.map_or("hello, stranger".to_owned(), |c| format!("hello, {}", c.sub))
//! }
//!
//! # async fn demo(verifier: Verifier) -> std::io::Result<()> {
//! HttpServer::new(move || {
//!     App::new()
//!         .service(web::resource("/").route(web::get().to(home)))
//!         .service(
//!             web::scope("/api")
//!                 .wrap(ClerkMiddleware::required(verifier.clone()))
//!                 .route("/me", web::get().to(me)),
//!         )
//!         .wrap(ClerkMiddleware::optional(verifier.clone()))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```
//!
//! The middleware puts the caller ([`Auth`]) in the request's extensions; the extractors
//! ([`Claims`], [`Auth`], [`PendingSession`], and with `machine_auth` each machine identity)
//! answer 401 when there is none (with the reason the middleware recorded) and 403
//! (`wrong_token_type`) for a caller of another class. `Option<T>` never refuses.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use super::handshake::RequestInfo;
use super::layer::rejection_parts;
use super::request::{AuthOutcome, Authenticator};
use super::{Auth, Claims, PendingSession, VerifyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Required,
    Optional,
}

/// The actix-web middleware: [`required`](Self::required) refuses a request without a valid
/// caller (401, or 503 when Clerk's keys cannot be fetched), [`optional`](Self::optional)
/// lets every request through with the caller, if any, in its extensions. With
/// [`Authenticator::handshake`], it answers the handshake redirects itself and puts the
/// cookies of the handshake or of a refresh on the response.
#[derive(Debug, Clone)]
pub struct ClerkMiddleware {
    auth: Authenticator,
    mode: Mode,
}

impl ClerkMiddleware {
    /// Requests without a valid caller are refused, as by a required
    /// [`SessionLayer`](super::SessionLayer). Takes a [`Verifier`](super::Verifier) or an
    /// [`Authenticator`].
    pub fn required(auth: impl Into<Authenticator>) -> Self {
        ClerkMiddleware {
            auth: auth.into(),
            mode: Mode::Required,
        }
    }

    /// Every request goes on, with the caller in its extensions when there is one (and the
    /// [`VerifyError`] when a token was refused).
    pub fn optional(auth: impl Into<Authenticator>) -> Self {
        ClerkMiddleware {
            auth: auth.into(),
            mode: Mode::Optional,
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for ClerkMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = ClerkService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ClerkService {
            service: Rc::new(service),
            auth: self.auth.clone(),
            mode: self.mode,
        }))
    }
}

/// The service of a [`ClerkMiddleware`].
pub struct ClerkService<S> {
    service: Rc<S>,
    auth: Authenticator,
    mode: Mode,
}

impl<S> std::fmt::Debug for ClerkService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClerkService")
            .field("auth", &self.auth)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for ClerkService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let decide = {
            let method = req.method().as_str();
            let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let mut info = RequestInfo::new(method, target);
            for (name, value) in req.headers().iter() {
                if let Ok(value) = value.to_str() {
                    info = info.header(name.as_str(), value);
                }
            }
            self.auth.authenticate_request(&info)
        };
        let service = Rc::clone(&self.service);
        let mode = self.mode;
        Box::pin(async move {
            let state = decide.await;
            if state.redirect().is_some() {
                let (_, headers) = state.into_parts();
                let response = to_actix(
                    http::StatusCode::TEMPORARY_REDIRECT,
                    &headers,
                    bytes::Bytes::new(),
                );
                return Ok(req.into_response(response).map_into_right_body());
            }
            let (outcome, headers) = state.into_parts();
            let refused = match outcome {
                AuthOutcome::Authenticated(auth) => {
                    req.extensions_mut().insert(auth);
                    None
                }
                AuthOutcome::Pending(pending) => {
                    req.extensions_mut().insert(pending);
                    Some(VerifyError::SessionPending)
                }
                AuthOutcome::Refused(error) => Some(error),
            };
            if let Some(error) = refused {
                if mode == Mode::Required {
                    let mut response = rejected(&error);
                    append(response.headers_mut(), &headers);
                    return Ok(req.into_response(response).map_into_right_body());
                }
                if !matches!(error, VerifyError::MissingToken) {
                    req.extensions_mut().insert(error);
                }
            }
            let mut response = service.call(req).await?;
            append(response.headers_mut(), &headers);
            Ok(response.map_into_left_body())
        })
    }
}

/// A response of the shared request check, as actix-web's.
fn to_actix(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: bytes::Bytes,
) -> HttpResponse {
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::with_body(status, BoxBody::new(body));
    append(out.headers_mut(), headers);
    out
}

/// The rejection of a refused request, as actix-web's.
fn rejected(error: &VerifyError) -> HttpResponse {
    let (status, headers, body) = rejection_parts(error);
    to_actix(status, &headers, body)
}

/// Appends `http` headers to actix-web's (the two use different `http` crate versions).
fn append(headers: &mut actix_web::http::header::HeaderMap, extra: &http::HeaderMap) {
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
}

/// The rejection of the extractors: the same JSON answer as a required middleware.
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
#[derive(Debug, Clone)]
pub struct Rejection(pub VerifyError);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status().as_u16()).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        rejected(&self.0)
    }
}

/// Why there is no caller of the wanted class (as the axum extractors say it).
fn refusal(req: &HttpRequest) -> Rejection {
    let extensions = req.extensions();
    if extensions.get::<Auth>().is_some() {
        return Rejection(VerifyError::WrongTokenType);
    }
    Rejection(
        extensions
            .get::<VerifyError>()
            .cloned()
            .unwrap_or(VerifyError::MissingToken),
    )
}

impl FromRequest for Auth {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<Auth>().cloned();
        ready(found.ok_or_else(|| refusal(req)))
    }
}

impl FromRequest for Claims {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req
            .extensions()
            .get::<Auth>()
            .and_then(Auth::session)
            .cloned();
        ready(found.ok_or_else(|| refusal(req)))
    }
}

impl FromRequest for PendingSession {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<PendingSession>().cloned();
        ready(found.ok_or_else(|| refusal(req)))
    }
}

/// Extractors of the machine identities.
#[cfg(feature = "machine_auth")]
macro_rules! machine_extractor {
    ($ty:ty, $variant:ident) => {
        impl FromRequest for $ty {
            type Error = Rejection;
            type Future = Ready<Result<Self, Rejection>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let found = match req.extensions().get::<Auth>() {
                    Some(Auth::$variant(id)) => Some(id.clone()),
                    _ => None,
                };
                ready(found.ok_or_else(|| refusal(req)))
            }
        }
    };
}

#[cfg(feature = "machine_auth")]
machine_extractor!(super::ApiKeyIdentity, ApiKey);
#[cfg(feature = "machine_auth")]
machine_extractor!(super::M2mIdentity, M2m);
#[cfg(feature = "machine_auth")]
machine_extractor!(super::OAuthIdentity, OAuth);
