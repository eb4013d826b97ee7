//! The shape every Clerk operation has: metadata, a path template, a typed query, a body with
//! its media type, and a typed output.
//!
//! An operation is a type implementing [`Operation`]. Building the HTTP request from it is
//! written once, here: [`Operation::validate`] runs first (the spec's limits, before any
//! I/O), then the path template is filled from [`Operation::path`], the query written by
//! [`Operation::query`], and the body taken from [`Operation::body`] with its own
//! `Content-Type`. The response is decoded by the output type's [`Decode`]: JSON (an empty
//! body reads as `null`, so `()` fits a 204), or [`Text`].
//!
//! A fourth operation needs nothing but its request type, its metadata and its output type:
//!
//! ```
//! use clerk_tower::operation::{Operation, OperationInfo, PathParams, QueryWriter};
//! use clerk_tower::Error;
//!
//! /// `GET /blocklist_identifiers/{identifier_id}`, an operation this example invents.
//! struct GetBlocklistIdentifier {
//!     identifier_id: String,
//!     expand: Vec<String>,
//! }
//!
//! impl Operation for GetBlocklistIdentifier {
//!     type Output = serde_json::Value;
//!     const INFO: OperationInfo =
//!         OperationInfo::get("GetBlocklistIdentifier", "/blocklist_identifiers/{identifier_id}");
//!
//!     fn path<'a>(&'a self, path: &mut PathParams<'a>) -> Result<(), Error> {
//!         path.set("identifier_id", &self.identifier_id)
//!     }
//!
//!     fn query(&self, query: &mut QueryWriter) {
//!         query.joined("expand", &self.expand);
//!     }
//! }
//!
//! # async fn demo(client: clerk_tower::Client) -> Result<(), clerk_tower::Error> {
//! let op = GetBlocklistIdentifier { identifier_id: "blid_1".into(), expand: vec![] };
//! let found = client.call(op).await?;
//! # Ok(()) }
//! ```

use std::fmt::{self, Display};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method};
use http_body_util::Full;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Attempted, DecodeError};
use crate::http::AttemptCount;
use crate::layer::BaseUrlLayer;
use crate::{Error, HttpRequest, HttpResponse, RequestOptions};

/// What every request of an operation carries in its extensions: which operation it is, and
/// whether repeating it is safe.
///
/// Layers can key on it: a metrics layer on [`path_template`](Self::path_template) (low
/// cardinality, no ids), the retry policy on [`idempotent`](Self::idempotent).
///
/// ```
/// use clerk_tower::{HttpRequest, OperationInfo};
///
/// fn metric_key(req: &HttpRequest) -> &'static str {
///     req.extensions().get::<OperationInfo>().map_or("unknown", |op| op.path_template)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OperationInfo {
    /// The spec's `operationId`, e.g. `"DeleteAllowlistIdentifier"`.
    pub id: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The path relative to the API root, with its parameters in braces:
    /// `"/allowlist_identifiers/{identifier_id}"`.
    pub path_template: &'static str,
    /// Whether sending the request twice has the same effect as sending it once: GET, PUT and
    /// DELETE are, POST and PATCH are not, unless the operation says otherwise.
    pub idempotent: bool,
}

impl OperationInfo {
    /// Metadata for an operation with the given idempotency.
    pub const fn new(
        id: &'static str,
        method: Method,
        path_template: &'static str,
        idempotent: bool,
    ) -> Self {
        Self {
            id,
            method,
            path_template,
            idempotent,
        }
    }

    /// A `GET` operation (idempotent).
    pub const fn get(id: &'static str, path_template: &'static str) -> Self {
        Self::new(id, Method::GET, path_template, true)
    }

    /// A `DELETE` operation (idempotent).
    pub const fn delete(id: &'static str, path_template: &'static str) -> Self {
        Self::new(id, Method::DELETE, path_template, true)
    }

    /// A `PUT` operation (idempotent).
    pub const fn put(id: &'static str, path_template: &'static str) -> Self {
        Self::new(id, Method::PUT, path_template, true)
    }

    /// A `POST` operation (not idempotent; see [`idempotent`](Self::idempotent)).
    pub const fn post(id: &'static str, path_template: &'static str) -> Self {
        Self::new(id, Method::POST, path_template, false)
    }

    /// A `PATCH` operation (not idempotent).
    pub const fn patch(id: &'static str, path_template: &'static str) -> Self {
        Self::new(id, Method::PATCH, path_template, false)
    }

