//! Clerk's error body: `ClerkErrors`, a list of `ClerkError` items and a trace id.

use serde::{Deserialize, Serialize};

/// One error item of a Clerk error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkError {
    /// A short, human-readable message.
    pub message: String,
    /// A longer explanation, when Clerk sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_message: Option<String>,
    /// A stable, machine-readable code, e.g. `"resource_not_found"`.
    pub code: String,
    /// Extra details (for example `{"param_name": "identifier"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

impl ClerkError {
    /// An error item with a code, a message and a long message.
    pub fn new(
        code: impl Into<String>,
        message: impl Into<String>,
        long_message: impl Into<String>,
    ) -> Self {
        Self {
            message: message.into(),
            long_message: Some(long_message.into()),
            code: code.into(),
            meta: None,
        }
    }
}

/// The body of a Clerk error response (`ClerkErrors` in the spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkErrors {
    /// Every error item, in the order Clerk sent them.
    pub errors: Vec<ClerkError>,
    /// Extra details about the failure as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
    /// Clerk's trace id for the failed request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk_trace_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown_fields() {
        let json = r#"{"errors":[{"message":"m","long_message":"lm","code":"c","meta":{"param_name":"identifier"},"new_field":1}],"clerk_trace_id":"t","extra":true}"#;
        let parsed: ClerkErrors = serde_json::from_str(json).unwrap();
        assert_eq!(
            parsed.errors[0].meta.as_ref().unwrap()["param_name"],
            "identifier"
        );
        let again: ClerkErrors =
            serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, again);
    }
}
