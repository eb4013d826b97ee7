//! `docs/coverage.md` and the generated block of `Cargo.toml`'s features.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::header_lines;
use crate::ir::{Api, Kind, Pagination};

pub fn coverage(api: &Api) -> String {
    let mut s = String::new();
    let [a, b] = header_lines(api);
    let _ = writeln!(s, "<!-- {a}\n     {b} -->");
    let _ = writeln!(s);
    let _ = writeln!(s, "# Coverage of Clerk's Backend API {}", api.version);
    let _ = writeln!(s);
    let paginated = api.ops.iter().filter(|o| o.pagination.is_some()).count();
    let deprecated = api.ops.iter().filter(|o| o.deprecated).count();
    let hand: Vec<&(String, String)> = api
        .schemas
        .iter()
        .filter(|(_, r)| matches!(api.ty(r).map(|d| &d.kind), Some(Kind::HandWritten { .. })))
        .collect();
    let _ = writeln!(
        s,
        "All {} operations of the spec are generated ({} walkable page by page, {} deprecated in \
         the spec), in {} resource groups behind {} Cargo features (one per tag; `full` enables \
         them all). {} of the {} component schemas are generated models; {} are covered by \
         hand-written ones (listed below). Corrections to the spec live in `spec/overlay.yaml` \
         ({} actions).",
        api.ops.len(),
        paginated,
        deprecated,
        api.groups.len(),
        api.features
            .keys()
            .filter(|f| api.ops.iter().any(|o| &o.feature == *f))
            .count(),
        api.schemas.len() - hand.len(),
        api.schemas.len(),
        hand.len(),
        api.actions.len()
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Status: `generated`; `paginated` (offset) or `paginated (cursor)`: the request \
         implements `Paginate`; `deprecated`: deprecated in the spec (the handle method is \
         `#[deprecated]`); `idempotent`: a POST the overlay marks safe to retry."
    );
    let _ = writeln!(s);
    let mut by_feature: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in api.ops.iter().enumerate() {
        by_feature.entry(&op.feature).or_default().push(i);
    }
    let _ = writeln!(s, "## Operations");
    let _ = writeln!(s);
    let _ = writeln!(s, "| tag (feature) | operation | method | HTTP | status |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for (feature, ops) in &by_feature {
        let tag = api.features.get(*feature).map_or("", |f| f.tag.as_str());
        for &i in ops {
            let op = &api.ops[i];
            let group = api.groups.iter().find(|g| g.name == op.group);
            let method = match (&op.client_method, group) {
                (Some(m), _) => format!("`client.{m}()`"),
                (None, Some(g)) => format!("`client.{}().{}()`", g.snake, op.method),
                (None, None) => String::new(),
            };
            let mut status = vec!["generated"];
            match &op.pagination {
                Some(Pagination::Offset { .. }) => status.push("paginated"),
                Some(Pagination::Cursor { .. }) => status.push("paginated (cursor)"),
                None => {}
            }
            if op.deprecated {
                status.push("deprecated");
            }
            if op.http == "post" && op.idempotent == Some(true) {
                status.push("idempotent");
            }
            let _ = writeln!(
                s,
                "| {tag} (`{feature}`) | `{}` | {method} | `{} {}` | {} |",
                op.id,
                op.http.to_uppercase(),
                op.path,
                status.join(", ")
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "## Component schemas");
    let _ = writeln!(s);
    let _ = writeln!(s, "| schema | Rust type | kind | features |");
    let _ = writeln!(s, "|---|---|---|---|");
    for (schema, rust) in &api.schemas {
        let Some(def) = api.ty(rust) else { continue };
        let kind = match &def.kind {
            Kind::Struct { .. } => "struct".to_owned(),
            Kind::Enum { .. } => "open enum".to_owned(),
            Kind::Union { .. } => "union with an unknown fallback".to_owned(),
            Kind::Alias(_) => "alias".to_owned(),
            Kind::HandWritten { path } => format!("hand-written (`models::{path}`)"),
        };
        let features = if def.features.is_empty() {
            "always".to_owned()
        } else {
            def.features
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "| `{schema}` | `{rust}` | {kind} | {features} |");
    }
    let inline = api.types.values().filter(|d| d.schema.is_none()).count();
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Besides these, {inline} types are generated from inline schemas (nested objects, enums \
         shared by value, unions, and list envelopes)."
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "## Overlay corrections");
    let _ = writeln!(s);
    let _ = writeln!(s, "| target | reason | source |");
    let _ = writeln!(s, "|---|---|---|");
    for a in &api.actions {
        let cell = |t: &str| {
            t.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace('|', "\\|")
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} |",
            a.target,
            cell(&a.reason),
            cell(&a.source)
        );
    }
    s
}

pub const FEATURES_BEGIN: &str =
    "# BEGIN generated by `cargo xtask generate`: one feature per tag of Clerk's spec.";
pub const FEATURES_END: &str = "# END generated features";

/// The generated block of `[features]`.
pub fn features_block(api: &Api) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{FEATURES_BEGIN}");
    let _ = writeln!(
        s,
        "# `full`: every operation of the spec. Each feature compiles one tag's operations and the\n\
         # models they use; see docs/coverage.md."
    );
    let used: Vec<&str> = api
        .features
        .keys()
        .filter(|f| api.ops.iter().any(|o| &o.feature == *f))
        .map(String::as_str)
        .collect();
    let _ = writeln!(s, "full = [");
    for f in &used {
        let _ = writeln!(s, "    \"{f}\",");
    }
    let _ = writeln!(s, "]");
    for f in &used {
        let tag = api.features.get(*f).map_or("", |t| t.tag.as_str());
        let count = api.ops.iter().filter(|o| o.feature == *f).count();
        let _ = writeln!(
            s,
            "# {tag}: {count} operation{}.",
            if count == 1 { "" } else { "s" }
        );
        let _ = writeln!(s, "{f} = []");
    }
    let _ = write!(s, "{FEATURES_END}");
    s
}

/// `Cargo.toml` with its generated block replaced.
pub fn cargo_toml(current: &str, api: &Api) -> Result<String, String> {
    let start = current
        .find(FEATURES_BEGIN)
        .ok_or("Cargo.toml has no generated features block (the BEGIN line)")?;
    let end = current[start..]
        .find(FEATURES_END)
        .map(|e| start + e + FEATURES_END.len())
        .ok_or("Cargo.toml's generated features block has no END line")?;
    Ok(format!(
        "{}{}{}",
        &current[..start],
        features_block(api),
        &current[end..]
    ))
}