    /// Overrides the idempotency the method implies (a POST that is safe to repeat, for
    /// example).
    pub const fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }
}

/// One operation of the Clerk Backend API; see the [module docs](self).
pub trait Operation: Send + Sized + 'static {
    /// What a 2xx response decodes into.
    type Output: Decode;

    /// The operation's metadata.
    const INFO: OperationInfo;

    /// Checks the arguments against the spec's limits (minimum, maximum, length, enum) before
    /// any I/O.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] naming the field.
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Gives the value of each parameter of [`OperationInfo::path_template`]. The default
    /// gives none, for a template without parameters.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a value that cannot be a path segment (see
    /// [`PathParams::set`]).
    fn path<'a>(&'a self, _path: &mut PathParams<'a>) -> Result<(), Error> {
        Ok(())
    }

    /// Writes the query parameters that are set.
    fn query(&self, _query: &mut QueryWriter) {}

    /// The request body and its media type.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when the body cannot be built.
    fn body(&self) -> Result<RequestBody, Error> {
        Ok(RequestBody::Empty)
    }

    /// Builds the HTTP request: validation, path, query, body and its `Content-Type`, and the
    /// [`OperationInfo`] / [`RequestOptions`] extensions. The path is relative to the API root
    /// (what [`Client::http_service`](crate::Client::http_service) takes). Implementations
    /// keep this provided method.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] from validation, a path parameter, or the body; no I/O
    /// happens.
    fn to_request(&self, options: Option<RequestOptions>) -> Result<HttpRequest, Error> {
        to_request(self, options)
    }
}

/// The most path parameters a template may have (Clerk's spec has at most two).
const MAX_PATH_PARAMS: usize = 4;

/// The values of a path template's parameters, collected by [`Operation::path`].
#[derive(Debug, Default)]
pub struct PathParams<'a> {
    params: [(&'static str, &'a str); MAX_PATH_PARAMS],
    len: usize,
}

impl<'a> PathParams<'a> {
    /// Sets the parameter `name` (as written in the template, without braces) to `value`,
    /// which will be percent-encoded as exactly one path segment: `/`, `?`, `#`, `%` and
    /// everything else outside RFC 3986's unreserved characters is escaped, so no value can
    /// reach another route.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] naming `name` when `value` is empty, `.` or `..` (which a
    /// server or proxy would read as a relative path), or when more than four parameters are
    /// set.
    pub fn set(&mut self, name: &'static str, value: &'a str) -> Result<(), Error> {
        if value.is_empty() {
            return Err(Error::invalid_request(name, "must not be empty"));
        }
        if value == "." || value == ".." {
            return Err(Error::invalid_request(name, "must not be `.` or `..`"));
        }
        let slot = self
            .params
            .get_mut(self.len)
            .ok_or_else(|| Error::invalid_request(name, "too many path parameters"))?;
        *slot = (name, value);
        self.len += 1;
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.params[..self.len]
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// Writes `template` with every `{name}` replaced by its encoded value.
    fn render(&self, template: &'static str, out: &mut String) -> Result<(), Error> {
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| {
                Error::invalid_request("path", "the path template has an unclosed `{`")
            })?;
            let name = &after[..close];
            let value = self.get(name).ok_or_else(|| {
                Error::invalid_request("path", format!("no value for the path parameter {name}"))
            })?;
            out.extend(percent_encoding::utf8_percent_encode(value, SEGMENT));
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(())
    }
}

/// Characters left as they are in a path segment: RFC 3986 unreserved characters. Everything
/// else (`/`, `?`, `#`, `%`, spaces, non-ASCII...) is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Writes a query string (`application/x-www-form-urlencoded`, as Clerk reads it). Only the
/// parameters an operation writes are sent.
///
/// ```
/// use clerk_tower::operation::QueryWriter;
///
/// let mut q = QueryWriter::new();
/// q.opt("limit", Some(20));
/// q.opt("offset", None::<u64>);
/// q.param("paginated", true);
/// q.exploded("user_id", ["user_1", "user_2"]);
/// q.joined("order_by", ["-created_at", "name"]);
/// q.joined("empty", Vec::<String>::new());
/// assert_eq!(q.as_str(), "limit=20&paginated=true&user_id=user_1&user_id=user_2&order_by=-created_at%2Cname");
/// ```
#[derive(Debug, Default)]
pub struct QueryWriter {
    out: String,
    /// The first value that cannot be written (a comma inside a joined array's value).
    refused: Option<Error>,
}

