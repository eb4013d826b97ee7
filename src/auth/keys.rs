//! RSA public keys: from a JWK or a PEM, checked once, verified with ring.
//!
//! Only what RS256 needs is kept: the modulus and the exponent, big-endian without leading
//! zeros, as ring's `RsaPublicKeyComponents` takes them. ring checks the key size (2048 to 8192
//! bits) and the exponent at every verification; we check the size once at load so that a
//! key ring would always refuse is not kept.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};

use crate::models::{Jwk, KeyType};
use crate::Error;

/// The smallest and largest modulus accepted, in bytes (2048 and 8192 bits, ring's bounds).
const MIN_MODULUS_BYTES: usize = 256;
const MAX_MODULUS_BYTES: usize = 1024;

/// An RSA public key ready for RS256 verification.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RsaKey {
    n: Box<[u8]>,
    e: Box<[u8]>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey")
            .field("bits", &self.n.len().saturating_mul(8))
            .finish_non_exhaustive()
    }
}

/// A key of the set, and whether it may be used for RS256 (a key whose `alg` says otherwise
/// is kept so that a token naming it fails as a mismatch, not as an unknown key).
#[derive(Debug, Clone)]
pub(crate) struct CachedKey {
    pub(crate) key: Option<RsaKey>,
}

impl RsaKey {
    fn new(n: &[u8], e: &[u8]) -> Option<Self> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        if !(MIN_MODULUS_BYTES..=MAX_MODULUS_BYTES).contains(&n.len())
            || e.is_empty()
            || e.len() > 8
        {
            return None;
        }
        Some(RsaKey {
            n: n.into(),
            e: e.into(),
        })
    }

    /// Whether `signature` is a valid RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature of
    /// `message` by this key.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        RsaPublicKeyComponents {
            n: &self.n[..],
            e: &self.e[..],
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok()
    }

    /// The key of a PEM document: `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo, what
    /// the Clerk dashboard shows as the "JWT public key" and `CLERK_JWT_KEY` holds) or
    /// `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1). Newlines may be real or written as `\n`, and
    /// the armour lines may be missing (a bare base64 SubjectPublicKeyInfo).
    ///
    /// # Errors
    /// [`Error::Config`] when it is not an RSA public key of 2048 to 8192 bits.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::config(format!("the JWT public key (PEM) {why}"));
        let pem = pem.replace("\\n", "\n").replace("\\r", "");
        let mut pkcs1 = false;
        let mut b64 = String::with_capacity(pem.len());
        for line in pem.lines() {
            let line = line.trim();
            if line.starts_with("-----BEGIN") {
                if line.contains("PRIVATE") {
                    return Err(bad("is a private key: give the public key"));
                }
                pkcs1 = line.contains("RSA PUBLIC KEY");
                continue;
            }
            if line.starts_with("-----END") {
                continue;
            }
            b64.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
        if b64.is_empty() {
            return Err(bad("is empty"));
        }
        let der = STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| bad("is not valid base64"))?;
        let rsa_public_key = if pkcs1 {
            der.as_slice()
        } else {
            spki_rsa_public_key(&der).ok_or_else(|| bad("is not an RSA SubjectPublicKeyInfo"))?
        };
        let (n, e) = pkcs1_components(rsa_public_key)
            .ok_or_else(|| bad("is not a well-formed RSA public key"))?;
        RsaKey::new(n, e).ok_or_else(|| bad("is not an RSA key of 2048 to 8192 bits"))
    }
}

