//! `src/models/generated/`: one module per feature for the types only that feature needs,
//! and `shared.rs` for types several features need (each behind the features that need it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{arg, cfg, header, rust, support_paths, Conversion, Namer, W};
use crate::ir::{Api, Field, Kind, Ty, TypeDef, Variant};
use crate::names;

/// The module a type is written in.
pub fn module_of(def: &TypeDef) -> Option<String> {
    if matches!(def.kind, Kind::HandWritten { .. }) {
        return None;
    }
    Some(match def.features.len() {
        1 => def.features.iter().next().cloned().unwrap_or_default(),
        _ => "shared".to_owned(),
    })
}

struct Local;

impl Namer for Local {
    fn named(&self, name: &str) -> String {
        name.to_owned()
    }
}

/// Imports of one file, each behind the features of the items that need it.
#[derive(Default)]
struct Imports {
    /// path → features of the items using it (`None`: an item compiled always uses it).
    paths: BTreeMap<String, Option<BTreeSet<String>>>,
}

impl Imports {
    fn add(&mut self, path: &str, item_features: Option<&BTreeSet<String>>) {
        let entry = self
            .paths
            .entry(path.to_owned())
            .or_insert_with(|| Some(BTreeSet::new()));
        match (entry.as_mut(), item_features) {
            (Some(set), Some(features)) => set.extend(features.iter().cloned()),
            (_, None) => *entry = None,
            (None, Some(_)) => {}
        }
    }

    /// `use` lines, grouped by their `cfg` and their crate.
    fn lines(&self, file_features: Option<&BTreeSet<String>>) -> Vec<String> {
        let mut groups: BTreeMap<(Option<String>, String), Vec<String>> = BTreeMap::new();
        for (path, features) in &self.paths {
            let gate = match (features, file_features) {
                (None, _) => None,
                (Some(f), Some(file)) if f.is_superset(file) => None,
                (Some(f), _) => cfg(f),
            };
            let (prefix, name) = path.rsplit_once("::").unwrap_or(("", path));
            groups
                .entry((gate, prefix.to_owned()))
                .or_default()
                .push(name.to_owned());
        }
        let mut out = Vec::new();
        // Plain imports first, gated ones after.
        let mut sorted: Vec<_> = groups.into_iter().collect();
        sorted.sort_by(|a, b| (a.0 .0.is_some(), &a.0 .1).cmp(&(b.0 .0.is_some(), &b.0 .1)));
        for ((gate, prefix), names) in sorted {
            let body = if names.len() == 1 {
                format!("use {prefix}::{};", names[0])
            } else {
                format!("use {prefix}::{{{}}};", names.join(", "))
            };
            match gate {
                Some(g) => out.push(format!("{g}\n{body}")),
                None => out.push(body),
            }
        }
        out
    }
}

