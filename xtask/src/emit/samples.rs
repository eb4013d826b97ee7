//! `tests/it/generated/mod.rs`: for every operation, a request with a sample value for every
//! parameter, and a decoder into its output type; what contract tests and the mock's tests
//! over the whole API build on.

use std::fmt::Write as _;

use super::{header, W};
use crate::emit::api::sample_id;
use crate::ir::{Api, Field, Kind, Op, Output, Ty};

pub fn file(api: &Api) -> Result<String, String> {
    let mut w = W::default();
    w.out.push_str(&header(api, "//"));
    w.blank();
    w.inner_doc(
        "Test support over every operation of the spec (generated from the same model as the \
         API): a request built with a sample value for every parameter (`sample_request`), and \
         a decoder of a JSON value into the operation's output type (`decode_as_output`). Both \
         answer `None` for an operation whose feature is off.",
    );
    w.blank();
    w.line("use clerk_tower::api::registry::OPERATIONS;");
    w.line("use clerk_tower::{Error, HttpRequest, Operation, OperationInfo};");
    w.line("use serde_json::Value;");
    w.blank();
    let mut ops: Vec<&Op> = api.ops.iter().collect();
    ops.sort_by(|a, b| a.id.cmp(&b.id));

    w.doc("The request of operation `id` with every parameter set to a sample value, built without I/O; `None` when its feature is off or the id is unknown.");
    w.line("#[allow(deprecated, unused_variables)]");
    w.line("pub fn sample_request(id: &str) -> Option<Result<HttpRequest, Error>> {");
    w.line("match id {");
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
        w.line(format!("{:?} => Some({call}.to_request(None)),", op.id));
    }
    w.line("_ => None,");
    w.line("}");
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

/// A sample value for a parameter; `exact`: the position takes the type itself, not
/// `impl Into<..>`.
fn sample(api: &Api, field: &Field, ty: &Ty, exact: bool, depth: usize) -> Result<String, String> {
    if depth > 8 {
        return Err(format!("{}: samples nest too deep", field.wire));
    }
    let number = |default: f64| {
        let v = field.checks.minimum.unwrap_or(default);
        field.checks.maximum.map_or(v, |max| v.min(max))
    };
    Ok(match ty {
        Ty::String => {
            let s = format!("{:?}", sample_id(&field.rust));
            if exact {
                format!("{s}.to_owned()")
            } else {
                s
            }
        }
        Ty::U32 | Ty::U64 | Ty::I32 | Ty::I64 => format!("{}", number(1.0) as i64),
        Ty::F64 => format!("{:?}", number(1.0)),
        Ty::Bool => "true".to_owned(),
        Ty::Json => "serde_json::json!({})".to_owned(),
        Ty::JsonObject => "serde_json::Map::new()".to_owned(),
        Ty::Map(_) => "std::collections::BTreeMap::new()".to_owned(),
        Ty::Vec(item) if exact => format!("vec![{}]", sample(api, field, item, true, depth + 1)?),
        Ty::Vec(item) => format!("[{}]", sample(api, field, item, false, depth + 1)?),
        Ty::Option(inner) => format!("Some({})", sample(api, field, inner, true, depth + 1)?),
        Ty::List(_) => return Err(format!("{}: a list as a parameter", field.wire)),
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
                    if required.is_empty() && def.default {
                        format!("clerk_tower::models::{n}::default()")
                    } else {
                        let args = required
                            .iter()
                            .map(|f| sample(api, f, &f.ty, false, depth + 1))
                            .collect::<Result<Vec<_>, _>>()?;
                        format!("clerk_tower::models::{n}::new({})", args.join(", "))
                    }
                }
                Kind::Alias(inner) => sample(api, field, inner, true, depth + 1)?,
                _ => format!("clerk_tower::models::{n}::default()"),
            }
        }
    })
}
