//! The Clerk resources this crate covers, one module per resource.
//!
//! Each operation is a request type implementing [`Operation`](crate::Operation); the
//! resource handle (e.g. [`AllowlistIdentifiers`]) returns a [`CallBuilder`](crate::CallBuilder)
//! per operation, which takes the optional parameters and is awaited.

pub mod allowlist_identifiers;
pub mod blocklist_identifiers;
pub mod instance_settings;
pub mod jwks;

pub use allowlist_identifiers::{
    AllowlistIdentifiers, CreateAllowlistIdentifier, DeleteAllowlistIdentifier,
    ListAllowlistIdentifiers,
};
pub use blocklist_identifiers::{
    BlocklistIdentifiers, CreateBlocklistIdentifier, DeleteBlocklistIdentifier,
    ListBlocklistIdentifiers,
};
pub use instance_settings::{InstanceSettings, UpdateInstanceRestrictions};

/// Declares the setters of an operation's optional parameters twice from one list: on the
/// request type (`ListAllowlistIdentifiers::new().limit(5)`) and on its call builder
/// (`client.allowlist_identifiers().list().limit(5)`). Each field is an `Option` of the type
/// given; the setter stores `Some(value)`.
macro_rules! setters {
    ($op:ident { $( $(#[$doc:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        impl $op {
            $(
                $(#[$doc])*
                pub fn $field(mut self, $field: $ty) -> Self {
                    self.$field = Some($field.into());
                    self
                }
            )*
        }

        impl $crate::CallBuilder<$op> {
            $(
                $(#[$doc])*
                pub fn $field(self, $field: $ty) -> Self {
                    self.map_request(|request| request.$field($field))
                }
            )*
        }
    };
}
pub(crate) use setters;
