//! `GET /jwks`: the JSON Web Key Set of the instance (`GetJWKS` in the spec).
//!
//! The keys Clerk signs the instance's session tokens with. [`crate::auth`] fetches them
//! through [`Client::jwks`](crate::Client::jwks) and caches them; call it yourself only to
//! look at the keys.

use crate::models::Jwks;
use crate::operation::{Operation, OperationInfo};

/// `GET /jwks`: retrieve the JSON Web Key Set of the instance.
///
/// ```no_run
/// use clerk_tower::api::jwks::GetJwks;
///
/// # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
/// let jwks = client.call(GetJwks::new()).await?;
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

impl Operation for GetJwks {
    type Output = Jwks;
    const INFO: OperationInfo = OperationInfo::get("GetJWKS", "/jwks");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_is_constant_and_get_is_idempotent() {
        let req = GetJwks::new().to_request(None).unwrap();
        assert_eq!(req.uri(), "/jwks");
        assert_eq!(req.method(), http::Method::GET);
        let info = GetJwks::INFO;
        assert!(info.idempotent);
        assert_eq!(GetJwks::INFO.id, "GetJWKS");
    }
}
