//! Parameters as text: a path segment, a query value or a multipart text part read as the JSON
//! value its schema's type calls for, and back.

use serde_json::Value;

use crate::json::schema_type;

/// How strictly [`typed`] reads text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// What Clerk's servers take: booleans as Go's `strconv.ParseBool` reads them (`1`, `t`,
    /// `TRUE`, ...), integers with a sign or leading zeros, within int64.
    Lenient,
    /// What a client should send: `true` / `false`, integers without a `+` or leading zeros.
    Canonical,
}

/// `text` as a value of the schema's type (`boolean`, `integer`, `number`; anything else is a
/// string); `None` when it is not one: `"yes"` for a boolean, `"1.5"` for an integer. Objects
/// and arrays are not read from text.
pub fn typed(schema: &Value, text: &str, reading: Reading) -> Option<Value> {
    match schema_type(schema) {
        Some("boolean") => match (text, reading) {
            ("true", _) => Some(Value::Bool(true)),
            ("false", _) => Some(Value::Bool(false)),
            ("1" | "t" | "T" | "TRUE" | "True", Reading::Lenient) => Some(Value::Bool(true)),
            ("0" | "f" | "F" | "FALSE" | "False", Reading::Lenient) => Some(Value::Bool(false)),
            _ => None,
        },
        Some("integer") => {
            let canonical = {
                let digits = text.strip_prefix('-').unwrap_or(text);
                !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'))
            };
            match reading {
                // Clerk reads integers as int64.
                Reading::Lenient => text.parse::<i64>().map(Value::from).ok(),
                Reading::Canonical if !canonical => None,
                Reading::Canonical => text
                    .parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| text.parse::<u64>().map(Value::from))
                    .ok(),
            }
        }
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        Some("string") | None => Some(Value::String(text.to_owned())),
        Some(_) => None,
    }
}

/// A scalar value as parameter text: a string as it is, anything else as JSON (`true`, `12`).
pub fn to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_read_by_type() {
        let b = json!({ "type": "boolean" });
        assert_eq!(typed(&b, "t", Reading::Lenient), Some(json!(true)));
        assert_eq!(typed(&b, "t", Reading::Canonical), None);
        assert_eq!(typed(&b, "maybe", Reading::Lenient), None);
        let i = json!({ "type": "integer" });
        assert_eq!(typed(&i, "+1", Reading::Lenient), Some(json!(1)));
        assert_eq!(typed(&i, "+1", Reading::Canonical), None);
        assert_eq!(typed(&i, "007", Reading::Canonical), None);
        assert_eq!(typed(&i, "-7", Reading::Canonical), Some(json!(-7)));
        assert_eq!(
            typed(&i, "18446744073709551615", Reading::Canonical),
            Some(json!(u64::MAX))
        );
        assert_eq!(typed(&i, "1.5", Reading::Lenient), None);
        assert_eq!(
            typed(&json!({ "type": "number" }), "1.5", Reading::Lenient),
            Some(json!(1.5))
        );
        assert_eq!(typed(&json!({}), "x", Reading::Lenient), Some(json!("x")));
        assert_eq!(
            typed(&json!({ "type": "object" }), "x", Reading::Lenient),
            None
        );
        assert_eq!(to_text(&json!("a b")), "a b");
        assert_eq!(to_text(&json!(12)), "12");
    }
}