/// Every file of `src/models/generated/`, by name.
pub fn files(api: &Api) -> Result<BTreeMap<String, String>, String> {
    let mut modules: BTreeMap<String, Vec<&TypeDef>> = BTreeMap::new();
    for def in api.types.values() {
        if let Some(m) = module_of(def) {
            modules.entry(m).or_default().push(def);
        }
    }
    // Items whose ids the pagination streams read.
    let mut list_items = BTreeSet::new();
    for op in &api.ops {
        if let (Some(_), Some(Ty::Named(item))) = (&op.pagination, &op.list_item) {
            list_items.insert(item.clone());
        }
    }
    let mut out = BTreeMap::new();
    for (module, mut defs) in modules {
        defs.sort_by_key(|d| d.order);
        let file_features: Option<BTreeSet<String>> =
            (module != "shared").then(|| BTreeSet::from([module.clone()]));
        let mut imports = Imports::default();
        let mut body = W::default();
        for def in &defs {
            let gate = if module == "shared" {
                (!def.features.is_empty()).then_some(&def.features)
            } else {
                None
            };
            let item_features = if module == "shared" {
                gate
            } else {
                file_features.as_ref()
            };
            item(
                api,
                def,
                gate,
                item_features,
                &mut imports,
                &mut body,
                &list_items,
            )?;
        }
        let mut w = W::default();
        w.out.push_str(&header(api, "//"));
        w.blank();
        if module == "shared" {
            w.inner_doc(
                "Models that operations of several features share. Each is compiled when one of \
                 the features whose operations use it is enabled.",
            );
        } else {
            let feature = api
                .features
                .get(&module)
                .ok_or_else(|| format!("unknown feature {module}"))?;
            w.inner_doc(&format!(
                "Models only the {} operations use (feature `{module}`).",
                feature.tag
            ));
        }
        w.blank();
        for line in imports.lines(file_features.as_ref()) {
            w.line(line);
        }
        w.blank();
        w.out.push_str(&body.out);
        out.insert(format!("{module}.rs"), w.out);
    }

    // mod.rs: the modules and their flat re-export.
    let mut w = W::default();
    w.out.push_str(&header(api, "//"));
    w.blank();
    w.inner_doc(
        "The models generated from Clerk's spec, re-exported flat by [`crate::models`]: one \
         module per feature, and `shared` for models of several features.",
    );
    w.blank();
    for name in out.keys() {
        let module = name.trim_end_matches(".rs");
        if module == "shared" {
            w.line(format!("mod {module};"));
            w.line("#[allow(unused_imports)] // nothing is shared when no feature is enabled");
            w.line(format!("pub use {module}::*;"));
        } else {
            w.line(format!("#[cfg(feature = \"{module}\")]"));
            w.line(format!("mod {module};"));
            w.line(format!("#[cfg(feature = \"{module}\")]"));
            w.line(format!("pub use {module}::*;"));
        }
    }
    out.insert("mod.rs".to_owned(), w.out);
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn item(
    api: &Api,
    def: &TypeDef,
    gate: Option<&BTreeSet<String>>,
    features: Option<&BTreeSet<String>>,
    imports: &mut Imports,
    w: &mut W,
    list_items: &BTreeSet<String>,
) -> Result<(), String> {
    let gate_line = gate.and_then(cfg);
    let mut uses = |path: &str| imports.add(path, features);
    // Named types from other modules (same file: nothing to import).
    let mut named = BTreeSet::new();
    match &def.kind {
        Kind::Struct { fields } => {
            for f in fields {
                f.ty.names(&mut named);
                let mut paths = BTreeSet::new();
                support_paths(&f.ty, &mut paths);
                for p in paths {
                    uses(p);
                }
            }
        }
        Kind::Union { variants, .. } => {
            for v in variants {
                named.insert(v.ty.clone());
            }
        }
        Kind::Alias(ty) => {
            ty.names(&mut named);
            let mut paths = BTreeSet::new();
            support_paths(ty, &mut paths);
            for p in paths {
                uses(p);
            }
        }
        Kind::Enum { .. } | Kind::HandWritten { .. } => {}
    }
    let own = module_of(def);
    for n in &named {
        let other = api.ty(n).ok_or_else(|| format!("unknown type {n}"))?;
        match (&other.kind, module_of(other)) {
            (Kind::HandWritten { path }, _) => uses(&format!("crate::models::{path}")),
            (_, m) if m == own => {}
            (_, Some(m)) => uses(&format!("super::{m}::{n}")),
            (_, None) => {}
        }
    }

    w.blank();
    let doc = type_doc(def);
    match &def.kind {
        Kind::Struct { fields } => {
            let serialize = true;
            let deserialize = def.response;
            uses("serde::Serialize");
            if deserialize {
                uses("serde::Deserialize");
            }
            if fields.iter().any(|f| f.present) {
                uses("crate::models::null_as_default");
            }
            w.doc(&doc);
            if let Some(g) = &gate_line {
                w.line(g);
            }
            let mut derives = vec!["Debug", "Clone"];
            if def.default {
                derives.push("Default");
            }
            derives.push("PartialEq");
            if def.eq {
                derives.push("Eq");
            }
            if serialize {
                derives.push("Serialize");
            }
            if deserialize {
                derives.push("Deserialize");
            }
            w.line(format!("#[derive({})]", derives.join(", ")));
            w.line("#[non_exhaustive]");
            w.line(format!("pub struct {} {{", def.name));
            for f in fields {
                w.doc(&super::field_doc(f));
                let mut attrs = Vec::new();
                if f.wire != f.rust {
                    attrs.push(format!("rename = \"{}\"", f.wire));
                }
                if f.present {
                    attrs.push("default, deserialize_with = \"null_as_default\"".to_owned());
                } else if !f.required {
                    attrs.push("skip_serializing_if = \"Option::is_none\"".to_owned());
                }
                if !attrs.is_empty() {
                    w.line(format!("#[serde({})]", attrs.join(", ")));
                }
                w.line(format!("pub {}: {},", f.rust, field_type(f, &Local)));
            }
            w.line("}");
            if def.request {
                builder(api, def, fields, gate_line.as_deref(), w);
            }
            if def.identified && list_items.contains(&def.name) {
                uses("crate::list::Identified");
                w.blank();
                if let Some(g) = &gate_line {
                    w.line(g);
                }
                w.line(format!(
                    "impl Identified for {} {{ fn id(&self) -> &str {{ &self.id }} }}",
                    def.name
                ));
            }
        }
        Kind::Enum { values } => {
            uses("crate::models::open_enum");
            if let Some(g) = &gate_line {
                w.line(g);
            }
            w.line("open_enum! {");
            w.indent += 1;
            w.doc(&doc);
            w.line(format!("pub enum {} {{", def.name));
            w.indent += 1;
            for v in values {
                w.line(format!("/// `{v:?}`."));
                w.line(format!("{} => {v:?},", names::variant(v)));
            }
            w.indent -= 1;
            w.line("}");
            match values.as_slice() {
                [only] => w.line(format!("default {};", names::variant(only))),
                _ => w.line("default Unknown;"),
            }
            w.indent -= 1;
            w.line("}");
        }
        Kind::Union {
            variants,
            discriminator,
            fallback,
        } => {
            uses("serde::Serialize");
            uses("serde::Deserialize");
            uses("crate::models::UnknownObject");
            if discriminator.is_some() || fallback.is_some() {
                uses("crate::models::tag");
            }
            uses("crate::models::variant");
            union(
                def,
                variants,
                discriminator.as_deref(),
                fallback.as_deref(),
                gate_line.as_deref(),
                &doc,
                w,
            );
        }
        Kind::Alias(ty) => {
            w.doc(&doc);
            if let Some(g) = &gate_line {
                w.line(g);
            }
            w.line(format!("pub type {} = {};", def.name, rust(ty, &Local)));
        }
        Kind::HandWritten { .. } => {}
    }
    Ok(())
}

/// The type of a model field.
pub fn field_type(f: &Field, namer: &dyn Namer) -> String {
    let ty = rust(&f.ty, namer);
    if f.plain_in_model() {
        ty
    } else {
        format!("Option<{ty}>")
    }
}

fn type_doc(def: &TypeDef) -> String {
    let mut doc = crate::doc::md(def.doc.as_deref().unwrap_or_default());
    let origin = match (&def.schema, &def.kind) {
        (Some(schema), _) => format!("`{schema}` in Clerk's spec."),
        (None, Kind::Enum { .. }) if def.users.len() > 1 => {
            let mut users: Vec<String> = def.users.clone();
            users.dedup();
            format!("The values of {}.", join_and(&users))
        }
        (None, _) => {
            let mut o = def.origin.clone();
            if let Some(first) = o.get(..1) {
                o = first.to_uppercase() + &o[1..];
            }
            format!("{o}.")
        }
    };
    if !doc.is_empty() {
        doc.push_str("\n\n");
    }
    doc.push_str(&origin);
    if def.deprecated {
        doc.push_str(" Deprecated in the spec.");
    }
    doc
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `new(required...)` and a setter per optional field, for models that requests carry.
fn builder(api: &Api, def: &TypeDef, fields: &[Field], gate: Option<&str>, w: &mut W) {
    let required: Vec<&Field> = fields.iter().filter(|f| f.plain_in_model()).collect();
    let optional: Vec<&Field> = fields.iter().filter(|f| !f.plain_in_model()).collect();
    if required.is_empty() && optional.is_empty() {
        return;
    }
    w.blank();
    if let Some(g) = gate {
        w.line(g);
    }
    w.line(format!("impl {} {{", def.name));
    if !required.is_empty() || !def.default {
        let args: Vec<String> = required
            .iter()
            .map(|f| {
                let (ty, _) = arg(&f.ty, &Local, api);
                format!("{}: {ty}", f.rust)
            })
            .collect();
        w.doc(&format!(
            "A [`{}`] with its required fields; the others are unset.",
            def.name
        ));
        w.line(format!("pub fn new({}) -> Self {{", args.join(", ")));
        w.line("Self {");
        for f in fields {
            if f.plain_in_model() {
                let (_, conv) = arg(&f.ty, &Local, api);
                let value = conv.apply(&f.rust);
                if value == f.rust {
                    w.line(format!("{},", f.rust));
                } else {
                    w.line(format!("{}: {value},", f.rust));
                }
            } else {
                w.line(format!("{}: None,", f.rust));
            }
        }
        w.line("}");
        w.line("}");
    }
    for f in optional {
        let (ty, conv) = arg(&f.ty, &Local, api);
        w.blank();
        w.doc(&format!("Sets `{}`.", f.wire));
        w.line(format!(
            "pub fn {}(mut self, {}: {ty}) -> Self {{",
            f.rust, f.rust
        ));
        let value = match conv {
            Conversion::None => f.rust.clone(),
            c => c.apply(&f.rust),
        };
        w.line(format!("self.{} = Some({value});", f.rust));
        w.line("self");
        w.line("}");
    }
    w.line("}");
}

#[allow(clippy::too_many_arguments)]
fn union(
    def: &TypeDef,
    variants: &[Variant],
    discriminator: Option<&str>,
    fallback: Option<&str>,
    gate: Option<&str>,
    doc: &str,
    w: &mut W,
) {
    let gate_line = |w: &mut W| {
        if let Some(g) = gate {
            w.line(g);
        }
    };
    let mut text = doc.to_owned();
    text.push_str("\n\n");
    match discriminator {
        Some(d) => {
            let _ = write!(
                text,
                "Told apart by `{d}`; a value this version of the crate does not know is kept as \
                 [`Unknown`](Self::Unknown)."
            );
        }
        None => {
            text.push_str(
                "The first variant that decodes wins; a value none of them decodes is kept as \
                 [`Unknown`](Self::Unknown).",
            );
        }
    }
    if let Some(f) = fallback {
        let _ = write!(
            text,
            " Clerk leaves `{}` out of some responses: then `{f}` tells them apart.",
            discriminator.unwrap_or("object")
        );
    }
    w.doc(&text);
    gate_line(w);
    let eq = if def.eq { ", Eq" } else { "" };
    w.line(format!("#[derive(Debug, Clone, PartialEq{eq}, Serialize)]"));
    w.line("#[serde(untagged)]");
    w.line("#[non_exhaustive]");
    w.line(format!("pub enum {} {{", def.name));
    for v in variants {
        let mut vdoc = format!("[`{}`]", v.ty);
        if !v.tags.is_empty() {
            let _ = write!(
                vdoc,
                " (`{}`: {})",
                discriminator.unwrap_or_default(),
                v.tags
                    .iter()
                    .map(|t| format!("`{t:?}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        vdoc.push('.');
        w.doc(&vdoc);
        w.line(format!("{}({}),", v.name, v.ty));
    }
    w.doc("A kind of value this version of the crate does not know, kept as sent (sealed: read it with [`UnknownObject::as_json`]).");
    w.line("Unknown(UnknownObject),");
    w.line("}");

    w.blank();
    gate_line(w);
    w.line(format!("impl Default for {} {{", def.name));
    w.doc("An empty [`Unknown`](Self::Unknown).");
    w.line("fn default() -> Self { Self::Unknown(UnknownObject::default()) }");
    w.line("}");

    w.blank();
    gate_line(w);
    w.line(format!("impl<'de> Deserialize<'de> for {} {{", def.name));
    w.line(
        "fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {",
    );
    w.line("let value = serde_json::Value::deserialize(deserializer)?;");
    match discriminator {
        Some(d) => {
            w.line(format!("match tag(&value, {d:?}) {{"));
            for v in variants {
                if v.tags.is_empty() {
                    continue;
                }
                let pats: Vec<String> = v.tags.iter().map(|t| format!("{t:?}")).collect();
                w.line(format!(
                    "Some({}) => variant(value).map(Self::{}),",
                    pats.join(" | "),
                    v.name
                ));
            }
            match fallback {
                Some(f) => {
                    w.line(format!("None => match tag(&value, {f:?}) {{"));
                    for v in variants {
                        if !v.fallback_values.is_empty() {
                            let pats: Vec<String> =
                                v.fallback_values.iter().map(|t| format!("{t:?}")).collect();
                            w.line(format!(
                                "Some({}) => variant(value).map(Self::{}),",
                                pats.join(" | "),
                                v.name
                            ));
                        }
                        for prefix in &v.fallback_prefixes {
                            w.line(format!(
                                "Some(s) if s.starts_with({prefix:?}) => variant(value).map(Self::{}),",
                                v.name
                            ));
                        }
                    }
                    w.line("_ => Ok(Self::Unknown(UnknownObject(value))),");
                    w.line("},");
                    w.line("Some(_) => Ok(Self::Unknown(UnknownObject(value))),");
                }
                None => w.line("_ => Ok(Self::Unknown(UnknownObject(value))),"),
            }
            w.line("}");
        }
        None => {
            for v in variants {
                w.line(format!(
                    "if let Ok(found) = variant::<{}, D::Error>(value.clone()) {{ return Ok(Self::{}(found)); }}",
                    v.ty, v.name
                ));
            }
            w.line("Ok(Self::Unknown(UnknownObject(value)))");
        }
    }
    w.line("}");
    w.line("}");
}
