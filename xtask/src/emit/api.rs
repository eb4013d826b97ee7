//! `src/api/generated/`: a module per resource group (its request types and its handle), the
//! registry, and the `Client` methods that return the handles.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{arg, check_lines, field_doc, header, rust, support_paths, Conversion, Namer, W};
use crate::doc::md;
use crate::ir::{Api, Body, Field, Group, Kind, Location, Op, Output, Pagination, Ty};

/// Names an API file uses for its own things: a model with one of these names is written
/// `models::Name`.
const RESERVED: &[&str] = &[
    "CallBuilder",
    "Client",
    "Error",
    "File",
    "Identified",
    "List",
    "ListRequest",
    "Multipart",
    "Nullable",
    "Operation",
    "OperationInfo",
    "PageParams",
    "Paginate",
    "PathParams",
    "QueryWriter",
    "RequestBody",
    "RequestOptions",
    "Serialize",
    "Text",
];

struct ApiNamer<'a> {
    api: &'a Api,
    /// Names defined in the file (request types, the handle).
    local: BTreeSet<String>,
}

impl Namer for ApiNamer<'_> {
    fn named(&self, name: &str) -> String {
        let spelled = match self.api.ty(name).map(|d| &d.kind) {
            Some(Kind::HandWritten { path }) => path.rsplit("::").next().unwrap_or(path).to_owned(),
            _ => name.to_owned(),
        };
        if self.clashes(&spelled) {
            format!("models::{spelled}")
        } else {
            spelled
        }
    }
}

impl ApiNamer<'_> {
    fn clashes(&self, name: &str) -> bool {
        RESERVED.contains(&name) || self.local.contains(name)
    }
}

/// Every file of `src/api/generated/`, by name.
pub fn files(api: &Api) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for group in &api.groups {
        out.insert(format!("{}.rs", group.snake), group_file(api, group)?);
    }
    out.insert("registry.rs".to_owned(), registry(api));
    out.insert("mod.rs".to_owned(), module(api));
    Ok(out)
}