impl CachedKey {
    /// The key of a JWK, or `None` when the JWK is not a signing key at all (wrong `use`)
    /// or its material is unusable.
    ///
    /// A key whose type or `alg` is not RSA / RS256 is kept without material so that a token
    /// naming it is refused as [`VerifyError::KeyMismatch`](super::VerifyError::KeyMismatch).
    pub(crate) fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let rs256 = jwk.kty == KeyType::Rsa && jwk.alg.as_deref().is_none_or(|a| a == "RS256");
        if !rs256 {
            return Some(CachedKey { key: None });
        }
        let n = URL_SAFE_NO_PAD.decode(jwk.n.as_deref()?.as_bytes()).ok()?;
        let e = URL_SAFE_NO_PAD.decode(jwk.e.as_deref()?.as_bytes()).ok()?;
        Some(CachedKey {
            key: Some(RsaKey::new(&n, &e)?),
        })
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// One DER element: its tag, its contents, and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 3 || rest.len() < count {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(count);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if len > rest.len() {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
/// 1.2.840.113549.1.1.1 (rsaEncryption).
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The `RSAPublicKey` inside an RSA `SubjectPublicKeyInfo`.
fn spki_rsa_public_key(der: &[u8]) -> Option<&[u8]> {
    let (tag, spki, rest) = der_element(der)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (tag, algorithm, rest) = der_element(spki)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, oid, _params) = der_element(algorithm)?;
    if tag != OID || oid != RSA_ENCRYPTION {
        return None;
    }
    let (tag, bits, rest) = der_element(rest)?;
    if tag != BIT_STRING || !rest.is_empty() {
        return None;
    }
    // The first octet of a BIT STRING is the number of unused bits: 0 for a key.
    match bits.split_first() {
        Some((0, key)) => Some(key),
        _ => None,
    }
}

/// The modulus and exponent of a PKCS#1 `RSAPublicKey`.
fn pkcs1_components(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, seq, rest) = der_element(der)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (tag, n, rest) = der_element(seq)?;
    if tag != INTEGER || n.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let (tag, e, rest) = der_element(rest)?;
    if tag != INTEGER || !rest.is_empty() || e.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    Some((n, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The mock's 2048-bit test key (public half), generated for the tests with
    // `openssl genrsa 2048 | openssl pkey -pubout`.
    const PEM: &str = include_str!("../mock/test_key_public.pem");

    #[test]
    fn pem_in_every_spelling() {
        let key = RsaKey::from_pem(PEM).unwrap();
        assert_eq!(key.n.len(), 256);
        assert_eq!(&*key.e, &[1, 0, 1]);
        let escaped = PEM.replace('\n', "\\n");
        assert_eq!(RsaKey::from_pem(&escaped).unwrap(), key);
        let bare: String = PEM.lines().filter(|l| !l.starts_with("-----")).collect();
        assert_eq!(RsaKey::from_pem(&bare).unwrap(), key);
        assert!(!format!("{key:?}").contains("AQAB"));
    }

    #[test]
    fn bad_pems_are_config_errors() {
        for bad in [
            "",
            "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----",
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
            "not base64 at all!",
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwHiMAkWGIJmh8HBJ5zu8",
            "AAAA",
        ] {
            assert!(
                matches!(RsaKey::from_pem(bad), Err(Error::Config(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn der_lengths_are_bounded() {
        assert!(der_element(&[0x30]).is_none());
        assert!(der_element(&[0x30, 0x05, 1, 2]).is_none());
        assert!(der_element(&[0x30, 0x84, 0, 0, 0, 1, 0]).is_none());
        assert!(der_element(&[0x30, 0x82, 0xff]).is_none());
        assert_eq!(
            der_element(&[0x02, 0x01, 7, 9]),
            Some((0x02, &[7u8][..], &[9u8][..]))
        );
    }

    #[test]
    fn jwk_shapes() {
        let key = RsaKey::from_pem(PEM).unwrap();
        let n = URL_SAFE_NO_PAD.encode(&key.n);
        let good = Jwk::rsa("k", n.clone(), "AQAB");
        assert_eq!(CachedKey::from_jwk(&good).unwrap().key, Some(key.clone()));
        let mut other_alg = good.clone();
        other_alg.alg = Some("RS512".into());
        assert_eq!(CachedKey::from_jwk(&other_alg).unwrap().key, None);
        let mut enc = good.clone();
        enc.use_ = Some("enc".into());
        assert!(CachedKey::from_jwk(&enc).is_none());
        let small = Jwk::rsa("k", URL_SAFE_NO_PAD.encode([0xffu8; 128]), "AQAB");
        assert!(CachedKey::from_jwk(&small).is_none());
        let mut with_zero = vec![0u8];
        with_zero.extend_from_slice(&key.n);
        let padded = Jwk::rsa("k", URL_SAFE_NO_PAD.encode(&with_zero), "AQAB");
        assert_eq!(CachedKey::from_jwk(&padded).unwrap().key, Some(key));
        let mut not_b64 = good.clone();
        not_b64.n = Some("***".into());
        assert!(CachedKey::from_jwk(&not_b64).is_none());
    }
}
