//! [`SessionLayer`]: a tower layer for servers that verifies the session token of each request.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::handshake::{RequestFuture, RequestInfo};
use super::request::{AuthFuture, AuthOutcome, Authenticator};
#[cfg(doc)]
use super::Verifier;
use super::{Auth, Claims, VerifyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Required,
    Optional,
}

/// A tower layer for servers: takes the session token from `Authorization: Bearer <token>`
/// (first) or the `__session` cookie, verifies it with a [`Verifier`], and puts the
/// [`Claims`] in the request's extensions.
///
/// - [`SessionLayer::required`]: a request without a valid token never reaches the inner
///   service. It gets a 401 with `WWW-Authenticate: Bearer` (RFC 6750, with
///   `error="invalid_token"` when a token was sent) and a JSON body
///   `{"error": "unauthorized", "reason": "<code>", "message": "..."}`, where `reason` is
///   [`VerifyError::code`]. When the keys could not be fetched it is a 503 instead, with
///   `"error": "service_unavailable"`.
/// - [`SessionLayer::optional`]: every request reaches the inner service; the claims are in
///   the extensions when the token is valid, and a [`VerifyError`] is there instead when a
///   token was sent but refused.
///
/// Generic over the request body; the response body is the inner one, or the JSON error
/// ([`SessionBody`]).
///
/// ```
/// use clerk_tower::auth::{Claims, SessionLayer, Verifier};
/// use http::{Request, Response};
/// use tower::{service_fn, ServiceBuilder};
///
/// # fn demo(verifier: Verifier) {
/// let svc = ServiceBuilder::new()
///     .layer(SessionLayer::required(verifier))
///     .service(service_fn(|req: Request<String>| async move {
///         let user = req.extensions().get::<Claims>().map(|c| c.sub.clone());
///         Ok::<_, std::convert::Infallible>(Response::new(format!("hello {user:?}")))
///     }));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SessionLayer {
    auth: Authenticator,
    mode: Mode,
}

impl SessionLayer {
    /// Requests without a valid session token are answered with 401 (503 when the keys
    /// cannot be fetched) and never reach the inner service.
    ///
    /// Takes a [`Verifier`] (sessions only) or an [`Authenticator`] (the classes it accepts).
    pub fn required(auth: impl Into<Authenticator>) -> Self {
        SessionLayer {
            auth: auth.into(),
            mode: Mode::Required,
        }
    }

    /// Every request reaches the inner service, with [`Claims`] in its extensions when its
    /// token is valid (and a [`VerifyError`] when a token was sent but refused).
    ///
    /// Takes a [`Verifier`] (sessions only) or an [`Authenticator`] (the classes it accepts).
    pub fn optional(auth: impl Into<Authenticator>) -> Self {
        SessionLayer {
            auth: auth.into(),
            mode: Mode::Optional,
        }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            auth: self.auth.clone(),
            mode: self.mode,
        }
    }
}

/// The service of a [`SessionLayer`].
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    auth: Authenticator,
    mode: Mode,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<SessionBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if self.auth.handshake_settings().is_some() {
            // Cookie sessions: the whole decision table (it may answer a redirect itself).
            let info = RequestInfo::from_http(req.method(), req.uri(), req.headers());
            let decide = self.auth.authenticate_request(&info);
            let clone = self.inner.clone();
            let inner = std::mem::replace(&mut self.inner, clone);
            return ResponseFuture {
                state: State::Deciding {
                    decide,
                    next: Some((inner, req)),
                    mode: self.mode,
                },
            };
        }
        let outcome = match self.auth.authenticate(req.headers()).now() {
            Ok(outcome) => outcome,
            Err(waiting) => {
                // I/O is needed (a key fetch, a machine-token check): authenticate
                // asynchronously, then call the inner service that was made ready (leaving a
                // fresh clone in its place).
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                return ResponseFuture {
                    state: State::Verifying {
                        verify: waiting,
                        next: Some((inner, req)),
                        mode: self.mode,
                    },
                };
            }
        };
        match admit(outcome, self.mode, &mut req) {
            Ok(()) => ResponseFuture {
                state: State::Inner {
                    future: self.inner.call(req),
                    headers: None,
                },
            },
            Err(error) => ResponseFuture::rejected(&error),
        }
    }
}

