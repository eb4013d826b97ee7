//! A test signing key, its JWKS, and session tokens minted with it (feature `mock`).
//!
//! **The key below is a test key, published in this crate's source: anyone can sign tokens
//! with it. Never trust it outside tests.** No code path of the crate trusts it on its own:
//! a [`Verifier`](crate::auth::Verifier) only ever uses the keys it is given (the JWKS of the
//! API it is pointed at, or the PEM you pass), so this key is trusted only by a verifier
//! pointed at a mock.
//!
//! The mock serves the key's set at `GET /v1/jwks` (with a valid secret key, like Clerk), and
//! [`MockClerk::session_token`] mints session tokens the way Clerk's Frontend API does
//! (RS256, `kid`, `sub`, `sid`, `iss`, `iat`, `nbf` 10 s back, `exp` 60 s ahead, `v: 2`), so an
//! application can be tested end to end without a Clerk account:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use clerk_tower::{auth::Verifier, mock::MockClerk, Client};
//!
//! let mock = MockClerk::new();
//! let client = Client::builder()
//!     .secret_key(MockClerk::DEFAULT_SECRET_KEY)
//!     .transport(mock.service())
//!     .build()?;
//! let verifier = Verifier::builder().client(client).build()?;
//!
//! let token = mock.session_token("user_123")?;
//! let claims = verifier.verify(&token).await?;
//! assert_eq!(claims.sub, "user_123");
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Response, StatusCode};
use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Map, Value};

use super::engine::{Incoming, SplitMix64};
use super::MockClerk;
use crate::models::{Jwk, Jwks};

/// The `kid` of the mock's test key.
pub const TEST_KEY_ID: &str = "ins_clerk_tower_mock_test_key";

/// The `iss` of the mock's session tokens (a reserved `.invalid` name: no real instance has it).
pub const MOCK_ISSUER: &str = "https://clerk-tower-mock.invalid";

/// The public half of the mock's test key, as the Clerk dashboard shows a "JWT public key":
/// for networkless tests (`Verifier::builder().jwt_key(TEST_JWT_PUBLIC_KEY)`).
/// **A test key: never trust it outside tests.**
pub const TEST_JWT_PUBLIC_KEY: &str = include_str!("test_key_public.pem");

/// The private half (PKCS#8), generated with `openssl genrsa 2048` for this crate's tests and
/// published with it. **A test key: never trust it outside tests.**
const TEST_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDAeIwCRYYgmaHw
cEnnO7xZDZqnqglwNoeEGertfZLo8zOJeX7TRD446YBGCVupaZwy8l2rGkqcJH8E
X67YW441woPohjBCRKS0d64eIg1RmsGqfodoVbpOcX5RRVEqMuL7e1Pfmm/c9gOC
WaZI8p50X+b+VyXdfCy1A+gOFr9kgYlZ4pjFYDd1RBkeRzPierfPZB9XWgWeX/NO
B7/1FWmBckq9PP1GNYRq+pViC1WmEmFnISawQP2xcQiWMQ4XkgnZ8qfTORYETZ5I
VTUUl3I36omnOCivtwUNH1snOfzlCLUlWddebLupFiUnqgrvBwlK3ftm2g+/JXEW
7X+JI5TdAgMBAAECggEAAgox0nh5bMzS9izAWRe5FFOaFV3yvEJqWobS283Sh7uy
xn77ChUGgUKBmOLSkglN//ygUmB47CfZZbNekYMK5Fx/9GMm4uo+DuTHBEN426np
+xB+9gS/o/ZSS8N4eIIwBXMnQbU/ALjdSJcCcWFGe16G1AbnBLtFReSmEoSvqoYr
hho8fMmZ3DpTcpmiNI/zpBSuHKqb9X22JsKHEwaw/kLu+MkBzobhaSy/UYXYgVUy
JNP+ubz9i6FOJoqrK9/7dCd7cyrxPaHM/UMdXdqx/glLGmE4aBPnjs4PA9mX/28C
Vaer5itTDeD/ywSlBKQr1TILYMT7lErdS5FvMhe7EQKBgQD5orwE2KYcTVP8Fvzi
6TIOo8eCta5AdAKSmZQAUHLFi1IGkicAc0NejMwmF6A/XXdHBTGXPWGn53nLpsig
zhg1sctQ2XLY1/kAKrk24eHhv2jH7FpIfphBoFhNQH1DaMQbsGYjCaToBM3BxHfp
DxR9YukV3tssU/Ag8b5z5cpp2QKBgQDFYLjkwbsVaGtJtvju0t6bt7lWu4Zc287F
zaVVfGZJCf6j1MxGie+UHOdZ8utj1vlIWOp6kzo4L04klGMp64TDzaFyekAP6+zX
9XIJ20Kpi/kP85TwlPaNDn1uIhMWs0Tky2e5Zwp7JUbTc9dv620k5s9l0JhInTUx
3GdjrkK8pQKBgGWnJccXbbTyrDNoLPw9l3usp66LSvTGCNInpcPm/oWAsRsp4qXl
SdazoOIWFtQWvF54N/RtM1oLAWazeNk6c1NSHgfDNGgmsiemPhuiKbgimIlorm78
1gVLRQnYK+oKPGlGEKFN6Q/t/NddqLKHyIEyiNW2FSvc1lij+Dj7pswpAoGBAJ1X
4Yzas1z5hK2a4w7fov3XlDQEAbR8tXUR3r8rEA8hnJDVzpJc21PjRrp54BQTB14Z
I7LbMwofC9g1QmfkjE3a2tz7f54xoPj3fRVGaPnnz4Bb2VuAJJuF9Y+aMkViW4VY
cTNnZP+OU8u1CQT7VGKabLLperxINmOtI+5euGzRAoGATOwXi1R5PVCpQxMh0lCU
0RYhy9+2C7FzhVMVnbNU1DUE3+nS39qbcl88Eq+qtNnKSG/mUD8Erxi3e7nKNI1Y
sxaVGwcl2UE93KUGfWSefaLIKIqlTR6vuwiwA2H0jUS5SwdN8Hjaou9MLUIdGpAo
D6FXQp9cHj7fcoFaevonRI8=
-----END PRIVATE KEY-----
";

