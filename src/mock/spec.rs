//! Clerk's OpenAPI spec as the mock reads it: the resolved spec that `cargo xtask generate`
//! writes (`src/api/generated/spec.json`, Clerk's spec with `spec/overlay.yaml` applied, so the
//! mock answers the same contract the client is generated from and the tests check), embedded
//! in the binary and indexed by the spec engine (`clerk-tower-spec`) once per process, the
//! first time a request needs it (never in [`MockClerk::new`](super::MockClerk::new)).
//!
//! Nothing here panics: a spec that does not parse or index is a [`SpecError`], and the
//! routes that need it then answer 500.

use std::fmt;
use std::sync::OnceLock;

use clerk_tower_spec::json::{resolve, Json};
use clerk_tower_spec::{Operation, Shape, Spec};
use serde_json::Value;

use super::generic::Skeleton;

/// The resolved spec, as generated.
const SPEC_JSON: &str = include_str!("../api/generated/spec.json");

/// The path prefix of every Clerk route (`servers[0].url` is `https://api.clerk.com/v1`).
pub(crate) const BASE_PATH: &str = "/v1";

/// The overlay's mark on the branch of a list's answer that `paginated=true` selects.
pub(crate) const PAGINATED: &str = "x-clerk-paginated";

/// The seed of the values in answer skeletons and the user template (answers get fresh ids).
const SKELETON_SEED: u64 = 0x636c_6572_6b5f_6d6f;

#[cfg(test)]
pub(crate) use clerk_tower_spec::instance::SAMPLE_MILLIS;

/// Why the embedded spec could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpecError(pub(crate) String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the embedded OpenAPI spec cannot be used: {}", self.0)
    }
}

impl std::error::Error for SpecError {}

/// The spec and what the mock builds from it per operation.
#[derive(Debug)]
pub(crate) struct SpecIndex {
    pub(crate) spec: Spec,
    /// Per operation (by [`Operation::index`]): the answer's skeleton, plain and for
    /// `paginated=true`, built on first use.
    skeletons: Vec<[OnceLock<Skeleton>; 2]>,
}

/// The embedded spec, parsed and indexed on first use (once per process).
pub(crate) fn index() -> Result<&'static SpecIndex, &'static SpecError> {
    static INDEX: OnceLock<Result<SpecIndex, SpecError>> = OnceLock::new();
    INDEX.get_or_init(|| SpecIndex::load(SPEC_JSON)).as_ref()
}

/// The maximal instance of `schema` (refs into `doc` allowed), with the mock's fixed seed.
pub(crate) fn maximal(doc: &Value, schema: &Value) -> Value {
    clerk_tower_spec::instance(doc, schema, Shape::Maximal, SKELETON_SEED)
}

impl SpecIndex {
    /// Parses and indexes the JSON text of an OpenAPI 3.0 spec.
    pub(crate) fn load(text: &str) -> Result<SpecIndex, SpecError> {
        let spec = Spec::from_json(text).map_err(SpecError)?;
        let skeletons = spec
            .operations()
            .iter()
            .map(|_| Default::default())
            .collect();
        Ok(SpecIndex { spec, skeletons })
    }

    /// The whole document.
    pub(crate) fn doc(&self) -> &Value {
        self.spec.doc()
    }

    /// The operation with this id.
    pub(crate) fn operation(&self, id: &str) -> Option<&Operation> {
        self.spec.operation(id)
    }

    /// The skeleton of `op`'s answer, for a request with `paginated=true` or without.
    pub(crate) fn skeleton(&self, op: &Operation, paginated: bool) -> Option<&Skeleton> {
        let cell = self.skeletons.get(op.index)?.get(usize::from(paginated))?;
        Some(cell.get_or_init(|| Skeleton::build(self, op, self.answer_schema(op, paginated))))
    }

    /// The JSON schema of `op`'s answer: its first 2xx's, and of a list whose schema the
    /// overlay gives both shapes (`oneOf` a bare array and an envelope marked
    /// `x-clerk-paginated`), the envelope for `paginated=true` and the other branch otherwise.
    pub(crate) fn answer_schema(&self, op: &Operation, paginated: bool) -> Option<&Value> {
        let schema = self.spec.success_schema(op)?;
        let branches = resolve(self.doc(), schema).get("oneOf").map(Json::items);
        let marked = |b: &&Value| resolve(self.doc(), b).flag(PAGINATED);
        match branches {
            Some(branches) if branches.iter().any(|b| marked(&b)) => branches
                .iter()
                .find(|b| marked(b) == paginated)
                .or(Some(schema)),
            _ => Some(schema),
        }
    }

    /// Whether `op` answers a body of this media type (the interstitial's `text/html`).
    pub(crate) fn answers_media(&self, op: &Operation, media: &str) -> bool {
        self.spec
            .response(op, op.success)
            .and_then(|r| r.get("content"))
            .is_some_and(|c| c.get(media).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clerk_tower_spec::Route;

    #[test]
    fn the_embedded_spec_indexes_every_operation() {
        let started = std::time::Instant::now();
        SpecIndex::load(SPEC_JSON).unwrap();
        eprintln!("spec parsed and indexed in {:?}", started.elapsed());
        let index = index().unwrap();
        let spec = &index.spec;
        assert_eq!(spec.operations().len(), 249);
        assert_eq!(spec.base_path(), BASE_PATH);
        let count = spec.route("GET", "/users/count");
        assert!(matches!(count, Route::Operation(op, _) if op.id == "GetUsersCount"));
        assert!(matches!(
            spec.route("PUT", "/allowlist_identifiers"),
            Route::MethodNotAllowed {
                allow: "GET, POST",
                ..
            }
        ));
        let interstitial = index.operation("GetPublicInterstitial").unwrap();
        assert!(interstitial.public);
        assert!(spec.success_schema(interstitial).is_none());
        assert!(index.answers_media(interstitial, "text/html"));
        // The overlay's two shapes of a list: the envelope for `paginated=true`.
        let sessions = index.operation("GetSessionList").unwrap();
        let plain = resolve(index.doc(), index.answer_schema(sessions, false).unwrap());
        let paged = resolve(index.doc(), index.answer_schema(sessions, true).unwrap());
        assert_eq!(plain["type"], "array");
        assert!(paged.flag(PAGINATED) && paged["properties"]["total_count"].is_object());
    }

    #[test]
    fn a_spec_that_does_not_index_is_an_error() {
        // The engine's own tests cover what does not index; the mock keeps the error.
        assert!(SpecIndex::load(r#"{"openapi": "2.0", "paths": {}}"#).is_err());
    }
}
