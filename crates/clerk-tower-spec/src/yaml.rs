//! The sources as Clerk and this project ship them: YAML documents (feature `yaml`).

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// Parses one YAML document into JSON. Integer, boolean and real mapping keys (`200:`) become
/// their text, as OpenAPI means them; aliases, non-scalar keys, duplicate keys and reals
/// without a JSON form are errors. Mappings keep their order when serde_json's
/// `preserve_order` is on (the generator turns it on: fields come out in the spec's order).
///
/// # Errors
/// `what` and what is wrong, for text that is not exactly one YAML document of that kind.
pub fn parse_yaml(text: &str, what: &str) -> Result<Value, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("{what}: YAML: {e}"))?;
    let [doc] = docs.as_slice() else {
        return Err(format!(
            "{what}: expected one YAML document, found {}",
            docs.len()
        ));
    };
    convert(doc).map_err(|e| format!("{what}: {e}"))
}

fn convert(yaml: &Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(text) => Value::Number(
            yaml.as_f64()
                .and_then(Number::from_f64)
                .ok_or_else(|| format!("{text} is not a JSON number"))?,
        ),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (k, v) in hash {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                if map.insert(key.clone(), convert(v)?).is_some() {
                    return Err(format!("duplicate key {key:?}"));
                }
            }
            Value::Object(map)
        }
        Yaml::Alias(n) => return Err(format!("unresolved YAML alias #{n}")),
        Yaml::BadValue => return Err("invalid YAML value".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_becomes_json_or_an_error() {
        assert_eq!(
            parse_yaml("a: {200: x, true: [1, 1.5, null]}", "t").unwrap(),
            json!({ "a": { "200": "x", "true": [1, 1.5, null] } })
        );
        for text in [
            "",
            "a: [",
            "a: 1\na: 2",
            "--- 1\n--- 2",
            "? [a]\n: 1",
            "- .inf",
        ] {
            assert!(parse_yaml(text, "t").is_err(), "{text:?}");
        }
        for text in ["a: &x 1\nb: *x", "a: !!binary x", "{a: .nan}", "\u{0}"] {
            let _ = parse_yaml(text, "t");
        }
    }
}
