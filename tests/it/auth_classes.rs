//! A session token is a session token (issue 16, part 1): every class of JWT that Clerk signs
//! with the instance key, minted by an independent signer (ring and base64 used directly with
//! the mock's published test key, none of this crate's code), and by the mock, is tried
//! against `Verifier` and against a required and an optional `SessionLayer`. Only session
//! tokens pass; each other class is refused with its own code.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use clerk_tower::auth::{Claims, PendingSession, SessionLayer, Verifier, VerifyError};
use clerk_tower::mock::{TEST_JWT_PUBLIC_KEY, TEST_KEY_ID};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};
use tower::{service_fn, ServiceBuilder, ServiceExt};

/// The mock's test private key (published in `src/mock/tokens.rs`), copied here so that the
/// signer below shares no code with the crate.
pub(crate) const MOCK_PRIVATE_KEY: &str =
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDAeIwCRYYgmaHw
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
D6FXQp9cHj7fcoFaevonRI8=";

/// Signs `header.claims` with RS256 using ring and base64 directly: an issuer independent of
/// the crate under test.
pub(crate) fn forge(header: &Value, claims: &Value) -> String {
    let der = STANDARD.decode(MOCK_PRIVATE_KEY.replace('\n', "")).unwrap();
    let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
    let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        token.as_bytes(),
        &mut sig,
    )
    .unwrap();
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(sig));
    token
}

pub(crate) const CAT_SESSION: &str = "cl_B7d4PD111AAA";
pub(crate) const CAT_IGNORE: &str = "cl_I7d4PD111III";
pub(crate) const CAT_TEMPLATE: &str = "cl_B7d4PD222AAA";
pub(crate) const CAT_M2M: &str = "cl_B7d4PD333AAA";

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) fn header(cat: Option<&str>, typ: &str) -> Value {
    let mut h = json!({"alg": "RS256", "kid": TEST_KEY_ID, "typ": typ});
    if let Some(cat) = cat {
        h["cat"] = cat.into();
    }
    h
}

/// A session token's claims, as Clerk's Frontend API mints them (v2).
pub(crate) fn session_claims() -> Value {
    let now = now();
    json!({"sub": "user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u", "sid": "sess_2x8Q0f1Yw2bUJqVtD8nC3rL5kPz",
           "iss": "https://clerk.example.com", "azp": "http://localhost:3000", "iat": now,
           "nbf": now - 10, "exp": now + 60, "v": 2, "sts": "active", "fva": [0, -1]})
}

/// A JWT template token's claims (what `getToken({template})` gives the browser): the user as
/// subject, a `jti`, custom claims, no session id.
fn template_claims() -> Value {
    let now = now();
    json!({"sub": "user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u", "iss": "https://clerk.example.com",
           "azp": "http://localhost:3000", "iat": now, "nbf": now - 10, "exp": now + 60,
           "jti": "a1b2c3d4e5f6", "aud": "convex", "email": "ada@example.com"})
}

/// A JWT-format M2M token's claims: a machine as subject.
pub(crate) fn m2m_claims() -> Value {
    let now = now();
    json!({"sub": "mch_2x8Q1aMachineIdAbCdEfGh", "iss": "https://clerk.example.com",
           "iat": now, "nbf": now - 10, "exp": now + 3600, "jti": "mt_2x8Q1tokenid",
           "scopes": "mch_other1 mch_other2"})
}

