//! `tests/it/generated/mod.rs`: for every operation, a request with a sample value for every
//! parameter, and a decoder into its output type; what contract tests and the mock's tests
//! over the whole API build on.

use std::fmt::Write as _;

use super::{header, W};
use crate::emit::api::sample_id;
use crate::ir::{Api, Field, Kind, Op, Output, SampleHint, Ty};

pub fn file(api: &Api) -> Result<String, String> {
    let mut w = W::default();
    w.out.push_str(&header(api, "//"));
    w.blank();
    w.inner_doc(
        "Test support over every operation of the spec (generated from the same model as the \
         API): a request built with a sample value for every parameter (`sample_request`), the \
         same request sent through a client (`sample_call`), and a decoder of a JSON value into the operation's output type (`decode_as_output`). All \
         answer `None` for an operation whose feature is off.",
    );
    w.blank();
    w.line("use clerk_tower::api::registry::OPERATIONS;");
    w.line("use std::future::Future;");
    w.line("use std::pin::Pin;");
    w.blank();
    w.line("use clerk_tower::{Client, Error, HttpRequest, Operation, OperationInfo};");
    w.line("use serde_json::Value;");
    w.blank();
    let mut ops: Vec<&Op> = api.ops.iter().collect();
    ops.sort_by(|a, b| a.id.cmp(&b.id));

    w.doc(
        "Runs `$then` with `$op` bound to operation `$id`'s request with every parameter set to a \
         sample value; `None` when its feature is off or the id is unknown.",
    );
    w.line("macro_rules! with_sample {");
    w.line("($id:expr, |$op:ident| $then:expr) => {");
    w.line("match $id {");
    for op in &ops {
        let mut call = format!(
            "clerk_tower::api::{}::new({})",
            op.type_name,
            op.required()
                .iter()
                .map(|f| sample(api, f, &f.ty, false, 0))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")
        );
        for f in op.optional() {
            let value = sample(api, f, &f.ty, false, 0)?;
            let _ = write!(call, ".{}({value})", f.rust);
        }
        w.line(format!("#[cfg(feature = \"{}\")]", op.feature));
        w.line(format!(
            "{:?} => {{ let $op = {call}; Some($then) }}",
            op.id
        ));
    }
    w.line("_ => None,");
    w.line("}");
    w.line("};");
    w.line("}");
    w.blank();
    w.doc("The request of operation `id` with every parameter set to a sample value, built without I/O; `None` when its feature is off or the id is unknown.");
    w.line("#[allow(deprecated, unused_variables)]");
    w.line("pub fn sample_request(id: &str) -> Option<Result<HttpRequest, Error>> {");
    w.line("with_sample!(id, |op| op.to_request(None))");
    w.line("}");
    w.blank();
    w.doc("A call in flight whose output was decoded and dropped.");
    w.line("pub type SampleCall = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;");
    w.blank();
    w.doc("Operation `id`'s sample request sent through `client`, the whole stack, its answer decoded into the operation's output type; `None` when its feature is off or the id is unknown.");
    w.line("#[allow(deprecated, unused_variables)]");
    w.line("pub fn sample_call(client: &Client, id: &str) -> Option<SampleCall> {");
    w.line("with_sample!(id, |op| {");
    w.line("let call = client.call(op);");
    w.line("Box::pin(async move { call.await.map(|_| ()) }) as SampleCall");
    w.line("})");
    w.line("}");
    w.blank();
    w.doc("A walk of a paginated operation in flight: the ids of the items it yielded, in order, or its error.");
    w.line(
        "pub type PaginateCall = Pin<Box<dyn Future<Output = Result<Vec<String>, Error>> + Send>>;",
    );
    w.blank();
    w.doc("Walks paginated operation `id` to its end through `client` with pages of `limit` items (its required parameters set to sample values, the others unset): the ids of the items yielded; `None` when its feature is off or it is not paginated.");
    w.line("#[allow(deprecated, unused_variables)]");
    w.line("pub fn paginate_ids(client: &Client, id: &str, limit: u32) -> Option<PaginateCall> {");
    w.line("match id {");
    for op in ops.iter().filter(|op| op.pagination.is_some()) {
        let args = op
            .required()
            .iter()
            .map(|f| sample(api, f, &f.ty, false, 0))
            .collect::<Result<Vec<_>, _>>()?
            .join(", ");
        // `limit` as the setter takes it (u32 in most lists).
        let limit_u32 = op.params.iter().any(|f| {
            f.wire == "limit"
                && match &f.ty {
                    Ty::Option(inner) => **inner == Ty::U32,
                    ty => *ty == Ty::U32,
                }
        });
        let limit = if limit_u32 { "limit" } else { "limit.into()" };
        w.line(format!("#[cfg(feature = \"{}\")]", op.feature));
        w.line(format!("{:?} => {{", op.id));
        w.line(format!(
            "let items = client.call(clerk_tower::api::{}::new({args}).limit({limit})).paginate().items();",
            op.type_name
        ));
        w.line("Some(Box::pin(async move { walk(items).await }) as PaginateCall)");
        w.line("}");
    }
    w.line("_ => None,");
    w.line("}");
    w.line("}");
    w.blank();
    w.line("#[allow(dead_code)]");
    w.line("async fn walk<O: clerk_tower::Paginate>(items: clerk_tower::list::Items<O>) -> Result<Vec<String>, Error> {");
    w.line("use clerk_tower::list::Identified;");
    w.line("let all = items.collect_all().await?;");
    w.line("Ok(all.iter().map(|item| item.id().to_owned()).collect())");
    w.line("}");
    w.blank();
    w.doc("Decodes `value` as operation `id`'s output type would be decoded from a 2xx body; `None` when its feature is off or the id is unknown.");
    w.line("pub fn decode_as_output(id: &str, value: Value) -> Option<Result<(), String>> {");
    w.line("match id {");
    for op in &ops {
        w.line(format!("#[cfg(feature = \"{}\")]", op.feature));
        match &op.output {
            Output::Text => w.line(format!(
                "{:?} => Some(value.as_str().map(|_| ()).ok_or_else(|| \"a text body is a string\".to_owned())),",
                op.id
            )),
            _ => w.line(format!(
                "{:?} => Some(decode::<<clerk_tower::api::{} as Operation>::Output>(value)),",
                op.id, op.type_name
            )),
        }
    }
    w.line("_ => None,");
    w.line("}");
    w.line("}");
    w.blank();
    w.line("#[allow(dead_code)]");
    w.line("fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<(), String> {");
    w.line("serde_json::from_value::<T>(value).map(|_| ()).map_err(|e| e.to_string())");
    w.line("}");
    w.blank();
    w.doc("Every operation compiled in builds its sample request: the method and the metadata are the registry's, and the path is the template with every parameter filled.");
    w.line("#[test]");
    w.line("fn every_enabled_operation_builds_its_sample_request() {");
    w.line("let mut built = 0;");
    w.line("for entry in OPERATIONS {");
    w.line("let Some(request) = sample_request(entry.info.id) else { continue };");
    w.line("let request = request.unwrap_or_else(|e| panic!(\"{}: {e}\", entry.info.id));");
    w.line("assert_eq!(request.method(), entry.info.method, \"{}\", entry.info.id);");
    w.line("assert_eq!(request.extensions().get::<OperationInfo>(), Some(&entry.info));");
    w.line("let path = request.uri().path();");
    w.line("let literal: Vec<&str> = entry.info.path_template.split('/').collect();");
    w.line("let sent: Vec<&str> = path.split('/').collect();");
    w.line("assert_eq!(literal.len(), sent.len(), \"{}: {path}\", entry.info.id);");
    w.line("for (t, s) in literal.iter().zip(&sent) {");
    w.line("assert!(t.starts_with('{') || t == s, \"{}: {path}\", entry.info.id);");
    w.line("}");
    w.line("built += 1;");
    w.line("}");
    w.line("assert!(built > 0, \"the allow-list is always compiled in the tests\");");
    w.line("}");
    w.blank();
    w.doc("Every operation compiled in has a decoder, and lists decode both of their shapes.");
    w.line("#[test]");
    w.line("fn every_enabled_operation_has_a_decoder() {");
    w.line("for entry in OPERATIONS {");
    w.line("if sample_request(entry.info.id).is_some() {");
    w.line(
        "assert!(decode_as_output(entry.info.id, Value::Null).is_some(), \"{}\", entry.info.id);",
    );
    w.line("}");
    w.line("}");
    w.line("let list = \"ListAllowlistIdentifiers\";");
    w.line("assert_eq!(decode_as_output(list, serde_json::json!([])), Some(Ok(())));");
    w.line("let page = serde_json::json!({\"data\": [], \"total_count\": 0});");
    w.line("assert_eq!(decode_as_output(list, page), Some(Ok(())));");
    w.line("assert!(matches!(decode_as_output(list, serde_json::json!(7)), Some(Err(_))));");
    w.line("}");
    Ok(w.out)
}

