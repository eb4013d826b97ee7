//! The spec as an ordered tree, the overlay applied to it, and `$ref` resolution.
//!
//! The tree is the generator's own ([`Node`]): mappings keep the order they have in the YAML
//! file, so fields, parameters and enum values come out in the spec's order.

use std::fmt;

use yaml_rust2::{Yaml, YamlLoader};

/// A YAML/JSON value; mappings keep their order.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value at `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match self {
            Node::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_str)
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Node::Bool(true)))
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Int(i) => Some(*i as f64),
            Node::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Node::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::Seq(items) => items,
            _ => &[],
        }
    }

    /// The strings of a sequence at `key` (`required`, `enum`, `tags`).
    pub fn strings(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|n| {
                n.items()
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Merges `update` into `self` as an Overlay 1.0 `update` does: mappings recursively,
    /// sequences appended, anything else replaced.
    pub fn merge(&mut self, update: &Node) {
        match (self, update) {
            (Node::Map(entries), Node::Map(updates)) => {
                for (key, value) in updates {
                    match entries.iter_mut().find(|(k, _)| k == key) {
                        Some((_, existing)) => existing.merge(value),
                        None => entries.push((key.clone(), value.clone())),
                    }
                }
            }
            (Node::Seq(items), Node::Seq(more)) => items.extend(more.iter().cloned()),
            (Node::Seq(items), other) => items.push(other.clone()),
            (target, value) => *target = value.clone(),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Null => f.write_str("null"),
            Node::Bool(b) => write!(f, "{b}"),
            Node::Int(i) => write!(f, "{i}"),
            Node::Float(x) => write!(f, "{x}"),
            Node::Str(s) => write!(f, "{s:?}"),
            Node::Seq(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Node::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Parses one YAML document. Integer and boolean mapping keys (`200:`) become their text, as
/// OpenAPI means them; aliases and non-scalar keys are errors.
pub fn parse_yaml(text: &str, what: &str) -> Result<Node, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("{what}: YAML: {e}"))?;
    let [doc] = docs.as_slice() else {
        return Err(format!(
            "{what}: expected one YAML document, found {}",
            docs.len()
        ));
    };
    convert(doc).map_err(|e| format!("{what}: {e}"))
}

fn convert(yaml: &Yaml) -> Result<Node, String> {
    Ok(match yaml {
        Yaml::Null => Node::Null,
        Yaml::Boolean(b) => Node::Bool(*b),
        Yaml::Integer(i) => Node::Int(*i),
        Yaml::Real(text) => Node::Float(
            yaml.as_f64()
                .ok_or_else(|| format!("not a number: {text}"))?,
        ),
        Yaml::String(s) => Node::Str(s.clone()),
        Yaml::Array(items) => Node::Seq(items.iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Hash(hash) => {
            let mut entries: Vec<(String, Node)> = Vec::with_capacity(hash.len());
            for (k, v) in hash {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                if entries.iter().any(|(existing, _)| *existing == key) {
                    return Err(format!("duplicate key {key:?}"));
                }
                entries.push((key, convert(v)?));
            }
            Node::Map(entries)
        }
        Yaml::Alias(n) => return Err(format!("unresolved YAML alias #{n}")),
        Yaml::BadValue => return Err("invalid YAML value".to_owned()),
    })
}

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

/// Calls `f` on every node `steps` selects; returns how many there were.
fn select_mut(node: &mut Node, steps: &[Step], f: &mut dyn FnMut(&mut Node)) -> usize {
    let Some((step, rest)) = steps.split_first() else {
        f(node);
        return 1;
    };
    match (step, node) {
        (Step::Member(name), node @ Node::Map(_)) => match node.get_mut(name) {
            Some(child) => select_mut(child, rest, f),
            None => 0,
        },
        (Step::Index(i), Node::Seq(items)) => match items.get_mut(*i) {
            Some(child) => select_mut(child, rest, f),
            None => 0,
        },
        (Step::Wildcard, Node::Map(entries)) => entries
            .iter_mut()
            .map(|(_, child)| select_mut(child, rest, f))
            .sum(),
        (Step::Wildcard, Node::Seq(items)) => items
            .iter_mut()
            .map(|child| select_mut(child, rest, f))
            .sum(),
        _ => 0,
    }
}

/// Removes the nodes `steps` selects from their parent; returns how many there were.
fn remove_at(node: &mut Node, steps: &[Step]) -> Result<usize, String> {
    let Some((last, parent)) = steps.split_last() else {
        return Err("cannot remove the root".to_owned());
    };
    let Step::Member(name) = last else {
        return Err("a removal target must end with a name".to_owned());
    };
    let mut removed = 0;
    select_mut(node, parent, &mut |p| {
        if let Node::Map(entries) = p {
            let before = entries.len();
            entries.retain(|(k, _)| k != name);
            removed += before - entries.len();
        }
    });
    Ok(removed)
}

/// One action of the overlay, as read (for the coverage page and error messages).
#[derive(Debug, Clone)]
pub struct Action {
    pub target: String,
    pub reason: String,
    pub source: String,
}

/// Applies an OpenAPI Overlay 1.0 document to `spec`.
///
/// Every action must have a `target` that selects at least one node, a `description` (the
/// reason for the correction) and an `x-source`; anything else is an error, so a spec update
/// that moves or fixes what an action corrects fails the generator instead of being ignored.
pub fn apply_overlay(spec: &mut Node, overlay: &Node) -> Result<Vec<Action>, String> {
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
            (Some(update), None) => select_mut(spec, &steps, &mut |node| node.merge(update)),
            (None, Some(Node::Bool(true))) => remove_at(spec, &steps)?,
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

/// Resolves a local `$ref` (`#/a/b/c`, with JSON pointer escapes).
pub fn pointer<'a>(doc: &'a Node, reference: &str) -> Result<&'a Node, String> {
    let path = reference
        .strip_prefix("#/")
        .ok_or_else(|| format!("only local refs are supported: {reference}"))?;
    let mut node = doc;
    for part in path.split('/') {
        let part = part.replace("~1", "/").replace("~0", "~");
        node = node
            .get(&part)
            .ok_or_else(|| format!("dangling ref {reference}"))?;
    }
    Ok(node)
}

/// Follows `$ref`s (other than schema refs, which name types) until a node that is not one.
pub fn deref<'a>(doc: &'a Node, mut node: &'a Node) -> Result<&'a Node, String> {
    for _ in 0..16 {
        match node.str("$ref") {
            Some(r) => node = pointer(doc, r)?,
            None => return Ok(node),
        }
    }
    Err("$ref chain too long".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

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

        let mut spec = parse_yaml("a: {b: {enum: [x]}, c: {enum: [y]}}", "t").unwrap();
        let update = parse_yaml("enum: [z]", "t").unwrap();
        let n = select_mut(&mut spec, &parse_target("$.a.*").unwrap(), &mut |n| {
            n.merge(&update)
        });
        assert_eq!(n, 2);
        assert_eq!(
            spec.to_string(),
            r#"{a: {b: {enum: ["x", "z"]}, c: {enum: ["y", "z"]}}}"#
        );
        assert_eq!(
            remove_at(&mut spec, &parse_target("$.a.b").unwrap()).unwrap(),
            1
        );
        assert_eq!(spec.to_string(), r#"{a: {c: {enum: ["y", "z"]}}}"#);
    }

    #[test]
    fn overlays_must_hit_and_explain() {
        let mut spec = parse_yaml("a: {b: 1}", "t").unwrap();
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
        assert_eq!(spec.to_string(), "{a: {b: 2}}");
    }
}