pub(crate) const JWKS_PATH: &str = "/v1/jwks";

/// The `cat` header Clerk stamps on session tokens.
const SESSION_CATEGORY: &str = "cl_B7d4PD111AAA";

/// Why a token could not be minted (a key that ring refuses, or claims that are not a JSON
/// object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintError(pub(crate) &'static str);

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not mint a test token: {}", self.0)
    }
}

impl std::error::Error for MintError {}

/// An RSA key pair that signs test tokens: the mock's own ([`TestSigningKey::mock`]) or one of
/// yours (a second instance in an isolation test). **For tests only.**
pub struct TestSigningKey {
    kid: String,
    pair: RsaKeyPair,
}

impl fmt::Debug for TestSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestSigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestSigningKey {
    /// The mock's test key (`kid` [`TEST_KEY_ID`]), parsed once.
    ///
    /// # Errors
    /// Only if ring refused the embedded key, which the crate's tests rule out.
    pub fn mock() -> Result<&'static TestSigningKey, MintError> {
        static KEY: OnceLock<Result<TestSigningKey, MintError>> = OnceLock::new();
        KEY.get_or_init(|| TestSigningKey::from_pkcs8_pem(TEST_KEY_ID, TEST_PRIVATE_KEY))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A key from a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, what
    /// `openssl genrsa` writes), named `kid`.
    ///
    /// # Errors
    /// When the PEM is not an RSA PKCS#8 key ring accepts (2048 to 4096 bits).
    pub fn from_pkcs8_pem(kid: impl Into<String>, pem: &str) -> Result<Self, MintError> {
        let b64: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        let der = STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| MintError("the PEM is not base64"))?;
        let pair =
            RsaKeyPair::from_pkcs8(&der).map_err(|_| MintError("not an RSA PKCS#8 private key"))?;
        Ok(TestSigningKey {
            kid: kid.into(),
            pair,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty: RSA`, `alg: RS256`, `use: sig`).
    pub fn jwk(&self) -> Jwk {
        let public = PublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        Jwk::rsa(
            self.kid.clone(),
            URL_SAFE_NO_PAD.encode(&public.n),
            URL_SAFE_NO_PAD.encode(&public.e),
        )
    }

    /// A key set with just this key.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk()],
        }
    }

    /// Signs `claims` (a JSON object) as an RS256 JWT with header
    /// `{"alg":"RS256","kid":...,"typ":"JWT"}`.
    ///
    /// # Errors
    /// When `claims` is not a JSON object, or signing fails.
    pub fn sign(&self, claims: &Value) -> Result<String, MintError> {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` with RS256 under any header: for tests of tokens a verifier must refuse
    /// (a wrong `alg`, no `kid`, a `crit` member...).
    ///
    /// # Errors
    /// When `header` or `claims` is not a JSON object, or signing fails.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> Result<String, MintError> {
        if !header.is_object() || !claims.is_object() {
            return Err(MintError("the header and the claims must be JSON objects"));
        }
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| MintError("ring could not sign"))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(&signature));
        Ok(token)
    }
}

