//! A test-only stand-in for Clerk's **Frontend API** (the host a publishable key names), for
//! the handshake of server-rendered pages: enough of it that a browser's whole round trip
//! (sign in, token expiry, handshake, back signed in) runs on 127.0.0.1.
//!
//! It is another host than the Backend API, so it has its own listener
//! ([`MockClerk::serve_frontend`]); it shares the mock's state: the sessions it signs in are
//! the ones `POST /v1/sessions/{id}/tokens` and `POST /v1/sessions/{id}/refresh` know.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /v1/client/handshake?redirect_url=...` | Clerk's handshake: finds the browser's client (the `__clerk_db_jwt` parameter on a development instance, else the `__client` cookie), signs the cookies it should have into a handshake payload (`{"handshake": [Set-Cookie values]}`, RS256 with the mock's test key), and answers `307` to `redirect_url` with it: in the URL (`__clerk_handshake`, development) or in a cookie (production) |
//! | `GET /__mock/sign_in?user_id=...&redirect_url=...` | test-only: a new client signed in as `user_id` (its `__client` cookie, a dev browser), then the same answer as the handshake |
//! | `POST /__mock/sign_out` | test-only: the browser's client signs out (its session ends) |
//!
//! [`FrontendServer::set_broken`] makes the handshake answer badly (a redirect back with no
//! payload), to test the redirect-loop protection. **Never trust the test key outside tests.**

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use super::tokens::TestSigningKey;
use super::MockClerk;
use crate::auth::cookie_suffix;

/// What the Frontend API knows of browsers: their clients and dev browsers.
#[derive(Default)]
pub(crate) struct FrontendStore {
    /// Client id -> its signed-in session and the time of the last sign-in or sign-out.
    clients: HashMap<String, Client>,
    /// Dev browser token -> client id.
    dev_browsers: HashMap<String, String>,
    /// Refresh token -> session id (what `POST /v1/sessions/{id}/refresh` accepts).
    pub(crate) refresh_tokens: HashMap<String, String>,
}

struct Client {
    session: Option<String>,
    user: String,
    changed_at: i64,
}

/// Whether the mock Frontend API plays a development or a production instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FrontendInstance {
    /// `pk_test_`: the handshake payload travels in the URL; a dev browser names the client.
    #[default]
    Development,
    /// `pk_live_`: the handshake payload travels in a cookie (shared by the app: both are on
    /// 127.0.0.1, as an app and its Frontend API share a registrable domain).
    Production,
}

/// A running mock Frontend API, made by [`MockClerk::serve_frontend`]. Test-only.
///
/// | route | what it does |
/// |---|---|
/// | `GET /v1/client/handshake?redirect_url=...` | Clerk's handshake: finds the browser's client (the `__clerk_db_jwt` parameter on a development instance, else the `__client` cookie), signs the cookies it should have into a handshake payload (`{"handshake": [Set-Cookie values]}`, RS256 with the mock's test key), and answers `307` to `redirect_url` with it: in the URL (`__clerk_handshake`, development) or in a cookie (production) |
/// | `GET /__mock/sign_in?user_id=...&redirect_url=...` | test-only: a new client signed in as `user_id` (its `__client` cookie, a dev browser), then the same answer as the handshake |
/// | `POST /__mock/sign_out` | test-only: the browser's client signs out (its session ends) |
///
/// Its session tokens name it as their issuer and live 60 s
/// ([`set_token_lifetime`](Self::set_token_lifetime)); the handshake also sets a
/// `__refresh_<suffix>` cookie that `POST /v1/sessions/{id}/refresh` accepts.
/// [`set_broken`](Self::set_broken) makes the handshake answer badly (a redirect back with no
/// payload), to test the redirect-loop protection.
pub struct FrontendServer {
    addr: SocketAddr,
    instance: FrontendInstance,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

struct Shared {
    clerk: MockClerk,
    addr: SocketAddr,
    instance: FrontendInstance,
    publishable_key: String,
    broken: AtomicBool,
    lifetime_secs: AtomicU64,
    handshakes: AtomicUsize,
}

impl fmt::Debug for FrontendServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrontendServer")
            .field("addr", &self.addr)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl FrontendServer {
    /// Its URL: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The publishable key that names it (`pk_test_` or `pk_live_` and the base64 of
    /// `127.0.0.1:PORT$`).
    pub fn publishable_key(&self) -> &str {
        &self.shared.publishable_key
    }

    /// The issuer (`iss`) of the session tokens it mints: its own URL, as Clerk's tokens
    /// name their Frontend API.
    pub fn issuer(&self) -> String {
        self.url()
    }

    /// How long the session tokens it mints live (default 60 s, at least 1 s).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared
            .lifetime_secs
            .store(lifetime.as_secs().max(1), Ordering::Relaxed);
    }

    /// Make the handshake answer badly (`true`): a redirect back to `redirect_url` without
    /// any payload, again and again.
    pub fn set_broken(&self, broken: bool) {
        self.shared.broken.store(broken, Ordering::Relaxed);
    }

