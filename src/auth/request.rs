//! The request check, framework-agnostic: from a request's headers (or its token) to one typed
//! [`AuthOutcome`]. [`SessionLayer`](super::SessionLayer) is a thin tower shell over it; other
//! frameworks call [`Authenticator::authenticate_token`] with the token they extracted.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, COOKIE};

use super::verify::Step;
use super::{Claims, Verifier, VerifyError};

/// The name of the cookie Clerk keeps the session token in.
pub const SESSION_COOKIE: &str = "__session";

/// Who is calling, once a request's token was verified.
///
/// With the `axum` feature, `Auth` is an extractor too.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Auth {
    /// A signed-in user's session.
    Session(Claims),
}

impl Auth {
    /// The session claims, when the caller is a session.
    pub fn session(&self) -> Option<&Claims> {
        match self {
            Auth::Session(claims) => Some(claims),
        }
    }
}

/// A pending session (`sts: "pending"`) that the verifier does not accept as signed in: its
/// user still has a session task to complete. An optional
/// [`SessionLayer`](super::SessionLayer) puts it in the request's extensions (instead of the
/// [`Claims`]) so that an app can send the user to the task.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingSession(Claims);

impl PendingSession {
    /// The verified claims of the pending session.
    pub fn claims(&self) -> &Claims {
        &self.0
    }

    /// The claims, owned.
    pub fn into_claims(self) -> Claims {
        self.0
    }
}

/// The outcome of the request check.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    /// The token was verified and is of a class the route accepts.
    Authenticated(Auth),
    /// A valid session token of a pending session, which the verifier does not accept.
    Pending(PendingSession),
    /// No token, or a token refused: the reason (never the token).
    Refused(VerifyError),
}

impl AuthOutcome {
    /// The caller, when authenticated.
    pub fn auth(&self) -> Option<&Auth> {
        match self {
            AuthOutcome::Authenticated(auth) => Some(auth),
            _ => None,
        }
    }

    /// Why the request is not authenticated (`SessionPending` for a pending session).
    pub fn error(&self) -> Option<VerifyError> {
        match self {
            AuthOutcome::Authenticated(_) => None,
            AuthOutcome::Pending(_) => Some(VerifyError::SessionPending),
            AuthOutcome::Refused(e) => Some(e.clone()),
        }
    }
}

/// The token of a request, given its `Authorization` header value and its `Cookie` header
/// values: `Authorization: Bearer <token>` first, then the `__session` cookie (its value may
/// be quoted, as RFC 6265 §4.1.1 allows). `None` when neither holds a non-empty token.
///
/// For frameworks whose header types are not the `http` crate's; with an
/// [`http::HeaderMap`], use [`session_token`].
pub fn request_token<'a, I>(authorization: Option<&'a str>, cookies: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let bearer = authorization.and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    });
    if bearer.is_some() {
        return bearer;
    }
    cookies
        .into_iter()
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            if name.trim() != SESSION_COOKIE {
                return None;
            }
            let value = value.trim();
            // RFC 6265 §4.1.1: cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE );
            // the quotes are not part of the value.
            let value = match value.strip_prefix('"') {
                Some(rest) => rest.strip_suffix('"')?,
                None => value,
            };
            (!value.is_empty()).then_some(value)
        })
}

/// The session token of a request: `Authorization: Bearer <token>` first, then the
/// `__session` cookie. `None` when neither holds a non-empty token.
///
/// ```
/// use clerk_tower::auth::session_token;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("cookie", "theme=dark; __session=eyJ.a.b".parse().unwrap());
/// assert_eq!(session_token(&headers), Some("eyJ.a.b"));
/// headers.insert("authorization", "Bearer eyJ.c.d".parse().unwrap());
/// assert_eq!(session_token(&headers), Some("eyJ.c.d"));
/// ```
pub fn session_token(headers: &http::HeaderMap) -> Option<&str> {
    request_token(
        headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()),
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// The request check: which token classes a route accepts, and how each is verified.
///
/// Cheap to clone. [`SessionLayer`](super::SessionLayer) wraps one; call it directly to
/// authenticate requests in another framework:
///
/// ```
/// # async fn demo(verifier: clerk_tower::auth::Verifier, headers: http::HeaderMap) {
/// use clerk_tower::auth::{Auth, AuthOutcome, Authenticator};
///
/// let auth = Authenticator::new(verifier);
/// match auth.authenticate(&headers).await {
///     AuthOutcome::Authenticated(Auth::Session(claims)) => println!("user {}", claims.sub),
///     AuthOutcome::Authenticated(_) => println!("another class of caller"),
///     AuthOutcome::Pending(_) => println!("a session task to complete"),
///     AuthOutcome::Refused(error) => println!("refused: {}", error.code()),
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Authenticator {
    verifier: Verifier,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("verifier", &self.verifier)
            .finish()
    }
}

