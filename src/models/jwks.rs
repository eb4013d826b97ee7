//! `JWKS`: the JSON Web Key Set of a Clerk instance (`GET /jwks`).

use serde::{Deserialize, Serialize};

use super::{null_as_default, open_enum};

open_enum! {
    /// The `kty` (key type) of a [`Jwk`].
    pub enum KeyType {
        /// `"RSA"`: the only type Clerk signs session tokens with.
        Rsa => "RSA",
        /// `"EC"`.
        Ec => "EC",
        /// `"OKP"` (Ed25519).
        Okp => "OKP",
        /// `"oct"` (a symmetric key).
        Oct => "oct",
    }
}

impl Default for KeyType {
    /// An empty `Unknown`: what a key without `kty` decodes to.
    fn default() -> Self {
        KeyType::Unknown(super::UnknownValue::default())
    }
}

/// A JSON Web Key Set (`JWKS` in the spec).
///
/// ```
/// use clerk_tower::models::{Jwks, KeyType};
///
/// let jwks: Jwks = serde_json::from_str(
///     r#"{"keys":[{"kid":"ins_1","alg":"RS256","use":"sig","kty":"RSA","n":"AQAB","e":"AQAB"}]}"#,
/// ).unwrap();
/// assert_eq!(jwks.keys[0].kty, KeyType::Rsa);
/// assert_eq!(jwks.keys[0].kid, "ins_1");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys (an empty list when Clerk sends none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub keys: Vec<Jwk>,
}

/// One key of a [`Jwks`]: the public members of the spec's `JWKS.*.PublicKey` schemas.
///
/// Private members (`d`, `p`, `q`, ... of the spec's `*.PrivateKey` schemas, `k` of a symmetric
/// key) are never read: they would have nothing to do in a key set a verifier trusts, and a
/// value that is not kept cannot leak through `Debug` or a log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jwk {
    /// The key id, matched against the `kid` of a token's header.
    #[serde(default, deserialize_with = "null_as_default")]
    pub kid: String,
    /// The algorithm the key is meant for, e.g. `"RS256"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `"sig"` for a signing key.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The key type.
    #[serde(default, deserialize_with = "null_as_default")]
    pub kty: KeyType,
    /// RSA modulus, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve of an EC or OKP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// X coordinate of an EC key, or the public key of an OKP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Y coordinate of an EC key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// X.509 certificate chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    /// X.509 certificate SHA-1 thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5t: Option<String>,
    /// X.509 certificate SHA-256 thumbprint.
    #[serde(default, rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
    /// X.509 URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5u: Option<String>,
}

impl Jwk {
    /// An RSA signing key (`kty: RSA`, `alg: RS256`, `use: sig`) from its base64url modulus
    /// and exponent.
    pub fn rsa(kid: impl Into<String>, n: impl Into<String>, e: impl Into<String>) -> Self {
        Jwk {
            kid: kid.into(),
            alg: Some("RS256".to_owned()),
            use_: Some("sig".to_owned()),
            kty: KeyType::Rsa,
            n: Some(n.into()),
            e: Some(e.into()),
            ..Jwk::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_shape_decodes_and_private_members_are_dropped() {
        let json = r#"{"keys":[
            {"kid":"a","alg":"RS256","use":"sig","kty":"RSA","n":"xyz","e":"AQAB","x5t#S256":"t"},
            {"kid":"b","alg":"ES256","use":"sig","kty":"EC","crv":"P-256","x":"1","y":"2"},
            {"kid":"c","alg":"EdDSA","use":"sig","kty":"OKP","crv":"Ed25519","x":"3"},
            {"kid":"d","alg":"RS256","use":"sig","kty":"RSA","n":"m","e":"AQAB","d":"secret","p":"q"},
            {"kid":"e","alg":"HS256","use":"sig","kty":"oct","k":"secret"},
            {"kid":"f","kty":"later"}
        ]}"#;
        let jwks: Jwks = serde_json::from_str(json).unwrap();
        assert_eq!(jwks.keys.len(), 6);
        assert_eq!(jwks.keys[0].x5t_s256.as_deref(), Some("t"));
        assert_eq!(jwks.keys[1].kty, KeyType::Ec);
        assert_eq!(jwks.keys[4].kty, KeyType::Oct);
        assert_eq!(jwks.keys[5].kty, KeyType::from("later"));
        let shown = format!("{jwks:?}");
        assert!(!shown.contains("secret"), "{shown}");
        let again = serde_json::to_string(&jwks).unwrap();
        assert!(!again.contains("secret"), "{again}");
        let empty: Jwks = serde_json::from_str(r#"{"keys":null}"#).unwrap();
        assert!(empty.keys.is_empty());
    }
}
