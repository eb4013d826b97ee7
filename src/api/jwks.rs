//! `GET /jwks`: the JSON Web Key Set of the instance (`GetJWKS` in the spec).
//!
//! The keys Clerk signs the instance's session tokens with. [`crate::auth`] fetches them
//! through [`Client::jwks`](crate::Client::jwks) and caches them; call it yourself only to
//! look at the keys.

use http::Method;

use crate::models::Jwks;
use crate::{Endpoint, Error, Operation};

const PATH: &str = "/jwks";

/// `GET /jwks`: retrieve the JSON Web Key Set of the instance.
///
/// ```no_run
/// use clerk_tower::api::jwks::GetJwks;
/// use tower::ServiceExt;
///
/// # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
/// let jwks = client.service::<GetJwks>().oneshot(GetJwks::new()).await?;
/// println!("{} keys", jwks.keys.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetJwks {}

impl GetJwks {
    /// The request (it has no parameters).
    pub const fn new() -> Self {
        GetJwks {}
    }
}

impl Endpoint for GetJwks {
    type Output = Jwks;
    const OPERATION: Operation = Operation::new("GetJWKS", true);
    const METHOD: Method = Method::GET;

    fn static_path_and_query(&self) -> Option<&'static str> {
        Some(PATH)
    }

    fn write_path_and_query(&self, out: &mut String) -> Result<(), Error> {
        out.push_str(PATH);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_is_constant_and_get_is_idempotent() {
        let mut out = String::new();
        GetJwks::new().write_path_and_query(&mut out).unwrap();
        assert_eq!(out, "/jwks");
        assert_eq!(GetJwks::new().static_path_and_query(), Some("/jwks"));
        const { assert!(GetJwks::OPERATION.idempotent) };
        assert_eq!(GetJwks::OPERATION.name, "GetJWKS");
    }
}