impl QueryWriter {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `name=value`.
    pub fn param(&mut self, name: &str, value: impl Display) {
        if !self.out.is_empty() {
            self.out.push('&');
        }
        self.out
            .extend(form_urlencoded::byte_serialize(name.as_bytes()));
        self.out.push('=');
        // Plain values (numbers, booleans, ids) are written without a temporary string.
        let mut escaper = Escaper(&mut self.out);
        let _ = fmt::write(&mut escaper, format_args!("{value}"));
    }

    /// Appends `name=value` when `value` is set.
    pub fn opt(&mut self, name: &str, value: Option<impl Display>) {
        if let Some(value) = value {
            self.param(name, value);
        }
    }

    /// An array with `explode: true`: `name=a&name=b`. Nothing for an empty array.
    pub fn exploded<I>(&mut self, name: &str, values: I)
    where
        I: IntoIterator,
        I::Item: Display,
    {
        for value in values {
            self.param(name, value);
        }
    }

    /// An array with `explode: false`: `name=a,b` (the comma percent-encoded, as a form
    /// encoder writes it). Nothing for an empty array.
    ///
    /// A value that holds a comma would be read as two by the server, and no encoding tells
    /// it apart from the separator: the array is not written, and the request is refused
    /// before any I/O ([`Error::InvalidRequest`] naming `name`, from
    /// [`Operation::to_request`]; see [`refused`](Self::refused)).
    pub fn joined<I>(&mut self, name: &'static str, values: I)
    where
        I: IntoIterator,
        I::Item: Display,
    {
        let mut joined = String::new();
        let mut any = false;
        for value in values {
            if any {
                joined.push(',');
            }
            any = true;
            let start = joined.len();
            let _ = fmt::write(&mut joined, format_args!("{value}"));
            if joined.get(start..).is_some_and(|v| v.contains(',')) {
                if self.refused.is_none() {
                    self.refused = Some(Error::invalid_request(
                        name,
                        "a value of this comma-separated list holds a comma",
                    ));
                }
                return;
            }
        }
        if any {
            self.param(name, joined);
        }
    }

    /// The first value that could not be written (a comma inside a value of
    /// [`joined`](Self::joined)), as the error the request is refused with.
    pub fn refused(&self) -> Option<&Error> {
        self.refused.as_ref()
    }

    /// The query written so far, without the leading `?`.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }
}

/// Percent-encodes what is written through it, as a form value.
struct Escaper<'a>(&'a mut String);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend(form_urlencoded::byte_serialize(s.as_bytes()));
        Ok(())
    }
}

/// A request body with its media type; the `Content-Type` header comes from here.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum RequestBody {
    /// No body.
    #[default]
    Empty,
    /// `application/json`.
    Json(Bytes),
    /// `multipart/form-data`.
    Multipart(Multipart),
}

impl RequestBody {
    /// A JSON body serialized from `value`.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when `value` cannot be serialized (a map with non-string keys,
    /// for example).
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        serde_json::to_vec(value)
            .map(|body| RequestBody::Json(Bytes::from(body)))
            .map_err(|e| Error::invalid_request("body", e.to_string()))
    }

    /// The bytes to send and their `Content-Type`.
    fn into_parts(self) -> (Bytes, Option<HeaderValue>) {
        match self {
            RequestBody::Empty => (Bytes::new(), None),
            RequestBody::Json(bytes) => (bytes, Some(HeaderValue::from_static("application/json"))),
            RequestBody::Multipart(form) => form.finish(),
        }
    }
}

