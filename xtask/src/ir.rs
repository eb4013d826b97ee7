//! The generator's model of the API, built from the spec with the overlay applied: every
//! operation with its typed parameters, body and output, and every named type.
//!
//! Everything the emitters print is decided here; the emitters only format.

use std::collections::{BTreeMap, BTreeSet};

use crate::names;
use crate::spec::{self, Action, Json, Node};

/// The overlay's vocabulary (extensions on spec objects). Documented in `spec/overlay.yaml`.
pub mod ext {
    /// On a schema or property: the Rust name of the type (or field) made from it.
    pub const RUST_NAME: &str = "x-rust-name";
    /// On a component schema: a hand-written type covers it (a path under `crate::models`).
    pub const RUST_TYPE: &str = "x-clerk-rust-type";
    /// On an object schema: properties Clerk always sends although the spec does not
    /// require them. They decode to their default when missing or `null`.
    pub const PRESENT: &str = "x-clerk-present";
    /// On a string property or parameter: refused before I/O when empty once trimmed.
    pub const NOT_BLANK: &str = "x-clerk-not-blank";
    /// On an operation: safe to repeat (a POST that only reads or only sets a state).
    pub const IDEMPOTENT: &str = "x-clerk-idempotent";
    /// On an operation: cursor paging `{cursor, order-by, orderings}`.
    pub const PAGINATION: &str = "x-clerk-pagination";
    /// On an operation: a method of `Client` itself instead of a resource handle.
    pub const CLIENT_METHOD: &str = "x-clerk-client-method";
    /// On a tag: the Cargo feature's name, when the tag's own words would not match the
    /// module of its operations (`M2M Tokens`: `m2m`, as the `m2m` group).
    pub const FEATURE: &str = "x-clerk-feature";
    /// On a `oneOf` with a discriminator: the property that tells the variants apart when
    /// the discriminator is missing from a response.
    pub const FALLBACK_DISCRIMINATOR: &str = "x-clerk-fallback-discriminator";
}

/// The largest page any list serves when its `limit` has no maximum in the spec.
pub const DEFAULT_MAX_PAGE: u64 = 500;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ty {
    String,
    I64,
    I32,
    U32,
    U64,
    F64,
    Bool,
    /// Any JSON value.
    Json,
    /// A JSON object of anything (metadata).
    JsonObject,
    /// A JSON object whose values have one type.
    Map(Box<Ty>),
    Vec(Box<Ty>),
    /// `List<T>`: a bare array or `{data, total_count}`.
    List(Box<Ty>),
    /// A nullable value inside a container.
    Option(Box<Ty>),
    /// A named model type.
    Named(String),
    /// A file of a multipart body.
    File,
}

impl Ty {
    /// The named types this type mentions.
    pub fn names(&self, out: &mut BTreeSet<String>) {
        match self {
            Ty::Named(n) => {
                out.insert(n.clone());
            }
            Ty::Map(t) | Ty::Vec(t) | Ty::List(t) | Ty::Option(t) => t.names(out),
            _ => {}
        }
    }

    pub fn is_copy(&self) -> bool {
        match self {
            Ty::I64 | Ty::I32 | Ty::U32 | Ty::U64 | Ty::F64 | Ty::Bool => true,
            Ty::Option(t) => t.is_copy(),
            _ => false,
        }
    }
}

/// Limits the spec sets on a value, checked before any I/O.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks {
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub not_blank: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Body,
}

#[derive(Debug, Clone)]
pub struct Field {
    /// The name on the wire.
    pub wire: String,
    /// The Rust name.
    pub rust: String,
    pub ty: Ty,
    pub required: bool,
    pub nullable: bool,
    /// Always sent in practice (overlay): a plain field that defaults when missing or null.
    pub present: bool,
    pub doc: Option<String>,
    pub deprecated: bool,
    pub checks: Checks,
    pub location: Location,
    /// Query arrays: `name=a&name=b` (true) or `name=a,b`.
    pub explode: bool,
    /// The spec's default, for the docs.
    pub default: Option<String>,
    /// What a valid value looks like, for the generated test samples.
    pub sample: SampleHint,
}

/// What the spec says a valid value looks like (format, pattern, bounds, example), kept for
/// the sample requests of the generated tests: a sample the spec refuses would test nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleHint {
    pub format: Option<String>,
    pub pattern: Option<String>,
    /// A string `example` of the schema.
    pub example: Option<String>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    /// OpenAPI 3.0's boolean `exclusiveMinimum`.
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    /// An array's items.
    pub items: Option<Box<SampleHint>>,
}

/// The sample hint of a schema (refs followed).
fn sample_hint(doc: &Node, schema: &Node) -> SampleHint {
    let Ok(schema) = spec::deref(doc, schema) else {
        return SampleHint::default();
    };
    let length = |key: &str| {
        schema
            .get(key)
            .and_then(Node::as_i64)
            .and_then(|n| u64::try_from(n).ok())
    };
    SampleHint {
        format: schema.str("format").map(str::to_owned),
        pattern: schema.str("pattern").map(str::to_owned),
        example: schema.str("example").map(str::to_owned),
        minimum: schema.get("minimum").and_then(Node::as_f64),
        maximum: schema.get("maximum").and_then(Node::as_f64),
        exclusive_minimum: schema.flag("exclusiveMinimum"),
        exclusive_maximum: schema.flag("exclusiveMaximum"),
        min_length: length("minLength"),
        max_length: length("maxLength"),
        items: schema
            .get("items")
            .map(|items| Box::new(sample_hint(doc, items))),
    }
}

impl Field {
    /// Whether the field is a plain value (not an `Option`) in a model.
    pub fn plain_in_model(&self) -> bool {
        (self.required && !self.nullable) || self.present
    }
}