impl Authenticator {
    /// Accepts session tokens verified by `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Authenticator { verifier }
    }

    /// The session verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Authenticates a request by its headers ([`session_token`] finds the token).
    pub fn authenticate(&self, headers: &http::HeaderMap) -> AuthFuture {
        self.authenticate_token(session_token(headers))
    }

    /// Authenticates a request by its token (`None`: the request has none). Without I/O when
    /// the answer is known (a cached key, a cached token, a refusal): the future is then
    /// ready at once ([`AuthFuture::now`]).
    pub fn authenticate_token(&self, token: Option<&str>) -> AuthFuture {
        let Some(token) = token else {
            return AuthFuture::ready(AuthOutcome::Refused(VerifyError::MissingToken));
        };
        match self.verifier.verify_now(token) {
            Step::Done(result) => AuthFuture::ready(self.session_outcome(result)),
            Step::NeedsKeys => {
                let token = token.to_owned();
                let this = self.clone();
                AuthFuture::waiting(async move {
                    let result = this.verifier.verify_any_status(&token).await;
                    this.session_outcome(result)
                })
            }
        }
    }

    fn session_outcome(&self, result: Result<Claims, VerifyError>) -> AuthOutcome {
        match result {
            Ok(claims) if claims.is_pending() && !self.verifier.accepts_pending() => {
                AuthOutcome::Pending(PendingSession(claims))
            }
            Ok(claims) => AuthOutcome::Authenticated(Auth::Session(claims)),
            Err(error) => AuthOutcome::Refused(error),
        }
    }
}

/// The future of [`Authenticator::authenticate`]: ready at once when no I/O is needed.
pub struct AuthFuture {
    state: FutureState,
}

enum FutureState {
    Ready(Option<AuthOutcome>),
    Waiting(Pin<Box<dyn Future<Output = AuthOutcome> + Send>>),
}

impl fmt::Debug for AuthFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            FutureState::Ready(_) => "ready",
            FutureState::Waiting(_) => "waiting",
        };
        f.debug_struct("AuthFuture").field("state", &state).finish()
    }
}

impl AuthFuture {
    fn ready(outcome: AuthOutcome) -> Self {
        AuthFuture {
            state: FutureState::Ready(Some(outcome)),
        }
    }

    fn waiting(future: impl Future<Output = AuthOutcome> + Send + 'static) -> Self {
        AuthFuture {
            state: FutureState::Waiting(Box::pin(future)),
        }
    }

    /// The outcome when it is known without waiting (`Err(self)` when I/O is needed).
    pub fn now(self) -> Result<AuthOutcome, Self> {
        match self.state {
            FutureState::Ready(Some(outcome)) => Ok(outcome),
            state => Err(AuthFuture { state }),
        }
    }
}

impl Future for AuthFuture {
    type Output = AuthOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<AuthOutcome> {
        match &mut self.state {
            FutureState::Ready(outcome) => Poll::Ready(
                outcome
                    .take()
                    // Polled after completion: a refusal, never a panic.
                    .unwrap_or(AuthOutcome::Refused(VerifyError::MissingToken)),
            ),
            FutureState::Waiting(future) => future.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn token_places() {
        assert_eq!(session_token(&headers(&[])), None);
        assert_eq!(
            session_token(&headers(&[("authorization", "Bearer a.b.c")])),
            Some("a.b.c")
        );
        assert_eq!(
            session_token(&headers(&[("authorization", "bearer  a.b.c ")])),
            Some("a.b.c")
        );
        assert_eq!(
            session_token(&headers(&[("authorization", "Basic dXNlcjpwdw==")])),
            None
        );
        assert_eq!(
            session_token(&headers(&[("authorization", "Bearer ")])),
            None
        );
        assert_eq!(
            session_token(&headers(&[
                ("authorization", "Basic x"),
                ("cookie", "__session=t.o.k")
            ])),
            Some("t.o.k"),
            "a non-Bearer Authorization falls back to the cookie"
        );
        assert_eq!(
            session_token(&headers(&[
                ("cookie", "a=1"),
                ("cookie", "b=2; __session=x.y.z; c=3")
            ])),
            Some("x.y.z")
        );
        assert_eq!(
            session_token(&headers(&[("cookie", "__session_abc=x.y.z")])),
            None
        );
        assert_eq!(session_token(&headers(&[("cookie", "__session=")])), None);
        assert_eq!(
            session_token(&headers(&[
                ("authorization", "Bearer h.d.r"),
                ("cookie", "__session=c.o.o")
            ])),
            Some("h.d.r"),
            "the header wins"
        );
    }

    #[test]
    fn cookie_values_may_be_quoted() {
        let t = |cookies: &[&'static str]| request_token(None, cookies.iter().copied());
        assert_eq!(t(&["__session=\"a.b.c\""]), Some("a.b.c"));
        assert_eq!(t(&["x=1; __session=\"a.b.c\"; y=2"]), Some("a.b.c"));
        assert_eq!(t(&["__session=\"\""]), None);
        assert_eq!(t(&["__session=\"a.b.c"]), None, "an unclosed quote");
        assert_eq!(t(&["__session=a.b.c"]), Some("a.b.c"));
    }
}