/// A `multipart/form-data` body (RFC 7578): text fields and files.
///
/// Written by hand: the crates that encode multipart either come with an HTTP client
/// (reqwest) or with their own body and runtime types; a whole form in memory fits this
/// crate's bodies (retries send it again) in some forty lines.
///
/// ```
/// use clerk_tower::operation::Multipart;
///
/// let form = Multipart::new()
///     .text("name", "Acme")
///     .file("file", "logo.png", "image/png", vec![0x89, b'P', b'N', b'G']);
/// ```
#[derive(Debug, Clone)]
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// An empty form with a random boundary.
    pub fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let state = std::collections::hash_map::RandomState::new();
        let mut hasher = state.build_hasher();
        hasher.write_u64(0x636c_6572_6b00);
        let (a, b) = (hasher.finish(), state.build_hasher().finish());
        Self {
            boundary: format!("clerk-tower-{a:016x}{b:016x}"),
            body: Vec::new(),
        }
    }

    /// Adds a text field.
    pub fn text(self, name: &str, value: &str) -> Self {
        self.part(name, None, None, value.as_bytes())
    }

    /// Adds a file field with its file name and media type.
    pub fn file(
        self,
        name: &str,
        file_name: &str,
        content_type: &str,
        data: impl AsRef<[u8]>,
    ) -> Self {
        self.part(name, Some(file_name), Some(content_type), data.as_ref())
    }

    fn part(
        mut self,
        name: &str,
        file_name: Option<&str>,
        content_type: Option<&str>,
        data: &[u8],
    ) -> Self {
        let body = &mut self.body;
        body.extend_from_slice(b"--");
        body.extend_from_slice(self.boundary.as_bytes());
        body.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
        push_quoted(body, name);
        body.push(b'"');
        if let Some(file_name) = file_name {
            body.extend_from_slice(b"; filename=\"");
            push_quoted(body, file_name);
            body.push(b'"');
        }
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = content_type {
            body.extend_from_slice(b"Content-Type: ");
            // A media type is a token; drop anything that could end the header line.
            body.extend(content_type.bytes().filter(|b| !b.is_ascii_control()));
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
        self
    }

    fn finish(mut self) -> (Bytes, Option<HeaderValue>) {
        self.body.extend_from_slice(b"--");
        self.body.extend_from_slice(self.boundary.as_bytes());
        self.body.extend_from_slice(b"--\r\n");
        let content_type =
            HeaderValue::try_from(format!("multipart/form-data; boundary={}", self.boundary)).ok();
        (Bytes::from(self.body), content_type)
    }
}

/// Writes a quoted-string's content as HTML forms do (RFC 7578 section 4.2): `"`, CR and LF
/// percent-encoded, and so is every other ASCII control byte (NUL included), which no
/// quoted-string may hold: a name can never end the header line or the quoted string.
fn push_quoted(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b == b'"' || b.is_ascii_control() {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
        } else {
            out.push(b);
        }
    }
}

/// Turns a 2xx response into an operation's output.
///
/// Implemented for every `serde` type (JSON; an empty body reads as `null`, so `()` and
/// `Option<T>` fit a 202 or 204) and for [`Text`].
pub trait Decode: Sized + Send + 'static {
    /// Decodes `response`.
    ///
    /// # Errors
    /// [`Error::Decode`] when the body does not have the expected shape.
    fn decode(response: HttpResponse) -> Result<Self, Error>;
}

impl<T: DeserializeOwned + Send + 'static> Decode for T {
    fn decode(response: HttpResponse) -> Result<Self, Error> {
        decode_json(response)
    }
}

/// A text or HTML response body, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl Decode for Text {
    fn decode(response: HttpResponse) -> Result<Self, Error> {
        let (parts, body) = response.into_parts();
        let body = body.into_inner().unwrap_or_default();
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Ok(Text(text)),
            Err(e) => Err(Error::Decode(Attempted::with_attempts(
                DecodeError::new(
                    parts.status,
                    format!(
                        "the body is not UTF-8 at byte {}",
                        e.utf8_error().valid_up_to()
                    ),
                    body,
                ),
                attempts(&parts.extensions),
            ))),
        }
    }
}

fn attempts(extensions: &http::Extensions) -> u32 {
    extensions.get::<AttemptCount>().map_or(1, |n| n.0)
}

/// Decodes a 2xx JSON response body into `T`; an empty body reads as `null`.
///
/// The body is checked as UTF-8 once and then parsed from `&str` (faster than letting the JSON
/// parser re-check every string).
///
/// # Errors
/// [`Error::Decode`] with the status, what went wrong and where (never a value from the
/// body), and the body.
pub fn decode_json<T: DeserializeOwned>(response: HttpResponse) -> Result<T, Error> {
    let (parts, body) = response.into_parts();
    let body = body.into_inner().unwrap_or_default();
    let parsed = match std::str::from_utf8(&body) {
        Ok("") => serde_json::from_str("null"),
        Ok(text) => serde_json::from_str(text),
        // Let the JSON parser find the bad byte and report where it is.
        Err(_) => serde_json::from_slice(&body),
    };
    parsed.map_err(|e| {
        Error::Decode(Attempted::with_attempts(
            DecodeError::json(parts.status, &e, body),
            attempts(&parts.extensions),
        ))
    })
}