#[derive(Debug, Clone)]
pub enum Body {
    None,
    /// An inline JSON object: its properties are fields of the request.
    Json {
        fields: Vec<Field>,
    },
    /// A JSON body that is one value of a type (a component object, an array).
    Value {
        field: Box<Field>,
    },
    Multipart {
        fields: Vec<Field>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// No body (202, 204).
    Unit,
    /// A text or HTML body.
    Text,
    Json(Ty),
}

#[derive(Debug, Clone)]
pub enum Pagination {
    Offset {
        max: u64,
        paginated_flag: bool,
    },
    /// Cursor paging by the last item's id; offset paging when the request's ordering or
    /// offset rules the cursor out.
    Cursor {
        max: u64,
        cursor: String,
        order_by: String,
        orderings: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Op {
    pub id: String,
    pub type_name: String,
    pub group: String,
    /// The handle method (snake case of `x-speakeasy-name-override`).
    pub method: String,
    pub http: String,
    pub path: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub deprecated: bool,
    pub tags: Vec<String>,
    pub feature: String,
    pub params: Vec<Field>,
    pub body: Body,
    pub output: Output,
    pub idempotent: Option<bool>,
    pub pagination: Option<Pagination>,
    pub client_method: Option<String>,
    /// The list item type when the output is a `List`.
    pub list_item: Option<Ty>,
}

impl Op {
    /// Path and query parameters, then body fields: every field of the request type.
    pub fn fields(&self) -> Vec<&Field> {
        let mut out: Vec<&Field> = self.params.iter().collect();
        match &self.body {
            Body::None => {}
            Body::Json { fields } | Body::Multipart { fields } => out.extend(fields.iter()),
            Body::Value { field } => out.push(field),
        }
        out
    }

    /// The arguments of `new()` (required fields), in order.
    pub fn required(&self) -> Vec<&Field> {
        self.fields().into_iter().filter(|f| f.required).collect()
    }

    pub fn optional(&self) -> Vec<&Field> {
        self.fields().into_iter().filter(|f| !f.required).collect()
    }
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub ty: String,
    /// Discriminator values that select it.
    pub tags: Vec<String>,
    /// Values of the fallback discriminator that select it.
    pub fallback_values: Vec<String>,
    pub fallback_prefixes: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Struct {
        fields: Vec<Field>,
    },
    Enum {
        values: Vec<String>,
    },
    Union {
        variants: Vec<Variant>,
        discriminator: Option<String>,
        fallback: Option<String>,
    },
    Alias(Ty),
    /// Covered by a hand-written type at `crate::models::<path>`.
    HandWritten {
        path: String,
    },
}

#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    pub doc: Option<String>,
    /// Where in the spec it comes from, for its docs: "`User`" or "the `status` of `Session`".
    pub origin: String,
    /// The component schema it is made from.
    pub schema: Option<String>,
    pub kind: Kind,
    pub deprecated: bool,
    /// For enums shared by several places: every place, for the docs.
    pub users: Vec<String>,
    /// The order it was made in (the spec's order; an inline type after its parent's fields).
    pub order: usize,
    // Computed once every operation is known.
    pub features: BTreeSet<String>,
    pub request: bool,
    pub response: bool,
    pub eq: bool,
    pub default: bool,
    pub identified: bool,
}

#[derive(Debug, Clone)]
pub struct Group {
    /// The spec's `x-speakeasy-group`.
    pub name: String,
    /// Module and `Client` method.
    pub snake: String,
    /// The handle type.
    pub handle: String,
    pub feature: String,
    pub tag: String,
    pub ops: Vec<usize>,
    /// Every operation is a `Client` method of its own: no handle type.
    pub direct: bool,
}

#[derive(Debug, Clone)]
pub struct Feature {
    pub tag: String,
    pub description: Option<String>,
}

#[derive(Debug)]
pub struct Api {
    pub version: String,
    pub ops: Vec<Op>,
    pub types: BTreeMap<String, TypeDef>,
    pub groups: Vec<Group>,
    pub features: BTreeMap<String, Feature>,
    pub actions: Vec<Action>,
    /// Component schema name → Rust type name, in the spec's order.
    pub schemas: Vec<(String, String)>,
}

impl Api {
    pub fn ty(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }
}

const SCHEMA_PREFIX: &str = "#/components/schemas/";
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// A parameter or a field of a request: unsigned integers where the spec says
    /// `minimum: 0`, and limits checked.
    Request,
    /// A model: what the spec allows decodes (integers are signed).
    Model,
}

struct Builder<'a> {
    doc: &'a Node,
    types: BTreeMap<String, TypeDef>,
    /// Component schema → Rust name.
    components: BTreeMap<String, String>,
    /// Enum value sets (sorted) → the type made for them.
    enums: BTreeMap<Vec<String>, String>,
    /// Components being built (a cycle needs a `Box`, which the generator refuses).
    building: Vec<String>,
}

pub fn build(doc: &Node, actions: Vec<Action>) -> Result<Api, String> {
    let mut b = Builder {
        doc,
        types: BTreeMap::new(),
        components: BTreeMap::new(),
        enums: BTreeMap::new(),
        building: Vec::new(),
    };
    let schemas_node = doc
        .get("components")
        .and_then(|c| c.get("schemas"))
        .ok_or("the spec has no components.schemas")?;
    let mut schemas = Vec::new();
    for (name, schema) in schemas_node.entries() {
        let rust = match (schema.str(ext::RUST_TYPE), schema.str(ext::RUST_NAME)) {
            (Some(path), _) => path.rsplit("::").next().unwrap_or(path).to_owned(),
            (None, Some(n)) => n.to_owned(),
            (None, None) => names::type_name(name),
        };
        // Several schemas may be covered by one hand-written type.
        let shared_hand_written = |other: &str| {
            schema.str(ext::RUST_TYPE).is_some()
                && schemas_node.get(other).and_then(|o| o.str(ext::RUST_TYPE))
                    == schema.str(ext::RUST_TYPE)
        };
        if let Some((other, _)) = b
            .components
            .iter()
            .find(|(o, r)| **r == rust && !shared_hand_written(o))
        {
            return Err(format!(
                "schemas {other} and {name} would both be the type {rust}: give one an {} in the overlay",
                ext::RUST_NAME
            ));
        }
        b.components.insert(name.clone(), rust.clone());
        schemas.push((name.clone(), rust));
    }
    b.preregister_enum_names(doc)?;
    for (name, _) in &schemas {
        b.component(name)?;
    }

    let mut ops = Vec::new();
    let paths = doc.get("paths").ok_or("the spec has no paths")?;
    for (path, item) in paths.entries() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push(b.operation(path, item, method, op)?);
            }
        }
    }
    ops.sort_by(|a, b| (&a.group, &a.method).cmp(&(&b.group, &b.method)));
    check_unique(&ops, &b.types)?;

    let mut features = features(doc)?;
    // Tags operations use without declaring them in `tags` (the spec has two).
    for op in &ops {
        for tag in &op.tags {
            if feature_of(&features, tag).is_none() {
                features.insert(
                    names::feature(tag),
                    Feature {
                        tag: tag.clone(),
                        description: None,
                    },
                );
            }
        }
    }
    let groups = groups(&mut ops, &features)?;
    let mut api = Api {
        version: doc
            .get("info")
            .and_then(|i| i.str("version"))
            .ok_or("the spec has no info.version")?
            .to_owned(),
        ops,
        types: b.types,
        groups,
        features,
        actions,
        schemas,
    };
    analyse(&mut api)?;
    Ok(api)
}

/// Every generated name is unique in its namespace: request types and handles in `api`,
/// models in `models`, and no request type shares a name with a model (both are imported
/// into the same files).
fn check_unique(ops: &[Op], types: &BTreeMap<String, TypeDef>) -> Result<(), String> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for op in ops {
        if let Some(other) = seen.insert(&op.type_name, &op.id) {
            return Err(format!(
                "operations {other} and {} would both be the type {}",
                op.id, op.type_name
            ));
        }
        if types.contains_key(&op.type_name) {
            return Err(format!(
                "operation {} and a model would both be named {}: give the model an {}",
                op.id,
                op.type_name,
                ext::RUST_NAME
            ));
        }
    }
    let mut methods: BTreeSet<(&str, &str)> = BTreeSet::new();
    for op in ops {
        if !methods.insert((&op.group, &op.method)) {
            return Err(format!(
                "two operations of {} are both named {}",
                op.group, op.method
            ));
        }
    }
    Ok(())
}

/// One feature per tag.
fn features(doc: &Node) -> Result<BTreeMap<String, Feature>, String> {
    let mut out = BTreeMap::new();
    for tag in doc.get("tags").map(Node::items).unwrap_or_default() {
        let name = tag.str("name").ok_or("a tag without a name")?;
        let feature = tag
            .str(ext::FEATURE)
            .map_or_else(|| names::feature(name), str::to_owned);
        if out.contains_key(&feature) {
            return Err(format!("two tags would be the feature {feature}"));
        }
        out.insert(
            feature.clone(),
            Feature {
                tag: name.to_owned(),
                description: tag.str("description").map(str::to_owned),
            },
        );
    }
    Ok(out)
}

/// The feature of `tag`.
fn feature_of(features: &BTreeMap<String, Feature>, tag: &str) -> Option<String> {
    features
        .iter()
        .find(|(_, f)| f.tag == tag)
        .map(|(name, _)| name.clone())
}

