//! OpenAPI Overlay 1.0 (<https://spec.openapis.org/overlay/v1.0.0.html>): the corrections
//! `spec/overlay.yaml` makes to Clerk's spec, applied by the generator before anything else
//! reads the spec (feature `yaml`).

use serde_json::Value;

use crate::json::Json;

/// One step of an overlay target.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Member(String),
    Index(usize),
    Wildcard,
}

/// Parses the JSONPath subset overlay targets use: `$`, then `.name`, `['name']` or
/// `["name"]` (any characters, `\'` escaped), `[0]`, `.*` or `[*]`. Filters, slices and recursive
/// descent are refused: a target names nodes exactly.
fn parse_target(target: &str) -> Result<Vec<Step>, String> {
    let rest = target
        .strip_prefix('$')
        .ok_or_else(|| format!("target {target:?} does not start with `$`"))?;
    let mut steps = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
                if name.is_empty() {
                    return Err(format!(
                        "target {target:?}: empty name (recursive descent is not supported)"
                    ));
                }
                steps.push(if name == "*" {
                    Step::Wildcard
                } else {
                    Step::Member(name)
                });
            }
            '[' => {
                match chars.next() {
                    Some('*') => steps.push(Step::Wildcard),
                    Some(d) if d.is_ascii_digit() => {
                        let mut digits = d.to_string();
                        while let Some(&c) = chars.peek() {
                            if !c.is_ascii_digit() {
                                break;
                            }
                            digits.push(c);
                            chars.next();
                        }
                        let index = digits
                            .parse()
                            .map_err(|e| format!("target {target:?}: index {digits}: {e}"))?;
                        steps.push(Step::Index(index));
                    }
                    Some(quote @ ('\'' | '"')) => {
                        let mut name = String::new();
                        loop {
                            match chars.next() {
                                Some('\\') => match chars.next() {
                                    Some(c) => name.push(c),
                                    None => {
                                        return Err(format!("target {target:?}: dangling `\\`"))
                                    }
                                },
                                Some(c) if c == quote => break,
                                Some(c) => name.push(c),
                                None => return Err(format!("target {target:?}: unclosed quote")),
                            }
                        }
                        steps.push(Step::Member(name));
                    }
                    other => {
                        return Err(format!(
                            "target {target:?}: unsupported selector starting with {other:?}"
                        ))
                    }
                }
                if chars.next() != Some(']') {
                    return Err(format!("target {target:?}: expected `]`"));
                }
            }
            other => return Err(format!("target {target:?}: unexpected {other:?}")),
        }
    }
    Ok(steps)
}