impl MockClerk {
    /// A session token for `user_id`, signed with the mock's test key, shaped like Clerk's
    /// (v2): `sub`, a fresh `sid`, `iss` [`MOCK_ISSUER`], `iat` now, `nbf` 10 s ago, `exp` in
    /// 60 s, `v: 2`. No `azp`: add one with [`session_token_with`](Self::session_token_with).
    ///
    /// The mock serves the key set these tokens verify with at `GET /v1/jwks` (with a valid
    /// secret key, as Clerk does), so a [`Verifier`](crate::auth::Verifier) built with a
    /// client pointed at the mock accepts them. The key is a **test key** published in this
    /// crate ([`TestSigningKey`]): never trust it outside tests.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use clerk_tower::{auth::Verifier, mock::MockClerk, Client};
    ///
    /// let mock = MockClerk::new();
    /// let client = Client::builder()
    ///     .secret_key(MockClerk::DEFAULT_SECRET_KEY)
    ///     .transport(mock.service())
    ///     .build()?;
    /// let verifier = Verifier::builder().client(client).build()?;
    /// let claims = verifier.verify(&mock.session_token("user_123")?).await?;
    /// assert_eq!(claims.sub, "user_123");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Only if ring refused the embedded key, which the crate's tests rule out.
    pub fn session_token(&self, user_id: &str) -> Result<String, MintError> {
        self.session_token_with(user_id, Value::Object(Map::new()))
    }

    /// [`session_token`](Self::session_token) with `claims` (a JSON object) added or replacing
    /// the defaults: `azp`, an organization (`o`, `fea`), `act`, custom claims, or other times
    /// (`exp`, `nbf`, `iat` in Unix seconds).
    ///
    /// ```
    /// use clerk_tower::mock::MockClerk;
    /// use serde_json::json;
    ///
    /// let token = MockClerk::new().session_token_with("user_1", json!({
    ///     "azp": "http://localhost:3000",
    ///     "o": {"id": "org_1", "rol": "admin", "slg": "acme"},
    /// }))?;
    /// # Ok::<(), clerk_tower::mock::MintError>(())
    /// ```
    ///
    /// # Errors
    /// When `claims` is not a JSON object.
    pub fn session_token_with(&self, user_id: &str, claims: Value) -> Result<String, MintError> {
        let Value::Object(extra) = claims else {
            return Err(MintError("the claims must be a JSON object"));
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let mut payload = Map::new();
        payload.insert("sub".into(), user_id.into());
        payload.insert(
            "sid".into(),
            SplitMix64::new(SplitMix64::entropy()).id("sess_").into(),
        );
        payload.insert("iss".into(), MOCK_ISSUER.into());
        payload.insert("iat".into(), now.into());
        payload.insert("nbf".into(), now.saturating_sub(10).into());
        payload.insert("exp".into(), now.saturating_add(60).into());
        payload.insert("v".into(), 2.into());
        payload.insert("sts".into(), "active".into());
        payload.extend(extra);
        // A session the mock knows: `POST /v1/sessions/{id}/tokens` answers for it.
        if let (Some(Value::String(sid)), Some(Value::String(sub))) =
            (payload.get("sid"), payload.get("sub"))
        {
            self.lock().auth.sessions.insert(sid.clone(), sub.clone());
        }
        let header =
            json!({"alg": "RS256", "kid": TEST_KEY_ID, "typ": "JWT", "cat": SESSION_CATEGORY});
        TestSigningKey::mock()?.sign_with_header(&header, &Value::Object(payload))
    }

    /// The public half of the mock's test key as PEM: [`TEST_JWT_PUBLIC_KEY`].
    pub fn jwt_public_key() -> &'static str {
        TEST_JWT_PUBLIC_KEY
    }
}

/// The mock's answer to `GET /v1/jwks`, or `None` for any other request (the routing hook of
/// the engine, called once the secret key has been checked).
pub(crate) fn respond(req: &Incoming<'_>) -> Option<Response<Bytes>> {
    if req.uri.path() != JWKS_PATH || *req.method != Method::GET {
        return None;
    }
    let body = TestSigningKey::mock()
        .ok()
        .and_then(|key| serde_json::to_vec(&key.jwks()).ok())?;
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = StatusCode::OK;
    let len = response.body().len();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Verifier;

    #[test]
    fn embedded_key_and_public_pem_agree() {
        let key = TestSigningKey::mock().unwrap();
        let token = key
            .sign(&json!({"sub": "user_u", "sid": "sess_1", "exp": i64::MAX / 2}))
            .unwrap();
        let networkless = Verifier::builder()
            .jwt_key(TEST_JWT_PUBLIC_KEY)
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let claims = rt.block_on(networkless.verify(&token)).unwrap();
        assert_eq!(claims.sub, "user_u");
        assert_eq!(key.jwk().kid, TEST_KEY_ID);
        assert!(matches!(key.sign(&json!([1])), Err(MintError(_))));
    }
}