/// [`Operation::to_request`].
pub(crate) fn to_request<O: Operation>(
    operation: &O,
    options: Option<RequestOptions>,
) -> Result<HttpRequest, Error> {
    to_request_at(operation, options, None)
}

/// [`to_request`], with the URI made absolute on `base` when one is given: for a client with
/// no layer of yours, which no one sees with a relative URI, so that the URI is written and
/// parsed once (the base-URL layer leaves an absolute URI as it is).
pub(crate) fn to_request_at<O: Operation>(
    operation: &O,
    options: Option<RequestOptions>,
    base: Option<&BaseUrlLayer>,
) -> Result<HttpRequest, Error> {
    operation.validate()?;
    let mut query = QueryWriter::new();
    operation.query(&mut query);
    if let Some(refused) = query.refused.take() {
        return Err(refused);
    }
    let template = O::INFO.path_template;
    let constant = query.is_empty() && !template.contains('{');
    let render = |path: &mut String| -> Result<(), Error> {
        if constant {
            path.push_str(template);
        } else {
            let mut params = PathParams::default();
            operation.path(&mut params)?;
            params.render(template, path)?;
        }
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.out);
        }
        Ok(())
    };
    // Exact for a constant path: the URI's bytes then take the string's buffer as it is (a
    // `Bytes` made from a vector with spare capacity allocates a header of its own).
    let capacity = match constant {
        true => template.len(),
        false => template.len() + query.out.len() + 32,
    };
    let uri = match base {
        Some(base) => base.join_with(capacity, render)?,
        // A constant path: the request points at the static string, no buffer to fill.
        None if constant => http::Uri::from_maybe_shared(Bytes::from_static(template.as_bytes()))
            .map_err(unsendable)?,
        None => {
            let mut path = String::with_capacity(capacity);
            render(&mut path)?;
            http::Uri::try_from(path).map_err(unsendable)?
        }
    };
    let (body, content_type) = operation.body()?.into_parts();
    let mut req = http::Request::new(Full::new(body));
    *req.method_mut() = O::INFO.method;
    *req.uri_mut() = uri;
    if let Some(content_type) = content_type {
        req.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    req.extensions_mut().insert(O::INFO);
    if let Some(options) = options {
        req.extensions_mut().insert(options);
    }
    Ok(req)
}

fn unsendable(e: http::uri::InvalidUri) -> Error {
    Error::invalid_request("path", format!("cannot be sent in a URL: {e}"))
}