/// Merges `update` into `target` as an Overlay 1.0 `update` does: objects recursively, arrays
/// appended, anything else replaced.
pub fn merge(target: &mut Value, update: &Value) {
    match (target, update) {
        (Value::Object(entries), Value::Object(updates)) => {
            for (key, value) in updates {
                match entries.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        entries.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(items), Value::Array(more)) => items.extend(more.iter().cloned()),
        (Value::Array(items), other) => items.push(other.clone()),
        (target, value) => *target = value.clone(),
    }
}

/// Calls `f` on every node `steps` selects; returns how many there were.
fn select_mut(node: &mut Value, steps: &[Step], f: &mut dyn FnMut(&mut Value)) -> usize {
    let Some((step, rest)) = steps.split_first() else {
        f(node);
        return 1;
    };
    match (step, node) {
        (Step::Member(name), Value::Object(map)) => match map.get_mut(name) {
            Some(child) => select_mut(child, rest, f),
            None => 0,
        },
        (Step::Index(i), Value::Array(items)) => match items.get_mut(*i) {
            Some(child) => select_mut(child, rest, f),
            None => 0,
        },
        (Step::Wildcard, Value::Object(map)) => map
            .values_mut()
            .map(|child| select_mut(child, rest, f))
            .sum(),
        (Step::Wildcard, Value::Array(items)) => items
            .iter_mut()
            .map(|child| select_mut(child, rest, f))
            .sum(),
        _ => 0,
    }
}

/// Removes the nodes `steps` selects from their parent; returns how many there were.
fn remove_at(node: &mut Value, steps: &[Step]) -> Result<usize, String> {
    let Some((last, parent)) = steps.split_last() else {
        return Err("cannot remove the root".to_owned());
    };
    let Step::Member(name) = last else {
        return Err("a removal target must end with a name".to_owned());
    };
    let mut removed = 0;
    select_mut(node, parent, &mut |p| {
        if let Value::Object(map) = p {
            let before = map.len();
            // `retain` keeps the order of the others (`remove` may not, with preserve_order).
            map.retain(|k, _| k != name);
            removed += before - map.len();
        }
    });
    Ok(removed)
}

/// One action of the overlay, as read (for the coverage page and error messages).
#[derive(Debug, Clone)]
pub struct Action {
    /// Its target, as written.
    pub target: String,
    /// Its `description`: why the spec needs the correction.
    pub reason: String,
    /// Its `x-source`: the evidence.
    pub source: String,
}

/// Applies an OpenAPI Overlay 1.0 document to `spec`.
///
/// Every action must have a `target` that selects at least one node, a `description` (the
/// reason for the correction) and an `x-source`; anything else is an error, so a spec update
/// that moves or fixes what an action corrects fails the generator instead of being ignored.
///
/// # Errors
/// The action that breaks one of those rules, and how.
pub fn apply_overlay(spec: &mut Value, overlay: &Value) -> Result<Vec<Action>, String> {
    if overlay.str("overlay").is_none_or(|v| !v.starts_with("1.0")) {
        return Err("overlay: `overlay: 1.0.0` is required".to_owned());
    }
    let mut applied = Vec::new();
    for (i, action) in overlay
        .get("actions")
        .ok_or("overlay: no `actions`")?
        .items()
        .iter()
        .enumerate()
    {
        let target = action
            .str("target")
            .ok_or_else(|| format!("overlay action #{i}: no target"))?;
        let context = format!("overlay action #{i} ({target})");
        let reason = action
            .str("description")
            .ok_or_else(|| format!("{context}: no description (the reason for the correction)"))?;
        let source = action
            .str("x-source")
            .ok_or_else(|| format!("{context}: no x-source"))?;
        let steps = parse_target(target)?;
        let count = match (action.get("update"), action.get("remove")) {
            (Some(update), None) => select_mut(spec, &steps, &mut |node| merge(node, update)),
            (None, Some(Value::Bool(true))) => remove_at(spec, &steps)?,
            _ => {
                return Err(format!(
                    "{context}: needs exactly one of `update` or `remove: true`"
                ))
            }
        };
        if count == 0 {
            return Err(format!(
                "{context}: the target selects nothing in the spec (did the spec change?)"
            ));
        }
        applied.push(Action {
            target: target.to_owned(),
            reason: reason.trim().to_owned(),
            source: source.trim().to_owned(),
        });
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_yaml;
    use serde_json::json;

    #[test]
    fn targets_parse_and_select() {
        assert_eq!(
            parse_target("$.paths['/a/{id}'].get").unwrap(),
            vec![
                Step::Member("paths".into()),
                Step::Member("/a/{id}".into()),
                Step::Member("get".into())
            ]
        );
        assert_eq!(
            parse_target("$.a.*[*]").unwrap(),
            vec![Step::Member("a".into()), Step::Wildcard, Step::Wildcard]
        );
        assert!(parse_target("$..a").is_err());
        assert!(parse_target("a.b").is_err());
        assert!(parse_target("$[?(@.x)]").is_err());

        let mut spec = json!({ "a": { "b": { "enum": ["x"] }, "c": { "enum": ["y"] } } });
        let n = select_mut(&mut spec, &parse_target("$.a.*").unwrap(), &mut |n| {
            merge(n, &json!({ "enum": ["z"] }))
        });
        assert_eq!(n, 2);
        assert_eq!(
            spec,
            json!({ "a": { "b": { "enum": ["x", "z"] }, "c": { "enum": ["y", "z"] } } })
        );
        assert_eq!(
            remove_at(&mut spec, &parse_target("$.a.b").unwrap()).unwrap(),
            1
        );
        assert_eq!(spec, json!({ "a": { "c": { "enum": ["y", "z"] } } }));
    }

    #[test]
    fn overlays_must_hit_and_explain() {
        let mut spec = json!({ "a": { "b": 1 } });
        let missing = parse_yaml(
            "overlay: 1.0.0\nactions: [{target: '$.a.c', description: r, x-source: s, update: {d: 1}}]",
            "t",
        )
        .unwrap();
        assert!(apply_overlay(&mut spec, &missing)
            .unwrap_err()
            .contains("selects nothing"));
        let unexplained = parse_yaml(
            "overlay: 1.0.0\nactions: [{target: '$.a', update: {d: 1}}]",
            "t",
        )
        .unwrap();
        assert!(apply_overlay(&mut spec, &unexplained).is_err());
        let good = parse_yaml(
            "overlay: 1.0.0\nactions: [{target: '$.a', description: r, x-source: s, update: {b: 2}}]",
            "t",
        )
        .unwrap();
        apply_overlay(&mut spec, &good).unwrap();
        assert_eq!(spec, json!({ "a": { "b": 2 } }));
    }
}