/// A sample value for a parameter or field that the spec accepts: its format, pattern, bounds
/// or example when it has them (a `{name}_123` id otherwise); `exact`: the position takes the
/// type itself, not `impl Into<..>`. Models get every optional field too, a few levels deep.
fn sample(api: &Api, field: &Field, ty: &Ty, exact: bool, depth: usize) -> Result<String, String> {
    sample_of(api, &field.rust, &field.sample, ty, exact, depth)
}

fn sample_of(
    api: &Api,
    name: &str,
    hint: &SampleHint,
    ty: &Ty,
    exact: bool,
    depth: usize,
) -> Result<String, String> {
    if depth > 8 {
        return Err(format!("{name}: samples nest too deep"));
    }
    let number = |integer: bool| {
        let step = if integer { 1.0 } else { 0.5 };
        let mut v = match hint.minimum {
            Some(min) if hint.exclusive_minimum => min + step,
            Some(min) => min,
            None => 1.0,
        };
        if let Some(max) = hint.maximum {
            let max = if hint.exclusive_maximum {
                max - step
            } else {
                max
            };
            v = v.min(max);
        }
        v
    };
    Ok(match ty {
        Ty::String => {
            let s = format!("{:?}", string_sample(name, hint));
            if exact {
                format!("{s}.to_owned()")
            } else {
                s
            }
        }
        Ty::U32 | Ty::U64 | Ty::I32 | Ty::I64 => format!("{}", number(true) as i64),
        Ty::F64 => format!("{:?}", number(false)),
        Ty::Bool => "true".to_owned(),
        Ty::Json => "serde_json::json!({})".to_owned(),
        Ty::JsonObject => "serde_json::Map::new()".to_owned(),
        Ty::Map(_) => "std::collections::BTreeMap::new()".to_owned(),
        Ty::Vec(item) => {
            let item_hint = hint.items.as_deref().unwrap_or(hint);
            let value = sample_of(api, name, item_hint, item, exact, depth + 1)?;
            if exact {
                format!("vec![{value}]")
            } else {
                format!("[{value}]")
            }
        }
        Ty::Option(inner) => format!(
            "Some({})",
            sample_of(api, name, hint, inner, true, depth + 1)?
        ),
        Ty::List(_) => return Err(format!("{name}: a list as a parameter")),
        Ty::File => {
            "clerk_tower::api::File::new(\"logo.png\", \"image/png\", vec![0x89, b'P', b'N', b'G'])"
                .to_owned()
        }
        Ty::Named(n) => {
            let def = api.ty(n).ok_or_else(|| format!("unknown type {n}"))?;
            match &def.kind {
                Kind::Enum { values } => {
                    let v = values.first().cloned().unwrap_or_default();
                    if exact {
                        format!("clerk_tower::models::{n}::from({v:?})")
                    } else {
                        format!("{v:?}")
                    }
                }
                Kind::Struct { fields } => {
                    let required: Vec<&Field> =
                        fields.iter().filter(|f| f.plain_in_model()).collect();
                    let mut value = if required.is_empty() && def.default {
                        format!("clerk_tower::models::{n}::default()")
                    } else {
                        let args = required
                            .iter()
                            .map(|f| sample(api, f, &f.ty, false, depth + 1))
                            .collect::<Result<Vec<_>, _>>()?;
                        format!("clerk_tower::models::{n}::new({})", args.join(", "))
                    };
                    // The optional fields too (the models requests carry have a setter per
                    // optional field), short of recursive models.
                    if depth < 3 {
                        for f in fields.iter().filter(|f| !f.plain_in_model()) {
                            let v = sample(api, f, &f.ty, false, depth + 1)?;
                            let _ = write!(value, ".{}({v})", f.rust);
                        }
                    }
                    value
                }
                Kind::Alias(inner) => sample_of(api, name, hint, inner, true, depth + 1)?,
                _ => format!("clerk_tower::models::{n}::default()"),
            }
        }
    })
}

/// A string the spec accepts for `name`: one its pattern matches, one of its format, its
/// example, or a plausible id (`user_id` → `user_123`), in that order.
fn string_sample(name: &str, hint: &SampleHint) -> String {
    if let Some(s) = hint
        .pattern
        .as_deref()
        .and_then(crate::pattern::pattern_sample)
    {
        return s;
    }
    let formatted = hint
        .format
        .as_deref()
        .and_then(crate::pattern::format_sample);
    let mut s = match (formatted, &hint.example) {
        (Some(f), _) => f.to_owned(),
        (None, Some(example)) => example.clone(),
        (None, None) => sample_id(name),
    };
    // Pad or cut to the length bounds.
    if let Some(min) = hint.min_length.and_then(|n| usize::try_from(n).ok()) {
        while s.chars().count() < min {
            s.push('x');
        }
    }
    if let Some(max) = hint.max_length.and_then(|n| usize::try_from(n).ok()) {
        s = s.chars().take(max).collect();
    }
    s
}