/// Puts the outcome in the request; `Err` when the request must be refused.
fn admit<B>(outcome: AuthOutcome, mode: Mode, req: &mut Request<B>) -> Result<(), VerifyError> {
    match (outcome, mode) {
        (AuthOutcome::Authenticated(auth), _) => {
            insert_auth(auth, req.extensions_mut());
            Ok(())
        }
        (AuthOutcome::Pending(_), Mode::Required) => Err(VerifyError::SessionPending),
        (AuthOutcome::Pending(pending), Mode::Optional) => {
            req.extensions_mut().insert(pending);
            req.extensions_mut().insert(VerifyError::SessionPending);
            Ok(())
        }
        (AuthOutcome::Refused(error), Mode::Required) => Err(error),
        (AuthOutcome::Refused(VerifyError::MissingToken), Mode::Optional) => Ok(()),
        (AuthOutcome::Refused(error), Mode::Optional) => {
            req.extensions_mut().insert(error);
            Ok(())
        }
    }
}

/// One extension per caller: the [`Claims`] of a session (what handlers have always read),
/// or the identity of a machine caller.
fn insert_auth(auth: Auth, extensions: &mut http::Extensions) {
    match auth {
        Auth::Session(claims) => {
            extensions.insert::<Claims>(claims);
        }
        #[cfg(feature = "machine_auth")]
        Auth::ApiKey(key) => {
            extensions.insert(key);
        }
        #[cfg(feature = "machine_auth")]
        Auth::M2m(m2m) => {
            extensions.insert(m2m);
        }
        #[cfg(feature = "machine_auth")]
        Auth::OAuth(oauth) => {
            extensions.insert(oauth);
        }
    }
}

/// The caller the layer put in `extensions`, if any.
#[cfg(feature = "axum")]
pub(crate) fn auth_from(extensions: &http::Extensions) -> Option<Auth> {
    if let Some(claims) = extensions.get::<Claims>() {
        return Some(Auth::Session(claims.clone()));
    }
    #[cfg(feature = "machine_auth")]
    {
        if let Some(key) = extensions.get::<super::ApiKeyIdentity>() {
            return Some(Auth::ApiKey(key.clone()));
        }
        if let Some(m2m) = extensions.get::<super::M2mIdentity>() {
            return Some(Auth::M2m(m2m.clone()));
        }
        if let Some(oauth) = extensions.get::<super::OAuthIdentity>() {
            return Some(Auth::OAuth(oauth.clone()));
        }
    }
    None
}

/// The response to a refused request: 401 (or 503), `WWW-Authenticate`, and a JSON body
/// with the failed check's code. Never the token or a value read from it.
pub(crate) fn rejection(error: &VerifyError) -> Response<Full<Bytes>> {
    let (status, headers, body) = rejection_parts(error);
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The status, headers and JSON body of [`rejection`], for shells of other frameworks.
pub(crate) fn rejection_parts(error: &VerifyError) -> (http::StatusCode, http::HeaderMap, Bytes) {
    let status = error.status();
    let kind = match status {
        http::StatusCode::UNAUTHORIZED => "unauthorized",
        http::StatusCode::FORBIDDEN => "forbidden",
        _ => "service_unavailable",
    };
    let body = serde_json::json!({
        "error": kind,
        "reason": error.code(),
        "message": error.to_string(),
    });
    let mut headers = http::HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == http::StatusCode::UNAUTHORIZED {
        let challenge = match error {
            VerifyError::MissingToken => "Bearer",
            _ => "Bearer error=\"invalid_token\"",
        };
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    if matches!(error, VerifyError::MachineVerifyLimited) {
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    (status, headers, Bytes::from(body.to_string()))
}

/// A `307 Temporary Redirect` with the headers of a [`RequestState`](super::RequestState)
/// (`Location`, `Set-Cookie`, `Cache-Control`), and no body.
pub(crate) fn redirect(headers: http::HeaderMap) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = http::StatusCode::TEMPORARY_REDIRECT;
    *response.headers_mut() = headers;
    response
}

/// Appends `extra` to `headers` (`Set-Cookie` values add to the handler's own).
fn append_headers(headers: &mut http::HeaderMap, extra: http::HeaderMap) {
    let mut name = None;
    for (key, value) in extra {
        if let Some(key) = key {
            name = Some(key);
        }
        if let Some(name) = &name {
            headers.append(name.clone(), value);
        }
    }
}

pin_project! {
    /// The future of a [`SessionService`].
    pub struct ResponseFuture<F, S, B> {
        #[pin]
        state: State<F, S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B> {
        Inner { #[pin] future: F, headers: Option<http::HeaderMap> },
        Verifying { verify: AuthFuture, next: Option<(S, Request<B>)>, mode: Mode },
        Deciding { decide: RequestFuture, next: Option<(S, Request<B>)>, mode: Mode },
        Rejected { response: Option<Response<Full<Bytes>>> },
    }
}

impl<F, S, B> ResponseFuture<F, S, B> {
    fn rejected(error: &VerifyError) -> Self {
        ResponseFuture {
            state: State::Rejected {
                response: Some(rejection(error)),
            },
        }
    }
}

impl<F, S, B, ResBody, E> Future for ResponseFuture<F, S, B>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    S: Service<Request<B>, Future = F, Response = Response<ResBody>, Error = E>,
{
    type Output = Result<Response<SessionBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Inner { future, headers } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(extra) = headers.take() {
                        append_headers(response.headers_mut(), extra);
                    }
                    return Poll::Ready(Ok(response.map(SessionBody::inner)));
                }
                StateProj::Deciding { decide, next, mode } => {
                    let state = ready!(Pin::new(decide).poll(cx));
                    let Some((mut inner, mut req)) = next.take() else {
                        this.state.set(State::Rejected { response: None });
                        continue;
                    };
                    if state.redirect().is_some() {
                        let (_, headers) = state.into_parts();
                        this.state.set(State::Rejected {
                            response: Some(redirect(headers)),
                        });
                        continue;
                    }
                    let (outcome, headers) = state.into_parts();
                    let headers = (!headers.is_empty()).then_some(headers);
                    let next_state = match admit(outcome, *mode, &mut req) {
                        Ok(()) => State::Inner {
                            future: inner.call(req),
                            headers,
                        },
                        Err(error) => {
                            let mut response = rejection(&error);
                            if let Some(extra) = headers {
                                append_headers(response.headers_mut(), extra);
                            }
                            State::Rejected {
                                response: Some(response),
                            }
                        }
                    };
                    this.state.set(next_state);
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .unwrap_or_else(|| rejection(&VerifyError::MissingToken));
                    return Poll::Ready(Ok(response.map(SessionBody::rejection)));
                }
                StateProj::Verifying { verify, next, mode } => {
                    let result = ready!(Pin::new(verify).poll(cx));
                    let Some((mut inner, mut req)) = next.take() else {
                        // Polled again after completion: answer as a refusal, never panic.
                        this.state.set(State::Rejected { response: None });
                        continue;
                    };
                    let next_state = match admit(result, *mode, &mut req) {
                        Ok(()) => State::Inner {
                            future: inner.call(req),
                            headers: None,
                        },
                        Err(error) => State::Rejected {
                            response: Some(rejection(&error)),
                        },
                    };
                    this.state.set(next_state);
                }
            }
        }
    }
}