/// Checks a number against the spec's inclusive range.
///
/// # Errors
/// [`Error::InvalidRequest`] naming `field`.
pub fn check_range<T>(field: &'static str, value: Option<T>, min: T, max: T) -> Result<(), Error>
where
    T: PartialOrd + Display + Copy,
{
    match value {
        Some(v) if v < min || v > max => Err(Error::invalid_request(
            field,
            format!("must be between {min} and {max}, got {v}"),
        )),
        _ => Ok(()),
    }
}

/// Checks that a number is finite: JSON has no NaN or infinity (serde_json would send `null`,
/// which Clerk reads as "no value").
///
/// ```
/// use clerk_tower::operation::check_finite;
///
/// assert!(check_finite("seconds_until_expiration", Some(60.0)).is_ok());
/// assert!(check_finite("seconds_until_expiration", None).is_ok());
/// for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
///     assert!(check_finite("seconds_until_expiration", Some(bad)).is_err());
/// }
/// ```
///
/// # Errors
/// [`Error::InvalidRequest`] naming `field`.
pub fn check_finite(field: &'static str, value: Option<f64>) -> Result<(), Error> {
    match value {
        Some(v) if !v.is_finite() => Err(Error::invalid_request(
            field,
            "must be a finite number (not NaN or an infinity)",
        )),
        _ => Ok(()),
    }
}

/// Checks that a string is not empty once trimmed.
///
/// # Errors
/// [`Error::InvalidRequest`] naming `field`.
pub fn check_not_blank(field: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid_request(field, "must not be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Two<'s>(&'s str, &'s str);

    #[test]
    fn templates_are_filled_with_encoded_segments() {
        let cases = [
            ("alid_123", "/x/alid_123"),
            ("a/b", "/x/a%2Fb"),
            ("a?b#c", "/x/a%3Fb%23c"),
            ("100%", "/x/100%25"),
            ("a b", "/x/a%20b"),
            ("../admin", "/x/..%2Fadmin"),
            ("a..b", "/x/a..b"),
            ("é", "/x/%C3%A9"),
            ("~-_.", "/x/~-_."),
        ];
        for (id, want) in cases {
            let mut params = PathParams::default();
            params.set("id", id).unwrap();
            let mut out = String::new();
            params.render("/x/{id}", &mut out).unwrap();
            assert_eq!(out, want, "{id:?}");
        }
        for bad in ["", ".", ".."] {
            let mut params = PathParams::default();
            assert!(matches!(
                params.set("identifier_id", bad),
                Err(Error::InvalidRequest(e)) if e.field() == "identifier_id"
            ));
        }
        let pair = Two("org_1", "user_2");
        let mut params = PathParams::default();
        params.set("user_id", pair.1).unwrap();
        params.set("organization_id", pair.0).unwrap();
        let mut out = String::new();
        params
            .render(
                "/organizations/{organization_id}/memberships/{user_id}",
                &mut out,
            )
            .unwrap();
        assert_eq!(out, "/organizations/org_1/memberships/user_2");
        let missing = PathParams::default().render("/x/{id}", &mut String::new());
        assert!(matches!(missing, Err(Error::InvalidRequest(_))));
        let mut full = PathParams::default();
        for name in ["a", "b", "c", "d"] {
            full.set(name, "v").unwrap();
        }
        assert!(full.set("e", "v").is_err(), "a fifth parameter is refused");
    }

    #[test]
    fn queries_send_only_what_is_set() {
        let mut q = QueryWriter::new();
        q.opt("a", None::<u32>);
        q.exploded("b", Vec::<u32>::new());
        assert!(q.is_empty());
        q.param("q", "a b&c=d+é");
        q.joined("ids", ["x", "y", "z"]);
        assert_eq!(q.as_str(), "q=a+b%26c%3Dd%2B%C3%A9&ids=x%2Cy%2Cz");
        assert!(q.refused().is_none());
        // A comma inside a value would split it in two on the server: refused, not written.
        q.joined("split", ["", "x,y", "z"]);
        assert_eq!(q.as_str(), "q=a+b%26c%3Dd%2B%C3%A9&ids=x%2Cy%2Cz");
        assert!(matches!(q.refused(), Some(Error::InvalidRequest(e)) if e.field() == "split"));
    }

    #[test]
    fn multipart_bodies_are_well_formed() {
        let form = Multipart::new().text("na\"me", "v\r\nalue").file(
            "file",
            "a\".png",
            "image/png\r\nX: y",
            b"\x00\x01",
        );
        let boundary = form.boundary.clone();
        let (body, content_type) = form.finish();
        let content_type = content_type.unwrap();
        assert_eq!(
            content_type.to_str().unwrap(),
            format!("multipart/form-data; boundary={boundary}")
        );
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"na%22me\""));
        assert!(text.contains("filename=\"a%22.png\""));
        assert!(text.contains("Content-Type: image/pngX: y\r\n"));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert_ne!(Multipart::new().boundary, Multipart::new().boundary);
    }

    #[test]
    fn idempotency_follows_the_method() {
        assert!(OperationInfo::get("a", "/a").idempotent);
        assert!(OperationInfo::delete("a", "/a").idempotent);
        assert!(OperationInfo::put("a", "/a").idempotent);
        assert!(!OperationInfo::post("a", "/a").idempotent);
        assert!(!OperationInfo::patch("a", "/a").idempotent);
        assert!(OperationInfo::post("a", "/a").idempotent(true).idempotent);
        assert_eq!(OperationInfo::patch("a", "/a").method, Method::PATCH);
    }

    #[test]
    fn empty_bodies_decode_as_null() {
        let mut res = HttpResponse::new(Full::new(Bytes::new()));
        *res.status_mut() = http::StatusCode::NO_CONTENT;
        let unit: () = decode_json(res).unwrap();
        assert_eq!(unit, ());
        let res = HttpResponse::new(Full::new(Bytes::from_static(b"<p>hi</p>")));
        assert_eq!(Text::decode(res).unwrap(), Text("<p>hi</p>".into()));
        let res = HttpResponse::new(Full::new(Bytes::from_static(b"\xff")));
        assert!(matches!(Text::decode(res), Err(Error::Decode(_))));
    }
}