/// A JWT-format OAuth access token's claims (RFC 9068): the user as subject, a client id,
/// scopes.
pub(crate) fn oauth_claims() -> Value {
    let now = now();
    json!({"sub": "user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u", "iss": "https://clerk.example.com",
           "iat": now, "nbf": now - 10, "exp": now + 3600, "jti": "oat_2x8Q1token",
           "client_id": "client_2x8Q1abc", "scope": "profile email"})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

fn verifier() -> Verifier {
    Verifier::builder()
        .jwt_key(TEST_JWT_PUBLIC_KEY)
        .build()
        .unwrap()
}

/// Every class the instance key signs, with the code the verifier must refuse it with (`None`:
/// it is a session token and passes).
fn cases() -> Vec<(&'static str, String, Option<&'static str>)> {
    let h = |cat, typ| header(cat, typ);
    vec![
        (
            "session, cat session",
            forge(&h(Some(CAT_SESSION), "JWT"), &session_claims()),
            None,
        ),
        (
            "session, cat ignore",
            forge(&h(Some(CAT_IGNORE), "JWT"), &session_claims()),
            None,
        ),
        (
            "session, no cat (minted before the categories)",
            forge(&h(None, "JWT"), &session_claims()),
            None,
        ),
        (
            "JWT template, cat template",
            forge(&h(Some(CAT_TEMPLATE), "JWT"), &template_claims()),
            Some("jwt_template_token"),
        ),
        (
            "JWT template with a sid, cat template",
            forge(
                &h(Some(CAT_TEMPLATE), "JWT"),
                &with(template_claims(), json!({"sid": "sess_1"})),
            ),
            Some("jwt_template_token"),
        ),
        (
            "JWT template, no cat",
            forge(&h(None, "JWT"), &template_claims()),
            Some("missing_sid"),
        ),
        (
            "JWT template, cat ignore",
            forge(&h(Some(CAT_IGNORE), "JWT"), &template_claims()),
            Some("missing_sid"),
        ),
        (
            "M2M JWT, cat m2m",
            forge(&h(Some(CAT_M2M), "JWT"), &m2m_claims()),
            Some("m2m_token"),
        ),
        (
            "M2M JWT with user-like claims, cat m2m",
            forge(&h(Some(CAT_M2M), "JWT"), &session_claims()),
            Some("m2m_token"),
        ),
        (
            "M2M JWT, no cat",
            forge(&h(None, "JWT"), &m2m_claims()),
            Some("not_a_user"),
        ),
        (
            "M2M JWT with a sid, cat ignore",
            forge(
                &h(Some(CAT_IGNORE), "JWT"),
                &with(m2m_claims(), json!({"sid": "sess_1"})),
            ),
            Some("not_a_user"),
        ),
        (
            "unknown cat",
            forge(&h(Some("cl_B7d4PD999ZZZ"), "JWT"), &session_claims()),
            Some("unknown_token_category"),
        ),
        (
            "empty cat",
            forge(&h(Some(""), "JWT"), &session_claims()),
            Some("unknown_token_category"),
        ),
        (
            "OAuth access token, typ at+jwt",
            forge(&h(None, "at+jwt"), &oauth_claims()),
            Some("oauth_access_token"),
        ),
        (
            "OAuth access token, typ application/at+jwt",
            forge(&h(None, "application/at+jwt"), &oauth_claims()),
            Some("oauth_access_token"),
        ),
        (
            "OAuth access token with session claims, typ AT+JWT",
            forge(&h(Some(CAT_SESSION), "AT+JWT"), &session_claims()),
            Some("oauth_access_token"),
        ),
        (
            "session without sid",
            forge(
                &h(Some(CAT_SESSION), "JWT"),
                &with(session_claims(), json!({"sid": null})),
            ),
            Some("missing_sid"),
        ),
        (
            "session with an empty sid",
            forge(
                &h(Some(CAT_SESSION), "JWT"),
                &with(session_claims(), json!({"sid": ""})),
            ),
            Some("missing_sid"),
        ),
        (
            "session whose subject is a machine",
            forge(
                &h(Some(CAT_SESSION), "JWT"),
                &with(session_claims(), json!({"sub": "mch_2x8Q1aMachine"})),
            ),
            Some("not_a_user"),
        ),
        (
            "session whose subject is an organization",
            forge(
                &h(Some(CAT_SESSION), "JWT"),
                &with(session_claims(), json!({"sub": "org_2x8Q1"})),
            ),
            Some("not_a_user"),
        ),
        (
            "pending session",
            forge(
                &h(Some(CAT_SESSION), "JWT"),
                &with(session_claims(), json!({"sts": "pending"})),
            ),
            Some("session_pending"),
        ),
    ]
}

#[tokio::test]
async fn the_verifier_accepts_only_session_tokens() {
    let v = verifier();
    let mut failures = Vec::new();
    for (name, token, expected) in cases() {
        let got = v.verify(&token).await.map_err(|e| e.code());
        match (expected, &got) {
            (None, Ok(_)) => {}
            (Some(code), Err(got)) if got == &code => {}
            _ => failures.push(format!("{name}: expected {expected:?}, got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

async fn call(layer: SessionLayer, token: &str) -> (StatusCode, Value, Option<String>) {
    let svc =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(|req: Request<String>| async move {
                let seen = match (
                    req.extensions().get::<Claims>(),
                    req.extensions().get::<PendingSession>(),
                ) {
                    (Some(c), None) => format!("claims {}", c.sub),
                    (None, Some(p)) => format!("pending {}", p.claims().sub),
                    (None, None) => "none".to_owned(),
                    (Some(_), Some(_)) => "both".to_owned(),
                };
                Ok::<_, Infallible>(Response::new(seen))
            }));
    let req = Request::get("/")
        .header("authorization", format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    match serde_json::from_str::<Value>(&text) {
        Ok(json) => (status, json, None),
        Err(_) => (status, Value::Null, Some(text)),
    }
}

#[tokio::test]
async fn the_required_layer_refuses_every_other_class_with_its_code() {
    let mut failures = Vec::new();
    for (name, token, expected) in cases() {
        let (status, body, seen) = call(SessionLayer::required(verifier()), &token).await;
        match expected {
            None if status == 200 && seen.as_deref().is_some_and(|s| s.starts_with("claims")) => {}
            Some(code) if status == 401 && body["reason"] == code => {}
            _ => failures.push(format!(
                "{name}: expected {expected:?}, got {status} {body} {seen:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn the_optional_layer_gives_no_claims_to_other_classes() {
    let mut failures = Vec::new();
    for (name, token, expected) in cases() {
        let (status, _, seen) = call(SessionLayer::optional(verifier()), &token).await;
        let seen = seen.unwrap_or_default();
        let ok = match expected {
            None => seen.starts_with("claims"),
            Some("session_pending") => seen == "pending user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u",
            Some(_) => seen == "none",
        };
        if status != 200 || !ok {
            failures.push(format!("{name}: {status} {seen}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn pending_sessions_are_accepted_only_when_the_app_opts_in() {
    let token = forge(
        &header(Some(CAT_SESSION), "JWT"),
        &with(session_claims(), json!({"sts": "pending"})),
    );
    let refused = verifier().verify(&token).await.unwrap_err();
    assert!(matches!(refused, VerifyError::SessionPending));
    assert_eq!(refused.status(), 401);

    let opted_in = Verifier::builder()
        .jwt_key(TEST_JWT_PUBLIC_KEY)
        .accept_pending_sessions(true)
        .build()
        .unwrap();
    let claims = opted_in.verify(&token).await.unwrap();
    assert!(claims.is_pending());
    let (status, _, seen) = call(SessionLayer::required(opted_in), &token).await;
    assert_eq!(status, 200);
    assert_eq!(
        seen.as_deref(),
        Some("claims user_2x8Q0bQm3rVgS1hZkF7yTnWcJ4u")
    );
    // The opt-in does not let the other classes through.
    for (name, token, expected) in cases() {
        if let Some(code) = expected.filter(|c| *c != "session_pending") {
            let v = Verifier::builder()
                .jwt_key(TEST_JWT_PUBLIC_KEY)
                .accept_pending_sessions(true)
                .build()
                .unwrap();
            assert_eq!(v.verify(&token).await.unwrap_err().code(), code, "{name}");
        }
    }
}