pin_project! {
    /// The response body of a [`SessionService`]: the inner service's, or the JSON error of a
    /// refused request.
    pub struct SessionBody<B> {
        #[pin]
        kind: BodyKind<B>,
    }
}

pin_project! {
    #[project = BodyKindProj]
    enum BodyKind<B> {
        Inner { #[pin] body: B },
        Rejection { #[pin] body: Full<Bytes> },
    }
}

impl<B> SessionBody<B> {
    fn inner(body: B) -> Self {
        SessionBody {
            kind: BodyKind::Inner { body },
        }
    }

    fn rejection(body: Full<Bytes>) -> Self {
        SessionBody {
            kind: BodyKind::Rejection { body },
        }
    }

    /// Whether this is the JSON error of a refused request.
    pub fn is_rejection(&self) -> bool {
        matches!(self.kind, BodyKind::Rejection { .. })
    }
}

impl<B: std::fmt::Debug> std::fmt::Debug for SessionBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            BodyKind::Inner { body } => f.debug_tuple("SessionBody::Inner").field(body).finish(),
            BodyKind::Rejection { .. } => f.write_str("SessionBody::Rejection"),
        }
    }
}

impl<B> Body for SessionBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            BodyKindProj::Inner { body } => body.poll_frame(cx),
            BodyKindProj::Rejection { body } => match ready!(body.poll_frame(cx)) {
                Some(Ok(frame)) => Poll::Ready(Some(Ok(frame))),
                // `Full`'s error is `Infallible`.
                Some(Err(never)) => match never {},
                None => Poll::Ready(None),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Inner { body } => body.is_end_stream(),
            BodyKind::Rejection { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Inner { body } => body.size_hint(),
            BodyKind::Rejection { body } => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_name_the_check() {
        let r = rejection(&VerifyError::Expired);
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        let missing = rejection(&VerifyError::MissingToken);
        assert_eq!(missing.headers()[WWW_AUTHENTICATE], "Bearer");
        let down = rejection(&VerifyError::KeysUnavailable(crate::Error::config("x")));
        assert_eq!(down.status(), 503);
        assert!(down.headers().get(WWW_AUTHENTICATE).is_none());
    }
}
