//! clerk-tower's reading of Clerk's Backend API spec, in one place: the generator
//! (`cargo xtask generate`), the mock (`clerk_tower::mock`, feature `mock`) and the contract
//! tests all use it, so the three read the same contract the same way.
//!
//! - [`Spec`]: the document and its index: every operation (parameters, request body,
//!   responses) and the router from a method and a path to an operation and its path
//!   parameters.
//! - [`json`]: `$ref` resolution and short accessors for schema objects.
//! - [`instance()`]: instances of schemas: minimal, maximal, with unknown enum values or
//!   fields, or drawn from a seed among everything a schema allows.
//! - [`sample`]: values of formats and strings matching patterns.
//! - [`multipart`], [`text`]: request bodies and parameters as they travel.
//! - With the feature `yaml`: [`yaml::parse_yaml`] and [`overlay::apply_overlay`], which read the
//!   sources (Clerk's YAML spec and `spec/overlay.yaml`). The generator writes the result as
//!   JSON (`src/api/generated/spec.json`), which is what the mock embeds and the tests read.
//!
//! Nothing here panics on any document: a broken spec is an `Err`, a `$ref` to nowhere a schema
//! that allows anything.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod instance;
pub mod json;
pub mod multipart;
#[cfg(feature = "yaml")]
pub mod overlay;
pub mod rng;
pub mod sample;
pub mod spec;
pub mod text;
#[cfg(feature = "yaml")]
pub mod yaml;

pub use instance::{instance, Shape};
pub use json::Json;
pub use rng::SplitMix64;
pub use spec::{Location, Operation, Param, RequestBody, Route, Spec};
