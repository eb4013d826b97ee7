//! The data Clerk sends and receives, as Rust types.
//!
//! Models are forward compatible: unknown JSON fields are ignored, and an enum value this
//! version of the crate does not know is kept in a sealed `Unknown(UnknownValue)` instead of
//! failing the whole response. Fields that are constant or enumerated (`object`,
//! `identifier_type`) decode without a heap allocation.
//!
//! # Why `Unknown` is sealed
//!
//! [`UnknownValue`] cannot be built or destructured outside this crate: code cannot match
//! `Unknown("passkey")`. If it could, the release that learns `passkey` would decode it as a
//! new known variant and that match arm would silently stop matching. What code can do keeps
//! working across such a release: compare with `IdentifierType::from("passkey")` (which
//! becomes the known variant at the same time as the decoded value does), or read
//! [`as_str`](IdentifierType::as_str).
//!
//! # Ids are strings
//!
//! Ids (`alid_...`, `user_...`) are `String`s, not one newtype per resource. Clerk's spec gives
//! every id the plain type `string`, so a generator cannot tell a user id from an organization
//! id except by the field's name, and a newtype per name would turn every call site into a
//! conversion without catching anything Clerk would not answer with a 404 at once.

pub mod errors;
mod generated;
pub mod jwks;
#[cfg(all(test, feature = "allow_list_block_list"))]
mod tests;

pub use crate::list::List;
#[allow(unused_imports)] // with no feature enabled, nothing is generated
pub use generated::*;

/// A page (or the whole) of the allow-list, as the list operation returns it.
#[cfg(feature = "allow_list_block_list")]
pub type AllowlistIdentifierList = List<AllowlistIdentifier>;

/// A JSON object of any values: metadata (`public_metadata`, `private_metadata`,
/// `unsafe_metadata`) and the spec's free-form objects.
///
/// ```
/// use clerk_tower::models::JsonObject;
///
/// let mut metadata = JsonObject::new();
/// metadata.insert("plan".into(), "pro".into());
/// ```
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// An enum value this version of the crate does not know, kept as Clerk sent it.
///
/// It can be read ([`as_str`](Self::as_str), `Display`) but not built or destructured outside
/// the crate; see the [module docs](self) for why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UnknownValue(pub(crate) String);

impl UnknownValue {
    /// The value as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
/// A value of a `oneOf` whose kind this version of the crate does not know, kept as sent.
///
/// It can be read ([`as_json`](Self::as_json)) but not built outside the crate, for the same
/// reason as [`UnknownValue`]: the release that learns the kind decodes it as a new variant.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct UnknownObject(pub(crate) serde_json::Value);

impl UnknownObject {
    /// The value as sent.
    pub fn as_json(&self) -> &serde_json::Value {
        &self.0
    }
}

/// The string at `property` of a JSON object (a `oneOf`'s discriminator).
#[allow(dead_code)] // used by the generated code of some features only
pub(crate) fn tag<'v>(value: &'v serde_json::Value, property: &str) -> Option<&'v str> {
    value.get(property).and_then(serde_json::Value::as_str)
}

/// Decodes one variant of a `oneOf` from the value its discriminator chose.
#[allow(dead_code)] // used by the generated code of some features only
pub(crate) fn variant<T, E>(value: serde_json::Value) -> Result<T, E>
where
    T: serde::de::DeserializeOwned,
    E: serde::de::Error,
{
    serde_json::from_value(value).map_err(E::custom)
}

pub use errors::{ClerkError, ClerkErrors};
pub use jwks::{Jwk, Jwks, KeyType};

/// Declares a string enum whose unknown values are kept as `Unknown(UnknownValue)`; with
/// `default Variant;` (or `default Unknown;`, an empty unknown value) it implements `Default`.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $value:literal, )+ }
        default Unknown;
    ) => {
        $crate::models::open_enum! {
            $(#[$meta])*
            pub enum $name { $( $(#[$vmeta])* $variant => $value, )+ }
        }

        impl Default for $name {
            /// An empty `Unknown`: what a response that leaves the field out decodes to.
            fn default() -> Self {
                $name::Unknown($crate::models::UnknownValue::default())
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $value:literal, )+ }
        default $default:ident;
    ) => {
        $crate::models::open_enum! {
            $(#[$meta])*
            pub enum $name { $( $(#[$vmeta])* $variant => $value, )+ }
        }

        impl Default for $name {
            /// The only value the spec gives.
            fn default() -> Self {
                $name::$default
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $value:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the crate does not know, kept as sent (sealed: read it
            /// with [`as_str`](Self::as_str)).
            Unknown($crate::models::UnknownValue),
        }

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $value, )+
                    $name::Unknown(s) => s.as_str(),
                }
            }

            /// Whether this is a value the crate does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Unknown(_))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown($crate::models::UnknownValue(other.to_owned())),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from(v))
                    }
                }
                deserializer.deserialize_str(V)
            }
        }
    };
}
pub(crate) use open_enum;

/// Deserializes a field that Clerk may send as `null` or leave out into its default value.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

use serde::Deserialize as _;
