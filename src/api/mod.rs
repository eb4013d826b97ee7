//! The Clerk resources this crate covers, one module per resource.
//!
//! Each operation is a request type implementing [`Endpoint`](crate::Endpoint); the
//! resource handle (e.g. [`AllowlistIdentifiers`]) offers one async method per operation on
//! top of the same services.

pub mod allowlist_identifiers;
pub mod jwks;

pub use allowlist_identifiers::{
    AllowlistIdentifiers, CreateAllowlistIdentifier, DeleteAllowlistIdentifier,
    ListAllowlistIdentifiers,
};