/// Groups operations by `x-speakeasy-group`; a group's feature is the feature of the tag most
/// of its operations carry first (the first such tag in the spec's order on a tie).
fn groups(ops: &mut [Op], features: &BTreeMap<String, Feature>) -> Result<Vec<Group>, String> {
    let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        by_name.entry(op.group.clone()).or_default().push(i);
    }
    let mut groups = Vec::new();
    for (name, members) in by_name {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for &i in &members {
            let tag = ops[i]
                .tags
                .first()
                .ok_or_else(|| format!("{} has no tag", ops[i].id))?;
            match counts.iter_mut().find(|(t, _)| t == tag) {
                Some((_, n)) => *n += 1,
                None => counts.push((tag.clone(), 1)),
            }
        }
        let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let tag = counts
            .iter()
            .find(|(_, n)| *n == best)
            .map(|(t, _)| t.clone())
            .ok_or_else(|| format!("group {name} has no operations"))?;
        let feature = feature_of(features, &tag)
            .ok_or_else(|| format!("tag {tag} of group {name} is not declared in `tags`"))?;
        for &i in &members {
            ops[i].feature = feature.clone();
        }
        let direct = members.iter().all(|&i| ops[i].client_method.is_some());
        if !direct && members.iter().any(|&i| ops[i].client_method.is_some()) {
            return Err(format!(
                "group {name}: either every operation or none has {}",
                ext::CLIENT_METHOD
            ));
        }
        groups.push(Group {
            snake: names::snake(&name),
            handle: names::type_name(&name),
            name,
            feature,
            tag,
            ops: members,
            direct,
        });
    }
    groups.sort_by(|a, b| a.snake.cmp(&b.snake));
    Ok(groups)
}