    /// How many handshake requests it answered.
    pub fn handshake_count(&self) -> usize {
        self.shared.handshakes.load(Ordering::Relaxed)
    }

    /// Stops the server and waits until every connection is gone.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FrontendServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl MockClerk {
    /// Makes `refresh_token` a refresh token of `session_id` (as the Frontend API's handshake
    /// sets it in `__refresh_<suffix>`): `POST /v1/sessions/{session_id}/refresh` then accepts
    /// it with an expired token of that session.
    pub fn insert_refresh_token(&self, refresh_token: &str, session_id: &str) {
        self.lock()
            .auth
            .frontend
            .refresh_tokens
            .insert(refresh_token.to_owned(), session_id.to_owned());
    }

    /// Serves a mock Frontend API for this mock on 127.0.0.1 and a random port (see
    /// [`FrontendServer`]). Test-only: it signs with the mock's published test key.
    ///
    /// # Errors
    /// When the listening socket cannot be bound.
    pub async fn serve_frontend(
        &self,
        instance: FrontendInstance,
    ) -> std::io::Result<FrontendServer> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let addr = listener.local_addr()?;
        let kind = match instance {
            FrontendInstance::Development => "test",
            FrontendInstance::Production => "live",
        };
        let shared = Arc::new(Shared {
            clerk: self.clone(),
            addr,
            instance,
            publishable_key: format!("pk_{kind}_{}", STANDARD.encode(format!("{addr}$"))),
            broken: AtomicBool::new(false),
            lifetime_secs: AtomicU64::new(60),
            handshakes: AtomicUsize::new(0),
        });
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let serving = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let shared = Arc::clone(&serving);
                        connections.spawn(async move {
                            let service = service_fn(move |req| {
                                let answer = shared.answer(&req);
                                async move { Ok::<_, std::convert::Infallible>(answer) }
                            });
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            connections.shutdown().await;
        });
        Ok(FrontendServer {
            addr,
            instance,
            shared,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn query_param(req: &Request<hyper::body::Incoming>, name: &str) -> Option<String> {
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

fn cookie(req: &Request<hyper::body::Incoming>, name: &str) -> Option<String> {
    let values = req
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    crate::auth::find_cookie(values, name).map(str::to_owned)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

/// `url` with `name=value` added to its query.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let pair = form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish();
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    match fragment {
        Some(f) => format!("{base}{sep}{pair}#{f}"),
        None => format!("{base}{sep}{pair}"),
    }
}

impl Shared {
    fn answer(&self, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        match (req.method(), req.uri().path()) {
            (&Method::GET, "/v1/client/handshake") => self.handshake(req, None),
            (&Method::GET, "/__mock/sign_in") => {
                let Some(user) = query_param(req, "user_id") else {
                    return plain(StatusCode::BAD_REQUEST, "user_id is required");
                };
                self.handshake(req, Some(user))
            }
            (&Method::POST, "/__mock/sign_out") => {
                let client = self.client_of(req);
                let mut state = self.clerk.lock();
                let auth = &mut state.auth;
                let Some(client) = client.and_then(|id| auth.frontend.clients.get_mut(&id)) else {
                    return plain(StatusCode::NOT_FOUND, "no client");
                };
                client.changed_at = now_secs();
                if let Some(sid) = client.session.take() {
                    auth.sessions.remove(&sid);
                    auth.frontend.refresh_tokens.retain(|_, s| *s != sid);
                }
                plain(StatusCode::OK, "signed out")
            }
            _ => plain(StatusCode::NOT_FOUND, "not found"),
        }
    }

    /// The request's client: its dev browser (development), else its `__client` cookie.
    fn client_of(&self, req: &Request<hyper::body::Incoming>) -> Option<String> {
        let state = self.clerk.lock();
        if self.instance == FrontendInstance::Development {
            let db = query_param(req, "__clerk_db_jwt").or_else(|| cookie(req, "__clerk_db_jwt"));
            if let Some(id) = db.and_then(|db| state.auth.frontend.dev_browsers.get(&db).cloned()) {
                return Some(id);
            }
        }
        cookie(req, "__client").filter(|id| state.auth.frontend.clients.contains_key(id))
    }

    fn handshake(
        &self,
        req: &Request<hyper::body::Incoming>,
        sign_in: Option<String>,
    ) -> Response<Full<Bytes>> {
        let Some(redirect_url) = query_param(req, "redirect_url") else {
            return plain(StatusCode::BAD_REQUEST, "redirect_url is required");
        };
        if !(redirect_url.starts_with("http://") || redirect_url.starts_with("https://")) {
            return plain(StatusCode::BAD_REQUEST, "redirect_url must be absolute");
        }
        if sign_in.is_none() {
            self.handshakes.fetch_add(1, Ordering::Relaxed);
            if self.broken.load(Ordering::Relaxed) {
                return self.redirect(&redirect_url, Vec::new());
            }
        }
        let suffixed = query_param(req, "suffixed_cookies").as_deref() == Some("true");
        let dev = self.instance == FrontendInstance::Development;
        let existing = self.client_of(req);
        let now = now_secs();
        let lifetime = i64::try_from(self.lifetime_secs.load(Ordering::Relaxed)).unwrap_or(60);
        let suffix = cookie_suffix(&self.publishable_key);
        let mut state = self.clerk.lock();
        let state = &mut *state;
        // The client: a new one signed in as the user, or the browser's own.
        let client_id = match (sign_in, existing) {
            (Some(user), _) => {
                let id = state.rng.id("client_");
                let sid = state.rng.id("sess_");
                state.auth.sessions.insert(sid.clone(), user.clone());
                state.auth.frontend.clients.insert(
                    id.clone(),
                    Client {
                        session: Some(sid),
                        user,
                        changed_at: now,
                    },
                );
                Some(id)
            }
            (None, existing) => existing,
        };
        let mut set_cookies = Vec::new();
        let mut headers_out: Vec<String> = Vec::new();
        if let Some(id) = &client_id {
            headers_out.push(format!("__client={id}; Path=/; HttpOnly; SameSite=Lax"));
        }
        let scope = |name: &str| {
            if suffixed {
                vec![name.to_owned(), format!("{name}_{suffix}")]
            } else {
                vec![name.to_owned()]
            }
        };
        let session = client_id
            .as_ref()
            .and_then(|id| state.auth.frontend.clients.get(id))
            .and_then(|c| Some((c.session.clone()?, c.user.clone(), c.changed_at)));
        match session {
            Some((sid, user, signed_in_at)) => {
                // Clerk's session tokens name the Frontend API as their issuer.
                let issuer = format!("http://{}", self.addr);
                let claims = json!({"sub": user, "sid": sid, "iss": issuer, "iat": now,
                    "nbf": now - 10, "exp": now + lifetime, "v": 2, "sts": "active"});
                let header = json!({"alg": "RS256", "kid": super::TEST_KEY_ID, "typ": "JWT",
                    "cat": "cl_B7d4PD111AAA"});
                let Ok(token) =
                    TestSigningKey::mock().and_then(|k| k.sign_with_header(&header, &claims))
                else {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "the mock could not sign");
                };
                for name in scope("__session") {
                    set_cookies.push(format!("{name}={token}; Path=/; SameSite=Lax"));
                }
                for name in scope("__client_uat") {
                    set_cookies.push(format!(
                        "{name}={signed_in_at}; Path=/; SameSite=Lax; Max-Age=315360000"
                    ));
                }
                let refresh = format!("rt_{}", state.rng.id(""));
                state
                    .auth
                    .frontend
                    .refresh_tokens
                    .insert(refresh.clone(), sid);
                set_cookies.push(format!(
                    "__refresh_{suffix}={refresh}; Path=/; HttpOnly; SameSite=Lax"
                ));
            }
            None => {
                for name in scope("__session") {
                    set_cookies.push(format!("{name}=; Path=/; Max-Age=0"));
                }
                for name in scope("__client_uat") {
                    set_cookies.push(format!("{name}=0; Path=/; SameSite=Lax; Max-Age=315360000"));
                }
            }
        }
        let mut location = redirect_url;
        if dev {
            // A dev browser for the client, so that the next handshake finds it.
            let db = match client_id.as_ref().and_then(|id| {
                state
                    .auth
                    .frontend
                    .dev_browsers
                    .iter()
                    .find(|(_, c)| *c == id)
                    .map(|(db, _)| db.clone())
            }) {
                Some(db) => Some(db),
                None => client_id.as_ref().map(|id| {
                    let db = format!("dvb_{}", state.rng.id(""));
                    state
                        .auth
                        .frontend
                        .dev_browsers
                        .insert(db.clone(), id.clone());
                    db
                }),
            };
            if let Some(db) = db {
                set_cookies.push(format!("__clerk_db_jwt={db}; Path=/; SameSite=Lax"));
            }
        } else {
            set_cookies.insert(0, "__clerk_handshake=; Path=/; Max-Age=0".to_owned());
        }
        let payload = json!({"handshake": set_cookies, "iat": now, "exp": now + 60});
        let header = json!({"alg": "RS256", "kid": super::TEST_KEY_ID, "typ": "JWT"});
        let Ok(jwt) = TestSigningKey::mock().and_then(|k| k.sign_with_header(&header, &payload))
        else {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "the mock could not sign");
        };
        if dev {
            location = with_param(&location, "__clerk_handshake", &jwt);
        } else {
            headers_out.push(format!(
                "__clerk_handshake={jwt}; Path=/; Max-Age=60; SameSite=Lax"
            ));
        }
        self.redirect(&location, headers_out)
    }

    fn redirect(&self, location: &str, cookies: Vec<String>) -> Response<Full<Bytes>> {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::TEMPORARY_REDIRECT;
        let headers = r.headers_mut();
        match HeaderValue::from_str(location) {
            Ok(v) => {
                headers.insert(LOCATION, v);
            }
            Err(_) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "redirect_url is not a header value",
                )
            }
        }
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for c in cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                headers.append(SET_COOKIE, v);
            }
        }
        r
    }
}