fn module(api: &Api) -> String {
    let mut w = W::default();
    w.out.push_str(&header(api, "//"));
    w.blank();
    w.inner_doc(&format!(
        "The {} operations of Clerk's Backend API {}, generated: a module per resource group \
         (`x-speakeasy-group` in the spec), behind the Cargo feature of its tag. The request types \
         and the handles are re-exported flat by [`crate::api`].",
        api.ops.len(),
        api.version
    ));
    w.blank();
    w.line("use crate::Client;");
    w.blank();
    for group in &api.groups {
        w.line(format!("#[cfg(feature = \"{}\")]", group.feature));
        w.line(format!("pub mod {};", group.snake));
    }
    w.line("pub mod registry;");
    w.blank();
    for group in &api.groups {
        let mut names: Vec<String> = group
            .ops
            .iter()
            .map(|&i| api.ops[i].type_name.clone())
            .collect();
        if !group.direct {
            names.push(group.handle.clone());
        }
        names.sort();
        w.line(format!("#[cfg(feature = \"{}\")]", group.feature));
        w.line(format!(
            "pub use {}::{{{}}};",
            group.snake,
            names.join(", ")
        ));
    }
    w.blank();
    w.line("impl Client {");
    for group in &api.groups {
        let tag = &group.tag;
        if group.direct {
            for &i in &group.ops {
                let op = &api.ops[i];
                let method = op.client_method.clone().unwrap_or_default();
                w.line(format!("#[cfg(feature = \"{}\")]", group.feature));
                w.line(format!(
                    "#[cfg_attr(docsrs, doc(cfg(feature = \"{}\")))]",
                    group.feature
                ));
                let summary = md(op.summary.as_deref().unwrap_or_default());
                w.doc(&format!(
                    "{}: `{} {}` through the whole stack; await it. See [`{}`].",
                    summary.trim_end_matches('.'),
                    op.http.to_uppercase(),
                    op.path,
                    op.type_name
                ));
                let args = required_args(
                    api,
                    op,
                    &ApiNamer {
                        api,
                        local: BTreeSet::new(),
                    },
                );
                w.line(format!(
                    "pub fn {method}(&self{}) -> crate::CallBuilder<{}::{}> {{",
                    args.iter()
                        .map(|(n, t, _)| format!(", {n}: {t}"))
                        .collect::<String>(),
                    group.snake,
                    op.type_name
                ));
                w.line(format!(
                    "self.call({}::{}::new({}))",
                    group.snake,
                    op.type_name,
                    args.iter()
                        .map(|(n, _, _)| n.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                w.line("}");
                w.blank();
            }
        } else {
            w.line(format!("#[cfg(feature = \"{}\")]", group.feature));
            w.line(format!(
                "#[cfg_attr(docsrs, doc(cfg(feature = \"{}\")))]",
                group.feature
            ));
            w.doc(&format!(
                "The {tag} operations of the `{}` group: [`{}`](crate::api::{}).",
                group.name, group.handle, group.handle
            ));
            w.line(format!(
                "pub fn {}(&self) -> {}::{} {{",
                group.snake, group.snake, group.handle
            ));
            w.line(format!(
                "{}::{}::new(self.clone())",
                group.snake, group.handle
            ));
            w.line("}");
            w.blank();
        }
    }
    w.line("}");
    w.out
}

fn registry(api: &Api) -> String {
    let mut w = W::default();
    w.out.push_str(&header(api, "//"));
    w.blank();
    w.inner_doc(
        "Every operation of the spec with its metadata, compiled whatever the features: what \
         contract tests and the mock iterate.\n\n\
         ```\n\
         use clerk_tower::api::registry::{self, OPERATIONS};\n\
         \n\
         let user = registry::find(\"GetUser\").expect(\"in the spec\");\n\
         assert_eq!(user.info.path_template, \"/users/{user_id}\");\n\
         assert_eq!((user.handle, user.method), (\"users\", \"get\"));\n\
         assert!(OPERATIONS.iter().any(|op| op.feature == \"organizations\"));\n\
         ```",
    );
    w.blank();
    w.line("use crate::operation::OperationInfo;");
    w.blank();
    w.doc("One operation: its [`OperationInfo`], where it lives in this crate, and the feature that compiles it.");
    w.line("#[derive(Debug, Clone, PartialEq, Eq)]");
    w.line("#[non_exhaustive]");
    w.line("pub struct RegistryEntry {");
    w.doc(
        "The metadata its requests carry (the same value as the request type's `Operation::INFO`).",
    );
    w.line("pub info: OperationInfo,");
    w.doc("The request type, in [`crate::api`]: `\"GetUser\"`.");
    w.line("pub request_type: &'static str,");
    w.doc("The spec's `x-speakeasy-group`: `\"users\"`.");
    w.line("pub group: &'static str,");
    w.doc("The method of [`Client`](crate::Client) that returns its handle (`\"users\"`), or that makes the call itself (`\"jwks\"`).");
    w.line("pub handle: &'static str,");
    w.doc("The handle's method (`\"get\"`); empty when `handle` makes the call itself.");
    w.line("pub method: &'static str,");
    w.doc("The Cargo feature that compiles it: the feature of its tag.");
    w.line("pub feature: &'static str,");
    w.doc("The spec's tags.");
    w.line("pub tags: &'static [&'static str],");
    w.doc("Whether the spec marks it deprecated.");
    w.line("pub deprecated: bool,");
    w.doc("Whether its request type implements [`Paginate`](crate::Paginate).");
    w.line("pub paginated: bool,");
    w.line("}");
    w.blank();
    w.doc(&format!(
        "The {} operations, sorted by `operationId`.",
        api.ops.len()
    ));
    w.line("pub const OPERATIONS: &[RegistryEntry] = &[");
    let mut ops: Vec<&Op> = api.ops.iter().collect();
    ops.sort_by(|a, b| a.id.cmp(&b.id));
    for op in &ops {
        let group = api.groups.iter().find(|g| g.name == op.group);
        let (handle, method) = match &op.client_method {
            Some(m) => (m.clone(), String::new()),
            None => (
                group.map(|g| g.snake.clone()).unwrap_or_default(),
                op.method.clone(),
            ),
        };
        w.line("RegistryEntry {");
        w.line(format!("info: {},", info(op)));
        w.line(format!("request_type: {:?},", op.type_name));
        w.line(format!("group: {:?},", op.group));
        w.line(format!("handle: {handle:?},"));
        w.line(format!("method: {method:?},"));
        w.line(format!("feature: {:?},", op.feature));
        w.line(format!(
            "tags: &[{}],",
            op.tags
                .iter()
                .map(|t| format!("{t:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        w.line(format!("deprecated: {},", op.deprecated));
        w.line(format!("paginated: {},", op.pagination.is_some()));
        w.line("},");
    }
    w.line("];");
    w.blank();
    w.doc("The operation with this `operationId`.");
    w.line("pub fn find(id: &str) -> Option<&'static RegistryEntry> {");
    w.line(
        "OPERATIONS.binary_search_by(|op| op.info.id.cmp(id)).ok().and_then(|i| OPERATIONS.get(i))",
    );
    w.line("}");
    w.out
}

/// `OperationInfo::get("GetUser", "/users/{user_id}")`, with `.idempotent(..)` when the overlay
/// says otherwise than the method.
fn info(op: &Op) -> String {
    let mut s = format!("OperationInfo::{}({:?}, {:?})", op.http, op.id, op.path);
    let by_method = matches!(op.http.as_str(), "get" | "put" | "delete");
    if let Some(i) = op.idempotent {
        if i != by_method {
            let _ = write!(s, ".idempotent({i})");
        }
    }
    s
}

/// `(name, argument type, conversion)` of `new()`'s arguments.
fn required_args(api: &Api, op: &Op, namer: &ApiNamer) -> Vec<(String, String, Conversion)> {
    op.required()
        .into_iter()
        .map(|f| {
            let (ty, conv) = arg(&f.ty, namer, api);
            let (ty, conv) = if f.nullable {
                (format!("Option<{}>", rust(&f.ty, namer)), Conversion::None)
            } else {
                (ty, conv)
            };
            (f.rust.clone(), ty, conv)
        })
        .collect()
}

/// The type of a request field.
fn request_field_type(f: &Field, namer: &dyn Namer) -> String {
    let ty = rust(&f.ty, namer);
    match (f.required, f.nullable) {
        (true, false) => ty,
        (true, true) => format!("Option<{ty}>"),
        (false, false) => format!("Option<{ty}>"),
        (false, true) => format!("Nullable<{ty}>"),
    }
}

fn group_file(api: &Api, group: &Group) -> Result<String, String> {
    let ops: Vec<&Op> = group.ops.iter().map(|&i| &api.ops[i]).collect();
    let mut local: BTreeSet<String> = ops.iter().map(|o| o.type_name.clone()).collect();
    if !group.direct {
        local.insert(group.handle.clone());
    }
    let namer = ApiNamer { api, local };
    let mut body = W::default();
    let mut uses: BTreeSet<String> = BTreeSet::new();
    let mut models_module = false;
    for op in &ops {
        request(api, op, &namer, &mut body, &mut uses)?;
        // Models the file names.
        let mut named = BTreeSet::new();
        for f in op.fields() {
            f.ty.names(&mut named);
            let mut paths = BTreeSet::new();
            support_paths(&f.ty, &mut paths);
            uses.extend(paths.into_iter().map(str::to_owned));
        }
        if let Output::Json(ty) = &op.output {
            ty.names(&mut named);
            let mut paths = BTreeSet::new();
            support_paths(ty, &mut paths);
            uses.extend(paths.into_iter().map(str::to_owned));
        }
        for n in named {
            let spelled = namer.named(&n);
            if spelled.starts_with("models::") {
                models_module = true;
            } else {
                uses.insert(format!("crate::models::{spelled}"));
            }
        }
    }
    if !group.direct {
        handle(api, group, &ops, &namer, &mut body);
        uses.insert("crate::api::handle".into());
        uses.insert("crate::CallBuilder".into());
    }
    if models_module {
        uses.insert("crate::models".into());
    }

    let tag = api.features.get(&group.feature);
    let mut w = W::default();
    w.out.push_str(&header(api, "//"));
    w.blank();
    let entry = if group.direct {
        ops.iter()
            .filter_map(|o| o.client_method.as_ref())
            .map(|m| format!("[`Client::{m}`](crate::Client::{m})"))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        format!(
            "[`Client::{}`](crate::Client::{})",
            group.snake, group.snake
        )
    };
    let mut text = format!(
        "The `{}` operations ({} in Clerk's spec, feature `{}`), under {entry}.",
        group.name, group.tag, group.feature
    );
    if let Some(d) = tag.and_then(|t| t.description.as_deref()) {
        text.push_str("\n\n");
        text.push_str(&md(d));
    }
    w.inner_doc(&text);
    w.blank();
    for line in use_lines(&uses) {
        w.line(line);
    }
    w.blank();
    w.out.push_str(&body.out);
    Ok(w.out)
}

/// `use` lines from full paths, grouped by prefix (std, external crates, then `crate`).
fn use_lines(paths: &BTreeSet<String>) -> Vec<String> {
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in paths {
        match p.rsplit_once("::") {
            Some((prefix, name)) => {
                // `crate::models` itself is a module import.
                if prefix == "crate" && name == "models" {
                    groups
                        .entry("crate".into())
                        .or_default()
                        .insert("models".into());
                } else {
                    groups
                        .entry(prefix.to_owned())
                        .or_default()
                        .insert(name.to_owned());
                }
            }
            None => {
                groups.entry(String::new()).or_default().insert(p.clone());
            }
        }
    }
    let rank = |prefix: &str| {
        if prefix.starts_with("std") {
            0
        } else if prefix.starts_with("crate") {
            2
        } else {
            1
        }
    };
    let mut sorted: Vec<_> = groups.into_iter().collect();
    sorted.sort_by(|a, b| (rank(&a.0), &a.0).cmp(&(rank(&b.0), &b.0)));
    let mut out = Vec::new();
    let mut last_rank = None;
    for (prefix, names) in sorted {
        if last_rank.is_some_and(|r| r != rank(&prefix)) {
            out.push(String::new());
        }
        last_rank = Some(rank(&prefix));
        let names: Vec<String> = names.into_iter().collect();
        out.push(if names.len() == 1 {
            format!("use {prefix}::{};", names[0])
        } else {
            format!("use {prefix}::{{{}}};", names.join(", "))
        });
    }
    out
}

fn request(
    api: &Api,
    op: &Op,
    namer: &ApiNamer,
    w: &mut W,
    uses: &mut BTreeSet<String>,
) -> Result<(), String> {
    let fields = op.fields();
    let serialize = matches!(op.body, Body::Json { .. });
    let required = op.required();
    let optional = op.optional();
    let copy = fields.iter().all(|f| f.ty.is_copy());
    let eq = fields.iter().all(|f| ty_eq(api, &f.ty));
    uses.insert("crate::operation::Operation".into());
    uses.insert("crate::operation::OperationInfo".into());

    // The type.
    w.blank();
    let mut doc = format!("`{} {}`", op.http.to_uppercase(), op.path);
    if let Some(s) = &op.summary {
        let _ = write!(doc, ": {}", lower_first(&md(s)));
        if !doc.ends_with('.') {
            doc.push('.');
        }
    } else {
        doc.push('.');
    }
    if let Some(d) = &op.description {
        let d = d.trim();
        if Some(d) != op.summary.as_deref().map(str::trim) {
            doc.push_str("\n\n");
            doc.push_str(&md(d));
        }
    }
    match &op.pagination {
        Some(Pagination::Offset { .. }) => doc.push_str(
            "\n\nA list you can walk page by page (by `offset`) with \
             [`CallBuilder::paginate`](crate::CallBuilder::paginate).",
        ),
        Some(Pagination::Cursor { cursor, .. }) => {
            let _ = write!(
                doc,
                "\n\nA list you can walk page by page with \
                 [`CallBuilder::paginate`](crate::CallBuilder::paginate): by the `{cursor}` cursor \
                 (the last item's id) while the ordering allows it, else by `offset`."
            );
        }
        None => {}
    }
    if let Some(true) = op.idempotent.filter(|_| op.http == "post") {
        doc.push_str("\n\nSafe to repeat (the overlay marks it idempotent): the client retries it after a 5xx or a timeout.");
    }
    if op.deprecated {
        doc.push_str("\n\nDeprecated in Clerk's spec.");
    }
    w.doc(&doc);
    let mut derives = vec!["Debug", "Clone"];
    if copy {
        derives.push("Copy");
    }
    if required.is_empty() {
        derives.push("Default");
    }
    derives.push("PartialEq");
    if eq {
        derives.push("Eq");
    }
    if serialize {
        derives.push("Serialize");
        uses.insert("serde::Serialize".into());
    }
    w.line(format!("#[derive({})]", derives.join(", ")));
    w.line("#[non_exhaustive]");
    if fields.is_empty() {
        w.line(format!("pub struct {} {{}}", op.type_name));
    } else {
        w.line(format!("pub struct {} {{", op.type_name));
        for f in &fields {
            let mut d = field_doc(f);
            match f.location {
                Location::Path => d.push_str(" (path)"),
                Location::Query => {}
                Location::Body => {}
            }
            w.doc(&d);
            if serialize {
                if f.location != Location::Body {
                    w.line("#[serde(skip)]");
                } else {
                    let mut attrs = Vec::new();
                    if f.wire != f.rust {
                        attrs.push(format!("rename = \"{}\"", f.wire));
                    }
                    if f.nullable && !f.required {
                        attrs.push("skip_serializing_if = \"Nullable::is_unset\"".to_owned());
                    } else if !f.required {
                        attrs.push("skip_serializing_if = \"Option::is_none\"".to_owned());
                    }
                    if !attrs.is_empty() {
                        w.line(format!("#[serde({})]", attrs.join(", ")));
                    }
                }
            }
            w.line(format!("pub {}: {},", f.rust, request_field_type(f, namer)));
            if f.nullable && !f.required {
                uses.insert("crate::api::Nullable".into());
            }
        }
        w.line("}");
    }

    // new()
    let args = required_args(api, op, namer);
    w.blank();
    w.line(format!("impl {} {{", op.type_name));
    if args.is_empty() {
        w.doc("A request with no parameters set.");
        w.line("pub const fn new() -> Self {");
    } else {
        w.doc(&format!(
            "A request for {}; the optional parameters are unset.",
            args.iter()
                .map(|(n, _, _)| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        w.line(format!(
            "pub fn new({}) -> Self {{",
            args.iter()
                .map(|(n, t, _)| format!("{n}: {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if fields.is_empty() {
        w.line("Self {}");
    } else {
        w.line("Self {");
        for f in &fields {
            if f.required {
                let conv = args
                    .iter()
                    .find(|(n, _, _)| *n == f.rust)
                    .map_or(Conversion::None, |a| a.2);
                let value = conv.apply(&f.rust);
                if value == f.rust {
                    w.line(format!("{},", f.rust));
                } else {
                    w.line(format!("{}: {value},", f.rust));
                }
            } else if f.nullable {
                w.line(format!("{}: Nullable::Unset,", f.rust));
            } else {
                w.line(format!("{}: None,", f.rust));
            }
        }
        w.line("}");
    }
    w.line("}");
    w.line("}");

    // Setters.
    if !optional.is_empty() {
        uses.insert("crate::api::setters".into());
        w.blank();
        w.line("setters! {");
        w.indent += 1;
        w.line(format!("{} {{", op.type_name));
        w.indent += 1;
        for f in &optional {
            let (ty, conv) = arg(&f.ty, namer, api);
            let mut d = format!("Sets `{}`", f.wire);
            if let Some(doc) = &f.doc {
                let first = first_sentence(doc);
                if !first.is_empty() {
                    let _ = write!(d, ": {}", lower_first(&md(&first)));
                }
            }
            if !d.ends_with('.') {
                d.push('.');
            }
            if f.nullable {
                let _ = write!(
                    d,
                    " To send `null` instead, set the field to [`Nullable::Null`] (with \
                     [`CallBuilder::map_request`](crate::CallBuilder::map_request) on a call)."
                );
            }
            w.doc(&d);
            let marker = match (conv, f.nullable) {
                (Conversion::Collect, false) => " => collect",
                (Conversion::Collect, true) => " => nullable_collect",
                (_, true) => " => nullable",
                (_, false) => "",
            };
            w.line(format!("{}: {ty}{marker},", f.rust));
        }
        w.indent -= 1;
        w.line("}");
        w.indent -= 1;
        w.line("}");
    }

    // Operation.
    w.blank();
    w.line(format!("impl Operation for {} {{", op.type_name));
    let output = match &op.output {
        Output::Unit => "()".to_owned(),
        Output::Text => {
            uses.insert("crate::operation::Text".into());
            "Text".to_owned()
        }
        Output::Json(ty) => rust(ty, namer),
    };
    w.line(format!("type Output = {output};"));
    w.line(format!("const INFO: OperationInfo = {};", info(op)));

    let checks: Vec<String> = fields
        .iter()
        .flat_map(|f| check_lines(f, "self."))
        .collect();
    if !checks.is_empty() {
        for c in &checks {
            for helper in ["check_range", "check_not_blank", "check_finite"] {
                if c.contains(helper) {
                    uses.insert(format!("crate::operation::{helper}"));
                }
            }
            if c.contains("check_length") {
                uses.insert("crate::api::check_length".into());
            }
        }
        uses.insert("crate::Error".into());
        w.blank();
        w.line("fn validate(&self) -> Result<(), Error> {");
        for c in &checks {
            w.line(c);
        }
        w.line("Ok(())");
        w.line("}");
    }

    let path_params: Vec<&&Field> = fields
        .iter()
        .filter(|f| f.location == Location::Path)
        .collect();
    if !path_params.is_empty() {
        uses.insert("crate::operation::PathParams".into());
        uses.insert("crate::Error".into());
        w.blank();
        w.line("fn path<'a>(&'a self, path: &mut PathParams<'a>) -> Result<(), Error> {");
        for (i, f) in path_params.iter().enumerate() {
            let value = match &f.ty {
                Ty::String => format!("&self.{}", f.rust),
                Ty::Named(_) => format!("self.{}.as_str()", f.rust),
                other => {
                    return Err(format!(
                        "{}: path parameter {} of type {other:?}",
                        op.id, f.wire
                    ))
                }
            };
            let last = i + 1 == path_params.len();
            w.line(format!(
                "path.set({:?}, {value}){}",
                f.wire,
                if last { "" } else { "?;" }
            ));
        }
        w.line("}");
    }

    let query: Vec<&&Field> = fields
        .iter()
        .filter(|f| f.location == Location::Query)
        .collect();
    if !query.is_empty() {
        uses.insert("crate::operation::QueryWriter".into());
        w.blank();
        w.line("fn query(&self, query: &mut QueryWriter) {");
        for f in query {
            w.line(query_line(f, op)?);
        }
        w.line("}");
    }

    match &op.body {
        Body::None => {}
        Body::Json { .. } => {
            uses.insert("crate::operation::RequestBody".into());
            uses.insert("crate::Error".into());
            w.blank();
            w.line("fn body(&self) -> Result<RequestBody, Error> { RequestBody::json(self) }");
        }
        Body::Value { field } => {
            uses.insert("crate::operation::RequestBody".into());
            uses.insert("crate::Error".into());
            w.blank();
            w.line(format!(
                "fn body(&self) -> Result<RequestBody, Error> {{ RequestBody::json(&self.{}) }}",
                field.rust
            ));
        }
        Body::Multipart { fields } => {
            uses.insert("crate::operation::RequestBody".into());
            uses.insert("crate::operation::Multipart".into());
            uses.insert("crate::Error".into());
            w.blank();
            w.line("fn body(&self) -> Result<RequestBody, Error> {");
            w.line("let mut form = Multipart::new();");
            for f in fields {
                match (&f.ty, f.required) {
                    (Ty::File, _) => w.line(format!(
                        "form = form.file({:?}, &self.{n}.file_name, &self.{n}.content_type, &self.{n}.data);",
                        f.wire,
                        n = f.rust
                    )),
                    (_, true) => w.line(format!("form = form.text({:?}, &self.{});", f.wire, f.rust)),
                    (_, false) => w.line(format!(
                        "if let Some(value) = &self.{} {{ form = form.text({:?}, value); }}",
                        f.rust, f.wire
                    )),
                }
            }
            w.line("Ok(RequestBody::Multipart(form))");
            w.line("}");
        }
    }
    w.line("}");

    if let Some(p) = &op.pagination {
        paginate(op, p, namer, w, uses)?;
    }
    Ok(())
}

fn query_line(f: &Field, op: &Op) -> Result<String, String> {
    let name = &f.wire;
    let r = &f.rust;
    Ok(match (&f.ty, f.required) {
        (Ty::Vec(_), false) => {
            let how = if f.explode { "exploded" } else { "joined" };
            format!("query.{how}({name:?}, self.{r}.iter().flatten());")
        }
        (Ty::Vec(_), true) => {
            let how = if f.explode { "exploded" } else { "joined" };
            format!("query.{how}({name:?}, &self.{r});")
        }
        (Ty::String, false) => format!("query.opt({name:?}, self.{r}.as_deref());"),
        (Ty::Named(_), false) => format!("query.opt({name:?}, self.{r}.as_ref());"),
        (Ty::String | Ty::Named(_), true) => format!("query.param({name:?}, &self.{r});"),
        (Ty::U32 | Ty::U64 | Ty::I32 | Ty::I64 | Ty::F64 | Ty::Bool, false) => {
            format!("query.opt({name:?}, self.{r});")
        }
        (Ty::U32 | Ty::U64 | Ty::I32 | Ty::I64 | Ty::F64 | Ty::Bool, true) => {
            format!("query.param({name:?}, self.{r});")
        }
        (other, _) => {
            return Err(format!(
                "{}: query parameter {name} of type {other:?}",
                op.id
            ))
        }
    })
}

/// The paging parameters of a list operation: `impl ListRequest`, a few lines; the paging
/// itself is written once, in `crate::list` (`impl<T: ListRequest> Paginate for T`).
fn paginate(
    op: &Op,
    p: &Pagination,
    namer: &ApiNamer,
    w: &mut W,
    uses: &mut BTreeSet<String>,
) -> Result<(), String> {
    let item = op
        .list_item
        .as_ref()
        .ok_or_else(|| format!("{}: paginated without a list", op.id))?;
    let item = rust(item, namer);
    for (name, ty) in [("limit", Ty::U32), ("offset", Ty::U64)] {
        let field = op
            .params
            .iter()
            .find(|f| f.wire == name)
            .ok_or_else(|| format!("{}: paginated without `{name}`", op.id))?;
        if field.ty != ty || field.required || field.nullable {
            return Err(format!(
                "{}: `{name}` is {:?}, paging needs an optional {ty:?}",
                op.id, field.ty
            ));
        }
    }
    uses.insert("crate::list::ListRequest".into());
    uses.insert("crate::list::PageParams".into());
    w.blank();
    w.line(format!("impl ListRequest for {} {{", op.type_name));
    w.line(format!("type Item = {item};"));
    w.blank();
    w.line("fn page_params(&mut self) -> PageParams<'_> {");
    let (max, flag, cursor) = match p {
        Pagination::Offset {
            max,
            paginated_flag,
        } => (max, *paginated_flag, None),
        Pagination::Cursor {
            max,
            cursor,
            order_by,
            orderings,
        } => (max, false, Some((cursor, order_by, orderings))),
    };
    let max = u32::try_from(*max).map_err(|_| format!("{}: page size {max}", op.id))?;
    let mut expr = format!("PageParams::new({max}, &mut self.limit, &mut self.offset)");
    if flag {
        expr.push_str(".paginated(&mut self.paginated)");
    }
    if let Some((cursor, order_by, orderings)) = cursor {
        let pats: Vec<String> = orderings.iter().map(|o| format!("{o:?}")).collect();
        w.line("// The cursor follows the default ordering only.");
        w.line(format!(
            "let by_cursor = matches!(self.{order_by}.as_deref(), None | Some({}));",
            pats.join(" | ")
        ));
        let _ = write!(expr, ".cursor(&mut self.{cursor}, by_cursor)");
    }
    w.line(expr);
    w.line("}");
    w.line("}");
    Ok(())
}

fn handle(api: &Api, group: &Group, ops: &[&Op], namer: &ApiNamer, w: &mut W) {
    w.blank();
    let doc = format!(
        "The {} operations; get it from [`Client::{}`](crate::Client::{}).\n\n\
         It owns a clone of the client (one reference count): store it, clone it, move it into a \
         task. Each method returns a [`CallBuilder`] to await, whose setters take the optional \
         parameters.",
        group.tag, group.snake, group.snake
    );
    // The struct, `new`, `with_options` and `builder`: `crate::api::handle!`, written once.
    w.line("handle! {");
    w.indent += 1;
    w.doc(&doc);
    w.line("///");
    for line in example(api, group, ops) {
        w.raw_doc(&[line.as_str()]);
    }
    w.line(&group.handle);
    w.indent -= 1;
    w.line("}");
    w.blank();
    w.line(format!("impl {} {{", group.handle));
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            w.blank();
        }
        let summary = op.summary.as_deref().map_or_else(|| op.id.clone(), md);
        let mut d = summary.trim().trim_end_matches('.').to_owned();
        let _ = write!(d, "; see [`{}`].", op.type_name);
        if op.pagination.is_some() {
            d.push_str(" Walk every page with [`CallBuilder::paginate`].");
        }
        w.doc(&d);
        if op.deprecated {
            w.line("#[deprecated = \"deprecated in Clerk's spec\"]");
        }
        let args = required_args(api, op, namer);
        w.line(format!(
            "pub fn {}(&self{}) -> CallBuilder<{}> {{",
            op.method,
            args.iter()
                .map(|(n, t, _)| format!(", {n}: {t}"))
                .collect::<String>(),
            op.type_name
        ));
        w.line(format!(
            "self.builder({}::new({}))",
            op.type_name,
            args.iter()
                .map(|(n, _, _)| n.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        w.line("}");
    }
    w.line("}");
}

/// A `no_run` example for a handle: its list (walked to the end when it pages), else a get,
/// else its first operation whose arguments are all strings.
fn example(api: &Api, group: &Group, ops: &[&Op]) -> Vec<String> {
    let simple = |op: &&&Op| {
        !op.deprecated
            && op.required().iter().all(|f| {
                matches!(f.ty, Ty::String)
                    || matches!(&f.ty, Ty::Named(n) if matches!(api.ty(n).map(|d| &d.kind), Some(Kind::Enum { .. })))
            })
    };
    let pick = ops
        .iter()
        .filter(simple)
        .find(|op| op.method == "list" && op.required().is_empty())
        .or_else(|| ops.iter().filter(simple).find(|op| op.method == "get"))
        .or_else(|| ops.iter().find(simple));
    let var = group.snake.clone();
    let mut lines = vec![
        "```no_run".to_owned(),
        "# async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {"
            .to_owned(),
        format!("let {var} = client.{}();", group.snake),
    ];
    if let Some(op) = pick {
        let args: Vec<String> = op
            .required()
            .iter()
            .map(|f| match &f.ty {
                Ty::Named(n) => {
                    let first = match api.ty(n).map(|d| &d.kind) {
                        Some(Kind::Enum { values }) => values.first().cloned().unwrap_or_default(),
                        _ => String::new(),
                    };
                    format!("{first:?}")
                }
                _ => format!("{:?}", sample_id(&f.rust)),
            })
            .collect();
        let call = format!("{var}.{}({})", op.method, args.join(", "));
        if op.pagination.is_some() {
            lines.push(format!("let first_page = {call}.await?;"));
            lines.push("println!(\"{} on the first page\", first_page.data.len());".to_owned());
            lines.push(format!(
                "let everything = {call}.paginate().items().collect_all().await?;"
            ));
        } else {
            match &op.output {
                Output::Unit => lines.push(format!("{call}.await?;")),
                _ => lines.push(format!("let answer = {call}.await?;")),
            }
        }
    }
    lines.push("# Ok(()) }".to_owned());
    lines.push("```".to_owned());
    lines
}

/// A plausible id for a parameter in examples: `user_id` → `user_123`.
pub fn sample_id(name: &str) -> String {
    match name.strip_suffix("_id") {
        Some(stem) => format!("{stem}_123"),
        None => format!("{name}_123"),
    }
}

fn ty_eq(api: &Api, ty: &Ty) -> bool {
    match ty {
        Ty::F64 => false,
        Ty::Named(n) => api.ty(n).is_some_and(|d| d.eq),
        Ty::Map(t) | Ty::Vec(t) | Ty::List(t) | Ty::Option(t) => ty_eq(api, t),
        _ => true,
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        // Keep acronyms and names (`JWT`, `SAML`) as they are.
        Some(c) if chars.clone().next().is_some_and(|n| n.is_lowercase()) => {
            c.to_lowercase().collect::<String>() + chars.as_str()
        }
        Some(c) => c.to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The first sentence of a description (up to its first `. ` or line end).
fn first_sentence(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default().trim();
    match line.find(". ") {
        Some(end) => line[..=end].to_owned(),
        None => line.to_owned(),
    }
}