impl<'a> Builder<'a> {
    /// Enums named in the overlay get their name before anything else claims their values.
    fn preregister_enum_names(&mut self, node: &Node) -> Result<(), String> {
        if let (Some(name), Some(values)) = (node.str(ext::RUST_NAME), node.get("enum")) {
            let mut key: Vec<String> = values
                .items()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            key.sort();
            if let Some(existing) = self.enums.get(&key) {
                if existing != name {
                    return Err(format!(
                        "enum values {key:?} are named both {existing} and {name} in the overlay"
                    ));
                }
            }
            self.enums.insert(key, name.to_owned());
        }
        match node {
            Node::Object(entries) => {
                for v in entries.values() {
                    self.preregister_enum_names(v)?;
                }
            }
            Node::Array(items) => {
                for v in items {
                    self.preregister_enum_names(v)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn component_node(&self, name: &str) -> Result<&'a Node, String> {
        let doc: &'a Node = self.doc;
        doc.get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(|s| s.get(name))
            .ok_or_else(|| format!("no schema {name}"))
    }

    /// Builds the type of a component schema (once); returns its Rust name.
    fn component(&mut self, name: &str) -> Result<String, String> {
        let rust = self
            .components
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no schema {name}"))?;
        if self.types.contains_key(&rust) || self.building.iter().any(|b| b == name) {
            return Ok(rust);
        }
        let schema = self.component_node(name)?;
        if let Some(path) = schema.str(ext::RUST_TYPE) {
            if self.types.contains_key(&rust) {
                return Ok(rust);
            }
            let def = typedef(
                &rust,
                schema,
                format!("`{name}`"),
                Some(name),
                Kind::HandWritten {
                    path: path.to_owned(),
                },
            );
            self.insert(def)?;
            return Ok(rust);
        }
        self.building.push(name.to_owned());
        let context = format!("schema {name}");
        let origin = format!("`{name}`");
        let kind = self.kind_of(schema, &rust, &context, &origin)?;
        self.building.pop();
        let mut def = typedef(&rust, schema, origin, Some(name), kind);
        def.doc = schema.str("description").map(str::to_owned);
        self.insert(def)?;
        Ok(rust)
    }

    fn insert(&mut self, mut def: TypeDef) -> Result<(), String> {
        def.order = self.types.len();
        if let Some(existing) = self.types.get(&def.name) {
            return Err(format!(
                "{} and {} would both be the type {}: give one an {} in the overlay",
                existing.origin,
                def.origin,
                def.name,
                ext::RUST_NAME
            ));
        }
        self.types.insert(def.name.clone(), def);
        Ok(())
    }

    /// The kind of a named type made from `schema` (a component, or an inline schema that
    /// needs a name).
    fn kind_of(
        &mut self,
        schema: &Node,
        name: &str,
        context: &str,
        origin: &str,
    ) -> Result<Kind, String> {
        if let Some(values) = enum_values(schema, context)? {
            return Ok(Kind::Enum { values });
        }
        if let Some(branches) = self.union_branches(schema) {
            if is_union(schema, &branches) {
                return self.union(schema, &branches, name, context);
            }
        }
        if let Some(item) = self.envelope(schema, name, context)? {
            return Ok(Kind::Alias(Ty::List(Box::new(item))));
        }
        let merged = self.merged_object(schema, context)?;
        if !merged.properties.is_empty() {
            let fields = self.fields(&merged, name, context, Side::Model, Location::Body)?;
            return Ok(Kind::Struct { fields });
        }
        Ok(Kind::Alias(self.shapeless(schema, name, context, origin)?))
    }

    /// The type of a schema without properties: an array, a map of one value type, any
    /// JSON object, or any JSON value.
    fn shapeless(
        &mut self,
        schema: &Node,
        name: &str,
        context: &str,
        origin: &str,
    ) -> Result<Ty, String> {
        if let Some(items) = schema.get("items") {
            let (item, nullable) =
                self.ty(items, &format!("{name}Item"), context, Side::Model, origin)?;
            return Ok(Ty::Vec(Box::new(if nullable {
                Ty::Option(Box::new(item))
            } else {
                item
            })));
        }
        if let Some(value @ Node::Object(entries)) = schema.get("additionalProperties") {
            if !entries.is_empty() {
                let (value, nullable) =
                    self.ty(value, &format!("{name}Value"), context, Side::Model, origin)?;
                return Ok(Ty::Map(Box::new(if nullable {
                    Ty::Option(Box::new(value))
                } else {
                    value
                })));
            }
        }
        Ok(match schema.str("type") {
            Some("object") => Ty::JsonObject,
            None => Ty::Json,
            Some("string") => Ty::String,
            Some("integer") => integer(schema, Side::Model),
            Some("number") => Ty::F64,
            Some("boolean") => Ty::Bool,
            Some(other) => return Err(format!("{context}: unsupported type {other}")),
        })
    }

    /// The branches of a `oneOf`/`anyOf` that describe values (branches that only add
    /// `required` constraints are not types).
    fn union_branches<'n>(&self, schema: &'n Node) -> Option<Vec<&'n Node>> {
        let list = schema.get("oneOf").or_else(|| schema.get("anyOf"))?;
        let branches: Vec<&Node> = list
            .items()
            .iter()
            .filter(|b| b.entries().any(|(k, _)| k != "required"))
            .collect();
        if branches.is_empty() {
            None
        } else {
            Some(branches)
        }
    }

    fn union(
        &mut self,
        schema: &Node,
        branches: &[&Node],
        name: &str,
        context: &str,
    ) -> Result<Kind, String> {
        let mut types = Vec::new();
        let mut nodes = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            match branch
                .str("$ref")
                .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
            {
                Some(component) => {
                    types.push(self.component(component)?);
                    nodes.push(self.component_node(component)?.clone());
                }
                None => {
                    let hint = format!("{name}{}", i + 1);
                    let origin = format!("branch {} of {context}", i + 1);
                    let kind = self.kind_of(branch, &hint, context, &origin)?;
                    let mut def = typedef(&hint, branch, origin, None, kind);
                    def.doc = branch.str("description").map(str::to_owned);
                    self.insert(def)?;
                    types.push(hint);
                    nodes.push((*branch).clone());
                }
            }
        }
        let variant_names = variant_names(&types);
        let declared = schema
            .get("discriminator")
            .and_then(|d| d.str("propertyName"))
            .map(str::to_owned);
        // Without a declared discriminator, `object` tells the variants apart when each has
        // its own single value for it.
        let discriminator = declared.or_else(|| {
            let tags: Vec<Option<String>> =
                nodes.iter().map(|n| single_value(n, "object")).collect();
            let distinct: BTreeSet<&String> = tags.iter().flatten().collect();
            (tags.iter().all(Option::is_some) && distinct.len() == tags.len())
                .then(|| "object".to_owned())
        });
        let mapping = schema.get("discriminator").and_then(|d| d.get("mapping"));
        let fallback = schema.str(ext::FALLBACK_DISCRIMINATOR).map(str::to_owned);
        let mut variants = Vec::new();
        for ((ty, node), vname) in types.iter().zip(&nodes).zip(variant_names) {
            let mut tags = Vec::new();
            if let Some(prop) = &discriminator {
                let explicit: Vec<String> = mapping
                    .into_iter()
                    .flat_map(Node::entries)
                    .filter(|(_, r)| {
                        r.as_str()
                            .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
                            .and_then(|c| self.components.get(c))
                            == Some(ty)
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                tags = if !explicit.is_empty() {
                    explicit
                } else if let Some(v) = single_value(node, prop) {
                    vec![v]
                } else {
                    return Err(format!(
                        "{context}: variant {ty} has no single value of the discriminator {prop}"
                    ));
                };
            }
            let (mut fallback_values, mut fallback_prefixes) = (Vec::new(), Vec::new());
            if let Some(prop) = &fallback {
                let p = node
                    .get("properties")
                    .and_then(|p| p.get(prop))
                    .ok_or_else(|| format!("{context}: variant {ty} has no property {prop}"))?;
                fallback_values = p.strings("enum");
                if let Some(pattern) = p.str("pattern") {
                    let prefix = literal_prefix(pattern);
                    if prefix.is_empty() {
                        return Err(format!(
                            "{context}: the pattern {pattern:?} of {ty}.{prop} has no literal prefix"
                        ));
                    }
                    fallback_prefixes.push(prefix);
                }
                if fallback_values.is_empty() && fallback_prefixes.is_empty() {
                    return Err(format!(
                        "{context}: {ty}.{prop} has neither enum nor pattern"
                    ));
                }
            }
            variants.push(Variant {
                name: vname,
                ty: ty.clone(),
                tags,
                fallback_values,
                fallback_prefixes,
            });
        }
        Ok(Kind::Union {
            variants,
            discriminator,
            fallback,
        })
    }

    /// `{data: [T], total_count}` (the spec's paginated envelope) or a `oneOf` of a bare
    /// array of T and that envelope: the item type.
    fn envelope(&mut self, schema: &Node, name: &str, context: &str) -> Result<Option<Ty>, String> {
        if let Some(branches) = self.union_branches(schema) {
            let mut items = BTreeSet::new();
            for branch in &branches {
                let resolved = spec::deref(self.doc, branch)?;
                if let Some(item) = self.envelope(resolved, name, context)? {
                    items.insert(item);
                } else if let Some(item) = self.array_item(branch, name, context)? {
                    items.insert(item);
                } else {
                    return Ok(None);
                }
            }
            return Ok(match items.len() {
                1 => items.into_iter().next(),
                _ => None,
            });
        }
        let Some(props) = schema.get("properties") else {
            return Ok(None);
        };
        let keys: BTreeSet<&str> = props.entries().map(|(k, _)| k.as_str()).collect();
        if keys != BTreeSet::from(["data", "total_count"]) {
            return Ok(None);
        }
        let data = props.get("data").ok_or("no data")?;
        self.array_item(data, name, context)
    }

    /// The item type of an array schema: the item of a component that is an array (its alias
    /// `Vec<T>`), or of an array written in place.
    fn array_item(
        &mut self,
        schema: &Node,
        name: &str,
        context: &str,
    ) -> Result<Option<Ty>, String> {
        if let Some(component) = schema
            .str("$ref")
            .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
        {
            let rust = self.component(component)?;
            if let Some(Kind::Alias(Ty::Vec(item) | Ty::List(item))) =
                self.types.get(&rust).map(|d| &d.kind)
            {
                return Ok(Some((**item).clone()));
            }
        }
        let schema = spec::deref(self.doc, schema)?;
        if schema.str("type") != Some("array") {
            return Ok(None);
        }
        let items = schema
            .get("items")
            .ok_or_else(|| format!("{context}: an array without items"))?;
        let (item, _) = self.ty(items, &format!("{name}Item"), context, Side::Model, context)?;
        Ok(Some(item))
    }

    /// The properties and required list of an object, `allOf` parts merged in.
    fn merged_object(&mut self, schema: &Node, context: &str) -> Result<Merged, String> {
        let mut merged = Merged::default();
        if let Some(parts) = schema.get("allOf") {
            for part in parts.items() {
                let part = spec::deref(self.doc, part)?.clone();
                let inner = self.merged_object(&part, context)?;
                merged.absorb(inner);
            }
        }
        for (k, v) in schema.get("properties").into_iter().flat_map(Node::entries) {
            match merged.properties.iter_mut().find(|(n, _)| n == k) {
                Some((_, existing)) => *existing = v.clone(),
                None => merged.properties.push((k.clone(), v.clone())),
            }
        }
        for r in schema.strings("required") {
            if !merged.required.contains(&r) {
                merged.required.push(r);
            }
        }
        for p in schema.strings(ext::PRESENT) {
            merged.present.insert(p);
        }
        for name in merged.required.iter().chain(&merged.present) {
            if !merged.properties.iter().any(|(k, _)| k == name) && schema.get("anyOf").is_none() {
                // `required` naming a property the object does not have.
                return Err(format!(
                    "{context}: `{name}` is required but not a property"
                ));
            }
        }
        Ok(merged)
    }

    fn fields(
        &mut self,
        merged: &Merged,
        parent: &str,
        context: &str,
        side: Side,
        location: Location,
    ) -> Result<Vec<Field>, String> {
        self.fields_of(merged, parent, context, side, location, false)
    }

    /// [`fields`](Self::fields) of a request type (`of_request`) or a model.
    fn fields_of(
        &mut self,
        merged: &Merged,
        parent: &str,
        context: &str,
        side: Side,
        location: Location,
        of_request: bool,
    ) -> Result<Vec<Field>, String> {
        let mut fields = Vec::new();
        for (wire, schema) in &merged.properties {
            let rust = schema
                .str(ext::RUST_NAME)
                .filter(|_| !is_type_schema(schema))
                .map(str::to_owned)
                .unwrap_or_else(|| names::snake(wire));
            let hint = format!("{parent}{}", names::type_name(wire));
            let origin = format!(
                "the `{wire}` of {}",
                link(
                    parent,
                    if of_request {
                        Location::Query
                    } else {
                        Location::Body
                    }
                )
            );
            let (ty, nullable) =
                self.ty(schema, &hint, &format!("{context}.{wire}"), side, &origin)?;
            let resolved = spec::deref(self.doc, schema)?;
            fields.push(Field {
                wire: wire.clone(),
                rust,
                ty,
                required: merged.required.contains(wire),
                nullable,
                present: merged.present.contains(wire),
                doc: resolved.str("description").map(str::to_owned),
                deprecated: resolved.flag("deprecated"),
                checks: checks(resolved, side),
                location,
                explode: true,
                default: resolved.get("default").map(Node::to_string),
                sample: sample_hint(self.doc, resolved),
            });
        }
        let mut seen = BTreeSet::new();
        for f in &fields {
            if !seen.insert(&f.rust) {
                return Err(format!(
                    "{context}: two properties would both be the field {}: give one an {}",
                    f.rust,
                    ext::RUST_NAME
                ));
            }
        }
        Ok(fields)
    }

    /// The type of a value, and whether it is nullable. Inline objects, enums and unions get
    /// a type named `hint`.
    fn ty(
        &mut self,
        schema: &Node,
        hint: &str,
        context: &str,
        side: Side,
        origin: &str,
    ) -> Result<(Ty, bool), String> {
        let nullable = schema.flag("nullable");
        if let Some(reference) = schema.str("$ref") {
            if let Some(component) = reference.strip_prefix(SCHEMA_PREFIX) {
                let rust = self.component(component)?;
                let target = self.component_node(component)?;
                let nullable = nullable || target.flag("nullable");
                // Aliases of lists are written as what they are.
                if let Some(TypeDef {
                    kind: Kind::Alias(ty @ Ty::List(_)),
                    ..
                }) = self.types.get(&rust)
                {
                    return Ok((ty.clone(), nullable));
                }
                return Ok((Ty::Named(rust), nullable));
            }
            let target = spec::pointer(self.doc, reference)?.clone();
            let (ty, n) = self.ty(&target, hint, context, side, origin)?;
            return Ok((ty, n || nullable));
        }
        let hint = schema.str(ext::RUST_NAME).unwrap_or(hint).to_owned();
        // A single `allOf`/`oneOf` around a ref (the spec's way to add nullable or a
        // description to a ref) is that ref.
        for key in ["allOf", "oneOf", "anyOf"] {
            if let Some(list) = schema.get(key) {
                let real: Vec<&Node> = list
                    .items()
                    .iter()
                    .filter(|b| b.entries().any(|(k, _)| k != "required"))
                    .collect();
                if real.len() == 1
                    && schema.get("properties").is_none()
                    && schema.get("discriminator").is_none()
                {
                    let (ty, n) = self.ty(real[0], &hint, context, side, origin)?;
                    return Ok((ty, n || nullable));
                }
            }
        }
        if let Some(values) = enum_values(schema, context)? {
            return Ok((
                Ty::Named(self.enum_type(&hint, values, schema, origin)?),
                nullable,
            ));
        }
        if self
            .union_branches(schema)
            .is_some_and(|b| is_union(schema, &b))
        {
            if let Some(item) = self.envelope(schema, &hint, context)? {
                return Ok((Ty::List(Box::new(item)), nullable));
            }
            let kind = self.kind_of(schema, &hint, context, origin)?;
            self.named(&hint, schema, origin, kind)?;
            return Ok((Ty::Named(hint), nullable));
        }
        let ty = match schema.str("type") {
            Some("string") => match schema.str("format") {
                Some("binary") => Ty::File,
                _ => Ty::String,
            },
            Some("integer") => integer(schema, side),
            Some("number") => Ty::F64,
            Some("boolean") => Ty::Bool,
            Some("array") => {
                let items = schema
                    .get("items")
                    .ok_or_else(|| format!("{context}: an array without items"))?;
                let (item, item_nullable) = self.ty(items, &hint, context, side, origin)?;
                let item = if item_nullable {
                    Ty::Option(Box::new(item))
                } else {
                    item
                };
                Ty::Vec(Box::new(item))
            }
            Some("object") | None => {
                if let Some(item) = self.envelope(schema, &hint, context)? {
                    Ty::List(Box::new(item))
                } else if !self.merged_object(schema, context)?.properties.is_empty() {
                    let kind = self.kind_of(schema, &hint, context, origin)?;
                    self.named(&hint, schema, origin, kind)?;
                    Ty::Named(hint.clone())
                } else {
                    self.shapeless(schema, &hint, context, origin)?
                }
            }
            Some(other) => return Err(format!("{context}: unsupported type {other}")),
        };
        Ok((ty, nullable))
    }

    fn named(&mut self, name: &str, schema: &Node, origin: &str, kind: Kind) -> Result<(), String> {
        let mut def = typedef(name, schema, origin.to_owned(), None, kind);
        def.doc = schema.str("description").map(str::to_owned);
        self.insert(def)
    }

    /// The open enum for `values`: one type per set of values, named after its first use
    /// (or as the overlay names it).
    fn enum_type(
        &mut self,
        hint: &str,
        values: Vec<String>,
        schema: &Node,
        origin: &str,
    ) -> Result<String, String> {
        let mut key = values.clone();
        key.sort();
        if let Some(name) = self.enums.get(&key).cloned() {
            match self.types.get_mut(&name) {
                Some(def) => {
                    def.users.push(origin.to_owned());
                    return Ok(name);
                }
                None => {
                    // Named by the overlay, used here first.
                    let mut def = typedef(
                        &name,
                        schema,
                        origin.to_owned(),
                        None,
                        Kind::Enum { values },
                    );
                    def.doc = schema.str("description").map(str::to_owned);
                    def.users.push(origin.to_owned());
                    self.insert(def)?;
                    return Ok(name);
                }
            }
        }
        let mut def = typedef(hint, schema, origin.to_owned(), None, Kind::Enum { values });
        def.doc = schema.str("description").map(str::to_owned);
        def.users.push(origin.to_owned());
        self.insert(def)?;
        self.enums.insert(key, hint.to_owned());
        Ok(hint.to_owned())
    }

    fn operation(
        &mut self,
        path: &str,
        item: &Node,
        method: &str,
        op: &Node,
    ) -> Result<Op, String> {
        let id = op
            .str("operationId")
            .ok_or_else(|| format!("{method} {path}: no operationId"))?
            .to_owned();
        let context = format!("operation {id}");
        let group = op
            .str("x-speakeasy-group")
            .ok_or_else(|| format!("{context}: no x-speakeasy-group (add one in the overlay)"))?;
        let name = op.str("x-speakeasy-name-override").ok_or_else(|| {
            format!("{context}: no x-speakeasy-name-override (add one in the overlay)")
        })?;
        let type_name = op
            .str(ext::RUST_NAME)
            .map(str::to_owned)
            .unwrap_or_else(|| names::type_name(&id));

        // Parameters: the path item's, then the operation's (which override by name and
        // location).
        let mut raw: Vec<Node> = Vec::new();
        for list in [item.get("parameters"), op.get("parameters")]
            .into_iter()
            .flatten()
        {
            for p in list.items() {
                let p = spec::deref(self.doc, p)?.clone();
                raw.retain(|q| !(q.str("name") == p.str("name") && q.str("in") == p.str("in")));
                raw.push(p);
            }
        }
        let mut params = Vec::new();
        for p in &raw {
            let wire = p
                .str("name")
                .ok_or_else(|| format!("{context}: a parameter without a name"))?;
            let location = match p.str("in") {
                Some("path") => Location::Path,
                Some("query") => Location::Query,
                other => {
                    return Err(format!(
                        "{context}: parameter {wire} in {other:?} is not supported"
                    ))
                }
            };
            let schema = p
                .get("schema")
                .ok_or_else(|| format!("{context}: {wire} has no schema"))?;
            let hint = format!("{type_name}{}", names::type_name(wire));
            let origin =
                format!("the `{wire}` parameter of [`{type_name}`](crate::api::{type_name})");
            let (ty, _) = self.ty(
                schema,
                &hint,
                &format!("{context}.{wire}"),
                Side::Request,
                &origin,
            )?;
            let schema = spec::deref(self.doc, schema)?;
            let mut checks = checks(schema, Side::Request);
            checks.not_blank = p.flag(ext::NOT_BLANK) || schema.flag(ext::NOT_BLANK);
            params.push(Field {
                wire: wire.to_owned(),
                rust: p
                    .str(ext::RUST_NAME)
                    .map(str::to_owned)
                    .unwrap_or_else(|| names::snake(wire)),
                ty,
                required: location == Location::Path || p.flag("required"),
                // A query string cannot send `null`: a nullable parameter is an optional one.
                nullable: false,
                present: false,
                doc: p
                    .str("description")
                    .or_else(|| schema.str("description"))
                    .map(str::to_owned),
                deprecated: p.flag("deprecated"),
                checks,
                location,
                explode: !matches!(p.get("explode"), Some(Node::Bool(false))),
                default: schema.get("default").map(Node::to_string),
                sample: sample_hint(self.doc, schema),
            });
        }

        let body = self.body(op, &type_name, &context)?;
        let (output, list_item) = self.output(op, &type_name, &context)?;

        let mut names_seen = BTreeSet::new();
        for f in params.iter().chain(match &body {
            Body::Json { fields } | Body::Multipart { fields } => fields.iter(),
            _ => [].iter(),
        }) {
            if !names_seen.insert(f.rust.clone()) {
                return Err(format!(
                    "{context}: a parameter and a body property are both `{}`",
                    f.rust
                ));
            }
        }

        let pagination = pagination(op, &params, list_item.is_some(), &context)?;
        Ok(Op {
            id,
            type_name,
            group: group.to_owned(),
            method: names::snake(name),
            http: method.to_owned(),
            path: path.to_owned(),
            summary: op.str("summary").map(str::to_owned),
            description: op.str("description").map(str::to_owned),
            deprecated: op.flag("deprecated"),
            tags: op.strings("tags"),
            feature: String::new(),
            params,
            body,
            output,
            idempotent: match op.get(ext::IDEMPOTENT) {
                Some(Node::Bool(b)) => Some(*b),
                None => None,
                Some(other) => {
                    return Err(format!(
                        "{context}: {} must be a boolean, not {other}",
                        ext::IDEMPOTENT
                    ))
                }
            },
            pagination,
            client_method: op.str(ext::CLIENT_METHOD).map(str::to_owned),
            list_item,
        })
    }

    fn body(&mut self, op: &Node, type_name: &str, context: &str) -> Result<Body, String> {
        let Some(body) = op.get("requestBody") else {
            return Ok(Body::None);
        };
        let body = spec::deref(self.doc, body)?.clone();
        let content = body
            .get("content")
            .ok_or_else(|| format!("{context}: a body without content"))?;
        let entries: Vec<_> = content.entries().collect();
        let [(media, media_object)] = entries[..] else {
            return Err(format!(
                "{context}: a body with {} media types",
                entries.len()
            ));
        };
        let schema = media_object
            .get("schema")
            .ok_or_else(|| format!("{context}: a body without a schema"))?;
        let required = body.flag("required");
        match media.as_str() {
            "application/json" => {
                let is_component = schema.str("$ref").is_some();
                let resolved = spec::deref(self.doc, schema)?.clone();
                let merged = self.merged_object(&resolved, context)?;
                if !is_component && !merged.properties.is_empty() {
                    let fields = self.fields_of(
                        &merged,
                        type_name,
                        context,
                        Side::Request,
                        Location::Body,
                        true,
                    )?;
                    return Ok(Body::Json { fields });
                }
                let hint = format!("{type_name}Item");
                let origin = format!("the body of [`{type_name}`](crate::api::{type_name})");
                let (ty, nullable) = self.ty(schema, &hint, context, Side::Request, &origin)?;
                let rust = match ty {
                    Ty::Vec(_) => "items",
                    _ => "body",
                };
                Ok(Body::Value {
                    field: Box::new(Field {
                        wire: String::new(),
                        rust: rust.to_owned(),
                        ty,
                        required: true,
                        nullable,
                        present: false,
                        doc: body
                            .str("description")
                            .or_else(|| resolved.str("description"))
                            .map(str::to_owned),
                        deprecated: false,
                        checks: Checks::default(),
                        location: Location::Body,
                        explode: true,
                        default: None,
                        sample: sample_hint(self.doc, &resolved),
                    }),
                })
            }
            "multipart/form-data" => {
                let resolved = spec::deref(self.doc, schema)?.clone();
                let merged = self.merged_object(&resolved, context)?;
                let mut fields = self.fields_of(
                    &merged,
                    type_name,
                    context,
                    Side::Request,
                    Location::Body,
                    true,
                )?;
                for f in &mut fields {
                    if !matches!(f.ty, Ty::File | Ty::String) {
                        return Err(format!(
                            "{context}: multipart field {} is neither text nor a file",
                            f.wire
                        ));
                    }
                    // A form cannot send nothing for a file it requires: the spec's optional
                    // file of a logo upload is the upload itself.
                    if f.ty == Ty::File {
                        f.required = true;
                    }
                }
                let _ = required;
                Ok(Body::Multipart { fields })
            }
            other => Err(format!("{context}: unsupported body media type {other}")),
        }
    }

    fn output(
        &mut self,
        op: &Node,
        type_name: &str,
        context: &str,
    ) -> Result<(Output, Option<Ty>), String> {
        let responses = op
            .get("responses")
            .ok_or_else(|| format!("{context}: no responses"))?;
        let mut success: Vec<(&str, &Node)> = responses
            .entries()
            .filter(|(code, _)| code.starts_with('2'))
            .map(|(c, r)| (c.as_str(), r))
            .collect();
        success.sort_by_key(|(c, _)| *c);
        if success.is_empty() {
            return Err(format!("{context}: no 2xx response"));
        }
        for (_, response) in &success {
            let (name_hint, resolved) = match response.str("$ref") {
                Some(r) => (
                    r.rsplit('/')
                        .next()
                        .map(names::type_name)
                        .unwrap_or_default(),
                    spec::deref(self.doc, response)?.clone(),
                ),
                None => (format!("{type_name}Response"), (*response).clone()),
            };
            let Some(content) = resolved.get("content") else {
                continue;
            };
            if let Some(json) = content.get("application/json") {
                let schema = json
                    .get("schema")
                    .ok_or_else(|| format!("{context}: JSON response without schema"))?;
                let origin = format!("the response of [`{type_name}`](crate::api::{type_name})");
                let hint = if self.types.contains_key(&name_hint) || name_hint.is_empty() {
                    format!("{type_name}Response")
                } else {
                    name_hint
                };
                let (ty, _) = self.ty(schema, &hint, context, Side::Model, &origin)?;
                // A bare array, written inline or as a component alias, is a `List`.
                let ty = match ty {
                    Ty::Vec(item) => Ty::List(item),
                    Ty::Named(n) => match self.types.get(&n).map(|d| &d.kind) {
                        Some(Kind::Alias(Ty::Vec(item))) => Ty::List(item.clone()),
                        _ => Ty::Named(n),
                    },
                    other => other,
                };
                let item = match &ty {
                    Ty::List(item) => Some((**item).clone()),
                    _ => None,
                };
                return Ok((Output::Json(ty), item));
            }
            if content
                .entries()
                .any(|(media, _)| media.starts_with("text/"))
            {
                return Ok((Output::Text, None));
            }
            return Err(format!(
                "{context}: unsupported response media types {:?}",
                content.entries().map(|(k, _)| k).collect::<Vec<_>>()
            ));
        }
        Ok((Output::Unit, None))
    }
}

#[derive(Default)]
struct Merged {
    properties: Vec<(String, Node)>,
    required: Vec<String>,
    present: BTreeSet<String>,
}

impl Merged {
    fn absorb(&mut self, other: Merged) {
        for (k, v) in other.properties {
            match self.properties.iter_mut().find(|(n, _)| *n == k) {
                Some((_, existing)) => *existing = v,
                None => self.properties.push((k, v)),
            }
        }
        for r in other.required {
            if !self.required.contains(&r) {
                self.required.push(r);
            }
        }
        self.present.extend(other.present);
    }
}

fn typedef(
    name: &str,
    schema: &Node,
    origin: String,
    component: Option<&str>,
    kind: Kind,
) -> TypeDef {
    TypeDef {
        name: name.to_owned(),
        doc: None,
        origin,
        schema: component.map(str::to_owned),
        kind,
        deprecated: schema.flag("deprecated"),
        users: Vec::new(),
        order: 0,
        features: BTreeSet::new(),
        request: false,
        response: false,
        eq: true,
        default: true,
        identified: false,
    }
}

/// Whether an `x-rust-name` on this schema names a type (inline object or enum) rather than
/// the field holding it.
fn is_type_schema(schema: &Node) -> bool {
    schema.get("enum").is_some() || schema.get("properties").is_some()
}

/// An intra-doc link to a request type (`location` is where its fields go) or a model.
fn link(name: &str, location: Location) -> String {
    match location {
        // Fields of a request: the parent is the request type.
        Location::Path | Location::Query => format!("[`{name}`](crate::api::{name})"),
        Location::Body => format!("[`{name}`](crate::models::{name})"),
    }
}

/// The string values of an enum schema, checked to be variant names that do not collide.
fn enum_values(schema: &Node, context: &str) -> Result<Option<Vec<String>>, String> {
    let Some(values) = schema.get("enum") else {
        return Ok(None);
    };
    // An enum of booleans or numbers (`enum: [false]`) only narrows its type: the value
    // keeps its plain type.
    if schema.str("type").is_some_and(|t| t != "string") {
        return Ok(None);
    }
    let mut out = Vec::new();
    for v in values.items() {
        match v {
            Node::String(s) => {
                if !out.contains(s) {
                    out.push(s.clone());
                }
            }
            // `nullable` enums list null among their values.
            Node::Null => {}
            other => return Err(format!("{context}: enum value {other} of a string enum")),
        }
    }
    let mut seen = BTreeMap::new();
    for v in &out {
        if let Some(other) = seen.insert(names::variant(v), v) {
            return Err(format!(
                "{context}: enum values {other:?} and {v:?} would be the same variant"
            ));
        }
    }
    Ok(Some(out))
}

/// Whether a `oneOf`/`anyOf` is a type of its own: several branches, or a discriminator (one
/// known variant today, more tomorrow).
fn is_union(schema: &Node, branches: &[&Node]) -> bool {
    branches.len() > 1 || schema.get("discriminator").is_some()
}

/// The single enum value of `property` in an object schema.
fn single_value(node: &Node, property: &str) -> Option<String> {
    let values = node.get("properties")?.get(property)?.strings("enum");
    match values.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// The literal text a regular expression anchored with `^` starts with.
fn literal_prefix(pattern: &str) -> String {
    pattern
        .strip_prefix('^')
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// Variant names: the type names without the words they all start with
/// (`VerificationOtp`, `VerificationAdmin` → `Otp`, `Admin`).
fn variant_names(types: &[String]) -> Vec<String> {
    let words: Vec<Vec<String>> = types.iter().map(|t| camel_words(t)).collect();
    let mut common = 0;
    // Keep at least one word of every name.
    while let Some(word) = words.first().and_then(|w| w.get(common)) {
        if !words
            .iter()
            .all(|w| w.get(common) == Some(word) && w.len() > common + 1)
        {
            break;
        }
        common += 1;
    }
    let out: Vec<String> = words.iter().map(|w| w[common..].concat()).collect();
    let distinct: BTreeSet<&String> = out.iter().collect();
    if distinct.len() == out.len() {
        out
    } else {
        types.to_vec()
    }
}

fn camel_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() || words.is_empty() {
            words.push(String::new());
        }
        if let Some(w) = words.last_mut() {
            w.push(c);
        }
    }
    words
}

fn integer(schema: &Node, side: Side) -> Ty {
    let format = schema.str("format");
    let min = schema.get("minimum").and_then(Node::as_f64);
    let max = schema.get("maximum").and_then(Node::as_f64);
    match (side, format) {
        (Side::Model, Some("int32")) => Ty::I32,
        (Side::Model, _) => Ty::I64,
        (Side::Request, _) if min.is_some_and(|m| m >= 0.0) => {
            if max.is_some_and(|m| m <= f64::from(u32::MAX)) || format == Some("int32") {
                Ty::U32
            } else {
                Ty::U64
            }
        }
        (Side::Request, Some("int32")) => Ty::I32,
        (Side::Request, _) => Ty::I64,
    }
}

fn checks(schema: &Node, side: Side) -> Checks {
    if side == Side::Model {
        return Checks::default();
    }
    let mut c = Checks {
        minimum: schema.get("minimum").and_then(Node::as_f64),
        maximum: schema.get("maximum").and_then(Node::as_f64),
        min_length: schema
            .get("minLength")
            .and_then(Node::as_i64)
            .and_then(|n| u64::try_from(n).ok()),
        max_length: schema
            .get("maxLength")
            .and_then(Node::as_i64)
            .and_then(|n| u64::try_from(n).ok()),
        not_blank: schema.flag(ext::NOT_BLANK),
    };
    // Clerk's backend reads integers as int64: an unsigned value past i64::MAX is refused.
    if schema.str("type") == Some("integer")
        && c.minimum.is_some_and(|m| m >= 0.0)
        && c.maximum.is_none()
        && schema.str("format") != Some("int32")
    {
        c.maximum = Some(i64::MAX as f64);
    }
    c
}

fn pagination(
    op: &Node,
    params: &[Field],
    is_list: bool,
    context: &str,
) -> Result<Option<Pagination>, String> {
    let query = |name: &str| {
        params
            .iter()
            .find(|p| p.wire == name && p.location == Location::Query)
    };
    let Some(limit) = query("limit") else {
        return Ok(None);
    };
    if !is_list {
        return Ok(None);
    }
    if !matches!(limit.ty, Ty::U32 | Ty::U64) {
        return Err(format!(
            "{context}: `limit` is not an unsigned integer ({:?})",
            limit.ty
        ));
    }
    let max = limit
        .checks
        .maximum
        .map_or(DEFAULT_MAX_PAGE, |m| m as u64)
        .min(u64::from(u32::MAX));
    if let Some(cursor) = op.get(ext::PAGINATION) {
        let field = |key: &str| {
            cursor
                .str(key)
                .ok_or_else(|| format!("{context}: {} needs `{key}`", ext::PAGINATION))
        };
        let cursor_param = field("cursor")?;
        let order_by = field("order-by")?;
        for name in [cursor_param, order_by] {
            if query(name).is_none() {
                return Err(format!(
                    "{context}: {} names {name}, which is not a query parameter",
                    ext::PAGINATION
                ));
            }
        }
        return Ok(Some(Pagination::Cursor {
            max,
            cursor: names::snake(cursor_param),
            order_by: names::snake(order_by),
            orderings: cursor.strings("orderings"),
        }));
    }
    if query("offset").is_none() {
        return Ok(None);
    }
    Ok(Some(Pagination::Offset {
        max,
        paginated_flag: query("paginated").is_some_and(|p| p.ty == Ty::Bool),
    }))
}

/// Computes, for every type, the features that need it, whether requests and responses use
/// it, and the derives it can have.
fn analyse(api: &mut Api) -> Result<(), String> {
    // Which types each operation reaches, and on which side.
    let mut reach: Vec<(String, String, bool)> = Vec::new(); // (type, feature, request?)
    for op in &api.ops {
        let mut request = BTreeSet::new();
        for f in op.fields() {
            f.ty.names(&mut request);
        }
        let mut response = BTreeSet::new();
        if let Output::Json(ty) = &op.output {
            ty.names(&mut response);
        }
        for name in request {
            reach.push((name, op.feature.clone(), true));
        }
        for name in response {
            reach.push((name, op.feature.clone(), false));
        }
    }
    let mut stack = reach;
    let mut visited: BTreeSet<(String, String, bool)> = BTreeSet::new();
    while let Some((name, feature, request)) = stack.pop() {
        if !visited.insert((name.clone(), feature.clone(), request)) {
            continue;
        }
        let def = api
            .types
            .get_mut(&name)
            .ok_or_else(|| format!("unknown type {name}"))?;
        def.features.insert(feature.clone());
        if request {
            def.request = true;
        } else {
            def.response = true;
        }
        let mut next = BTreeSet::new();
        children(&def.kind, &mut next);
        for child in next {
            stack.push((child, feature.clone(), request));
        }
    }

    // Types no operation reaches (component schemas that are list envelopes, or only ever
    // flattened) are compiled when every type they mention is: the intersection of those
    // types' features. A type that mentions none is always compiled.
    loop {
        let mut changed = false;
        let names: Vec<String> = api.types.keys().cloned().collect();
        for name in &names {
            let Some(def) = api.types.get(name) else {
                continue;
            };
            if !def.features.is_empty() || def.response || def.request {
                continue;
            }
            let mut kids = BTreeSet::new();
            children(&def.kind, &mut kids);
            let mut features: Option<BTreeSet<String>> = None;
            for kid in &kids {
                let kf = api
                    .types
                    .get(kid)
                    .map(|d| d.features.clone())
                    .unwrap_or_default();
                if kf.is_empty() {
                    continue;
                }
                features = Some(match features {
                    None => kf,
                    Some(f) => f.intersection(&kf).cloned().collect(),
                });
            }
            if let Some(f) = features.filter(|f| !f.is_empty()) {
                if let Some(def) = api.types.get_mut(name) {
                    def.features = f;
                    def.response = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }

    // Derives: `Eq` unless a float is inside; `Default` unless a union without... (all have
    // one). Cycles would need a `Box`: refuse them.
    let names: Vec<String> = api.types.keys().cloned().collect();
    let mut eq_memo: BTreeMap<String, bool> = BTreeMap::new();
    for name in &names {
        let eq = is_eq(api, name, &mut Vec::new(), &mut eq_memo)?;
        if let Some(def) = api.types.get_mut(name) {
            def.eq = eq;
        }
    }
    let mut default_memo: BTreeMap<String, bool> = BTreeMap::new();
    for name in &names {
        let default = is_default(api, name, &mut default_memo);
        if let Some(def) = api.types.get_mut(name) {
            def.default = default;
        }
    }
    for name in &names {
        let identified = match api.types.get(name).map(|d| &d.kind) {
            Some(Kind::Struct { fields }) => fields
                .iter()
                .any(|f| f.rust == "id" && f.ty == Ty::String && f.plain_in_model()),
            _ => false,
        };
        if let Some(def) = api.types.get_mut(name) {
            def.identified = identified;
        }
    }
    // A list is walked page by page only when its items have ids.
    for op in &mut api.ops {
        if let (Some(_), Some(Ty::Named(item))) = (&op.pagination, &op.list_item) {
            if !api
                .types
                .get(item)
                .is_some_and(|d| d.identified || matches!(d.kind, Kind::HandWritten { .. }))
            {
                op.pagination = None;
            }
        } else if op.pagination.is_some() {
            op.pagination = None;
        }
    }
    Ok(())
}

/// Whether a type can derive (or has) `Default`: every plain field's type has one. Unions and
/// enums default to their unknown value (or their single value).
fn is_default(api: &Api, name: &str, memo: &mut BTreeMap<String, bool>) -> bool {
    if let Some(d) = memo.get(name) {
        return *d;
    }
    // Cycles are refused by `is_eq` before this runs.
    let d = match api.types.get(name).map(|d| &d.kind) {
        Some(Kind::Struct { fields }) => fields
            .iter()
            .filter(|f| f.plain_in_model())
            .all(|f| ty_default(api, &f.ty, memo)),
        Some(Kind::Alias(ty)) => ty_default(api, ty, memo),
        Some(Kind::Enum { .. } | Kind::Union { .. }) => true,
        // `ClerkError` and `ClerkErrors` have required fields and no default.
        Some(Kind::HandWritten { path }) => !path.contains("ClerkError"),
        None => false,
    };
    memo.insert(name.to_owned(), d);
    d
}

fn ty_default(api: &Api, ty: &Ty, memo: &mut BTreeMap<String, bool>) -> bool {
    match ty {
        Ty::Named(n) => is_default(api, n, memo),
        Ty::File => false,
        _ => true,
    }
}

fn children(kind: &Kind, out: &mut BTreeSet<String>) {
    match kind {
        Kind::Struct { fields } => {
            for f in fields {
                f.ty.names(out);
            }
        }
        Kind::Union { variants, .. } => {
            for v in variants {
                out.insert(v.ty.clone());
            }
        }
        Kind::Alias(ty) => ty.names(out),
        Kind::Enum { .. } | Kind::HandWritten { .. } => {}
    }
}

fn is_eq(
    api: &Api,
    name: &str,
    path: &mut Vec<String>,
    memo: &mut BTreeMap<String, bool>,
) -> Result<bool, String> {
    if let Some(eq) = memo.get(name) {
        return Ok(*eq);
    }
    if path.iter().any(|p| p == name) {
        return Err(format!(
            "the types {} refer to each other: a cycle needs a Box, which the generator does not make",
            path.join(" → ")
        ));
    }
    let def = api
        .types
        .get(name)
        .ok_or_else(|| format!("unknown type {name}"))?;
    path.push(name.to_owned());
    let eq = match &def.kind {
        Kind::Struct { fields } => {
            let mut eq = true;
            for f in fields {
                eq &= ty_eq(api, &f.ty, path, memo)?;
            }
            eq
        }
        Kind::Union { variants, .. } => {
            let mut eq = true;
            for v in variants {
                eq &= is_eq(api, &v.ty, path, memo)?;
            }
            eq
        }
        Kind::Alias(ty) => ty_eq(api, ty, path, memo)?,
        Kind::Enum { .. } => true,
        // Hand-written types say it themselves; the ones there are derive `Eq` except errors.
        Kind::HandWritten { path: p } => !p.contains("ClerkError"),
    };
    path.pop();
    memo.insert(name.to_owned(), eq);
    Ok(eq)
}

fn ty_eq(
    api: &Api,
    ty: &Ty,
    path: &mut Vec<String>,
    memo: &mut BTreeMap<String, bool>,
) -> Result<bool, String> {
    Ok(match ty {
        Ty::F64 => false,
        Ty::Named(n) => is_eq(api, n, path, memo)?,
        Ty::Map(t) | Ty::Vec(t) | Ty::List(t) | Ty::Option(t) => ty_eq(api, t, path, memo)?,
        _ => true,
    })
}
